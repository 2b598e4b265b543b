package ui

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"fyne.io/fyne/v2"

	"certdesk/app/api"
	"certdesk/app/apply"
	"certdesk/app/client"
	appsync "certdesk/app/sync"
)

// A journey step is a small struct built from a stepEnv (what every step
// gets from the journey) and the interfaces for the server calls it makes;
// it returns its canvas object and never sees the journey itself. The
// journey only chooses the step for the application's state.
// *client.Client implements every server interface; the steps' logic
// tests use their own.

// stepEnv is what the journey gives the step on screen.
type stepEnv struct {
	ctx   context.Context // ends when the step leaves the screen
	app   *api.Application
	lang  apply.Lang
	log   *slog.Logger
	win   fyne.Window
	clock Clock
	every time.Duration // how often a waiting step asks the server
	// called is told after each server call whose result reached the
	// screen (tests wait on it).
	called func()
	// say writes the journey's status line.
	say func(string)
	// moveOn reloads the application and shows the step it is at, with
	// a note saying what just happened ("" for none).
	moveOn func(note string)
	// show shows the application as a call returned it.
	show func(*api.Application)
	// print writes the acceptance form again and opens it to print.
	print func()
}

func (e stepEnv) appID() string { return e.app.ID }

// Clock is the time as a waiting step sees it.
type Clock interface {
	Now() time.Time
	After(d time.Duration) <-chan time.Time
}

type systemClock struct{}

func (systemClock) Now() time.Time                         { return time.Now() }
func (systemClock) After(d time.Duration) <-chan time.Time { return time.After(d) }

// poll calls check at once, then `every` after each call returns, until
// check says done or ctx ends. It is the one waiting loop of the steps
// (identity, payment, review, the countdown).
func poll(ctx context.Context, clk Clock, every time.Duration, check func(context.Context) (done bool)) {
	for ctx.Err() == nil {
		if check(ctx) {
			return
		}
		select {
		case <-ctx.Done():
			return
		case <-clk.After(every):
		}
	}
}

// appReader reads an application (the review step's wait).
type appReader interface {
	Application(ctx context.Context, id string) (*api.Application, error)
}

// eventSender posts an applicant's event (resubmit after a rejection).
type eventSender interface {
	Event(ctx context.Context, id string, req api.EventRequest) (*api.Application, error)
}

// materialSender sends a material's file: nil when the server has it,
// an error wrapping appsync.ErrQueued when it waits in the local queue,
// the server's refusal otherwise. *appsync.Loop is one; directSender is
// the other when there is no local store.
type materialSender interface {
	Send(ctx context.Context, appID string, t apply.MaterialType, name string, data []byte, progress func(client.Progress)) error
}

// directSender uploads straight to the server (no local queue: tests and
// the preview build).
type directSender struct{ c *client.Client }

func (d directSender) Send(ctx context.Context, appID string, t apply.MaterialType, name string, data []byte, progress func(client.Progress)) error {
	_, err := d.c.UploadMaterial(ctx, appID, t, name, data, progress)
	return err
}

// queued says err only means the file waits in the local queue.
func queued(err error) bool { return errors.Is(err, appsync.ErrQueued) }

// background runs do off the UI thread; on it, hands the result to ok or
// the error, in words, to fail (nil: ignored), then tells env.called: the
// one shape of every step's server call.
func background[T any](env stepEnv, do func(ctx context.Context) (T, error), fail func(msg string), ok func(T)) {
	go func() {
		v, err := do(env.ctx)
		onUI(func() {
			switch {
			case err == nil:
				ok(v)
			case fail != nil:
				fail(explain(err, env.lang))
			}
			env.called()
		})
	}()
}
