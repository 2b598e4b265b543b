package appsync

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"time"

	"certdesk/app/api"
	"certdesk/app/apply"
	"certdesk/app/client"
)

// EventKind says what happened.
type EventKind string

const (
	Online       EventKind = "online"
	Offline      EventKind = "offline"
	StatusChange EventKind = "status"   // an application's state changed on the server
	DraftSent    EventKind = "draft"    // an autosaved draft reached the server
	UploadDone   EventKind = "uploaded" // a queued material was accepted
	UploadFailed EventKind = "upload_failed"
	Conflict     EventKind = "conflict"      // an unsent edit the application's state no longer takes
	DraftUnsent  EventKind = "draft_unsent"  // a saved edit could not be sent (offline): kept, sent later
	DraftRefused EventKind = "draft_refused" // the server refused a field of the draft: Err is its *api.Error
)

// Event is one thing the UI should know.
type Event struct {
	Kind  EventKind
	AppID string
	State apply.State
	Err   error
	// Type is the material of an UploadDone or UploadFailed.
	Type apply.MaterialType
}

// Loop pushes local work to the server and pulls statuses.
type Loop struct {
	Store    *Store
	Client   *client.Client
	Log      *slog.Logger
	Interval time.Duration // between rounds when online; default 5 s
	MaxWait  time.Duration // the longest offline backoff; default 60 s
	Events   chan Event    // buffered by the caller; events are dropped when full

	mu     sync.Mutex
	active map[string]bool // uploads being sent now (Upload and Round never send one twice at once)
	kick   chan struct{}   // a new local edit: run a round now
}

func (l *Loop) kicks() chan struct{} {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.kick == nil {
		l.kick = make(chan struct{}, 1)
	}
	return l.kick
}

// Kick asks Run for a round now rather than at the next interval.
func (l *Loop) Kick() {
	select {
	case l.kicks() <- struct{}{}:
	default: // one is pending already
	}
}

// SaveDraft is the form's autosave: the edit lands in the local store
// (so a crash, a closed window or a dropped connection loses nothing) and
// the loop sends it at once, or when the server is back.
func (l *Loop) SaveDraft(ctx context.Context, appID string, kind apply.Kind, form apply.Values) error {
	if err := l.Store.SaveDraft(ctx, appID, kind, form); err != nil {
		return fmt.Errorf("save draft locally: %w", err)
	}
	l.Kick()
	return nil
}

// DropDraft forgets an application's local draft (the server has the
// form as submitted).
func (l *Loop) DropDraft(ctx context.Context, appID string) error {
	return l.Store.DropDraft(ctx, appID)
}

// Draft is the local copy of an application's form (nil when none).
func (l *Loop) Draft(ctx context.Context, appID string) (*Draft, error) {
	return l.Store.Draft(ctx, appID)
}

// claim marks upload id as being sent; false when it already is.
func (l *Loop) claim(id string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.active[id] {
		return false
	}
	if l.active == nil {
		l.active = map[string]bool{}
	}
	l.active[id] = true
	return true
}

func (l *Loop) release(id string) {
	l.mu.Lock()
	delete(l.active, id)
	l.mu.Unlock()
}

func (l *Loop) emit(e Event) {
	if l.Events == nil {
		return
	}
	select {
	case l.Events <- e:
	default:
	}
}

// Run syncs until ctx ends.
func (l *Loop) Run(ctx context.Context) {
	if l.Interval == 0 {
		l.Interval = 5 * time.Second
	}
	if l.MaxWait == 0 {
		l.MaxWait = time.Minute
	}
	if l.Log == nil {
		l.Log = slog.Default()
	}
	online := true
	wait := l.Interval
	for {
		err := l.Round(ctx)
		switch {
		case ctx.Err() != nil:
			return
		case errors.Is(err, client.ErrNetwork):
			if online {
				online = false
				l.emit(Event{Kind: Offline, Err: err})
			}
			wait = min(max(wait*2, time.Second), l.MaxWait)
		default:
			if !online {
				online = true
				l.emit(Event{Kind: Online})
			}
			wait = l.Interval
			if err != nil {
				l.Log.Warn("sync", "err", err)
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(wait):
		case <-l.kicks():
		}
	}
}

// Round does one pass: drafts, uploads, statuses. A network error ends
// the pass early (the caller backs off); other errors are per item.
func (l *Loop) Round(ctx context.Context) error {
	drafts, err := l.Store.dirtyDrafts(ctx)
	if err != nil {
		return err
	}
	for _, d := range drafts {
		_, err := l.Client.UpdateForm(ctx, d.AppID, api.UpdateFormRequest{Form: d.Form})
		var ae *api.Error
		switch {
		case errors.Is(err, client.ErrNetwork):
			l.emit(Event{Kind: DraftUnsent, AppID: d.AppID, Err: err})
			return err
		case errors.As(err, &ae) && (ae.Code == api.CodeStateNotAllowed || ae.Code == api.CodeNotFound):
			// The server wins for state: the edit can no longer apply.
			if err := l.Store.markSent(ctx, d); err != nil {
				return err
			}
			l.emit(Event{Kind: Conflict, AppID: d.AppID, Err: err})
		case errors.As(err, &ae) && ae.Code == api.CodeValidation:
			// A field the server does not take: kept with its answer for
			// the form to show beside the field, not sent again as it is.
			if err := l.Store.markRefused(ctx, d, ae); err != nil {
				return err
			}
			l.emit(Event{Kind: DraftRefused, AppID: d.AppID, Err: ae})
		case err != nil:
			l.Log.Warn("push draft", "app", d.AppID, "err", err)
		default:
			if err := l.Store.markSent(ctx, d); err != nil {
				return err
			}
			l.emit(Event{Kind: DraftSent, AppID: d.AppID})
		}
	}
	qs, err := l.Store.queued(ctx, "queued")
	if err != nil {
		return err
	}
	for _, q := range qs {
		if err := l.push(ctx, q, nil); errors.Is(err, client.ErrNetwork) {
			return err
		}
	}
	sums, err := l.Client.Applications(ctx)
	if err != nil {
		if errors.Is(err, client.ErrNetwork) {
			return err
		}
		return nil // logged out, say: nothing to pull
	}
	for _, sm := range sums {
		old, _ := l.Store.status(ctx, sm.ID)
		if old == nil || old.State != sm.State {
			if err := l.Store.setStatus(ctx, Status{AppID: sm.ID, State: sm.State, Subject: sm.Subject, UpdatedAt: sm.UpdatedAt}); err != nil {
				return fmt.Errorf("record status of %s: %w", sm.ID, err)
			}
			if old != nil {
				l.emit(Event{Kind: StatusChange, AppID: sm.ID, State: sm.State})
			}
		}
	}
	return nil
}

// ErrQueued: the material is in the local upload queue but could not be
// sent now (no connection); the loop sends it when the server can be
// reached. It wraps the network error.
var ErrQueued = errors.New("saved in the upload queue: sent when the server can be reached")

// Send is the one way a screen uploads a material: the bytes go to the
// local queue first (so a crash or a dropped connection never loses them),
// then straight to the server with progress, from the bytes in hand. It
// returns nil when the server has the material, an error wrapping ErrQueued
// when it is queued for later, or the server's refusal as it came
// (*api.Error, both languages), which also marks the queued copy failed.
func (l *Loop) Send(ctx context.Context, appID string, t apply.MaterialType, fileName string, data []byte, progress func(client.Progress)) error {
	id := appID + "-" + string(t) + "-" + client.NewIdempotencyKey()[:12]
	// Claimed before it is visible in the queue: a round running now must
	// not start sending it too.
	l.claim(id)
	defer l.release(id)
	if err := l.Store.Enqueue(ctx, id, appID, t, fileName, data, client.NewIdempotencyKey()); err != nil {
		return fmt.Errorf("queue the material: %w", err)
	}
	q, err := l.Store.queuedOne(ctx, id)
	if err != nil {
		return err
	}
	err = l.send(ctx, q, data, progress)
	if errors.Is(err, client.ErrNetwork) {
		return fmt.Errorf("%w: %w", ErrQueued, err)
	}
	return err
}

// push sends a queued upload found by a round, unless someone is sending
// it already.
func (l *Loop) push(ctx context.Context, q *Queued, progress func(client.Progress)) error {
	if !l.claim(q.ID) {
		return nil // being sent by the other caller
	}
	defer l.release(q.ID)
	data, err := l.Store.queuedData(q.ID)
	if err != nil {
		q.State, q.Error, q.ErrorEN = "failed", "本机排队的文件副本丢失,请重新选择该文件", "the queued copy is missing: choose the file again"
		if err := l.Store.setUpload(ctx, q); err != nil {
			l.Log.Warn("mark queued upload failed", "id", q.ID, "err", err)
		}
		l.emit(Event{Kind: UploadFailed, AppID: q.AppID, Type: q.Type, Err: err})
		return nil
	}
	if err := l.send(ctx, q, data, progress); err != nil && (errors.Is(err, client.ErrNetwork) || errors.Is(err, context.Canceled)) {
		return err
	}
	return nil // a refusal is recorded on the item and in an event
}

// send uploads q's data (claimed by the caller): creates the server's
// upload once, resumes it from the server's offset, and records the end.
func (l *Loop) send(ctx context.Context, q *Queued, data []byte, progress func(client.Progress)) error {
	if q.UploadID == "" {
		u, err := l.Client.StartUpload(ctx, q.AppID, q.Type, q.FileName, data, "", q.IdemKey)
		if err != nil {
			return l.uploadErr(ctx, q, err)
		}
		q.UploadID = u.ID
		if err := l.Store.setUpload(ctx, q); err != nil {
			return err
		}
	}
	u := &client.Upload{ID: q.UploadID, AppID: q.AppID, Type: q.Type, Total: int64(len(data))}
	if _, err := l.Client.Resume(ctx, u, data, progress); err != nil {
		return l.uploadErr(ctx, q, err)
	}
	q.State, q.Error, q.ErrorEN = "done", "", ""
	if err := l.Store.setUpload(ctx, q); err != nil {
		return err
	}
	os.Remove(filepath.Join(l.Store.dir, "queue", q.ID))
	l.emit(Event{Kind: UploadDone, AppID: q.AppID, Type: q.Type})
	return nil
}

// uploadErr keeps a queued upload for the next round on a network error,
// and fails it on an answer (a refused material needs the user); the
// answer is returned as it came.
func (l *Loop) uploadErr(ctx context.Context, q *Queued, err error) error {
	if errors.Is(err, client.ErrNetwork) || errors.Is(err, context.Canceled) {
		return err
	}
	var ae *api.Error
	if errors.As(err, &ae) {
		q.Error, q.ErrorEN = ae.MessageZH, ae.MessageEN
		for _, f := range ae.Fields {
			q.Error += ";" + f.MessageZH
			q.ErrorEN += "; " + f.MessageEN
		}
	} else {
		q.Error, q.ErrorEN = err.Error(), err.Error()
	}
	q.State = "failed"
	if serr := l.Store.setUpload(ctx, q); serr != nil {
		return serr
	}
	l.emit(Event{Kind: UploadFailed, AppID: q.AppID, Type: q.Type, Err: err})
	return err
}
