// Package outbox delivers the notifications that state changes queue in
// the same transaction (SMS to the handler, email for the e-invoice): a
// worker polls for due messages, hands them to a Provider, and retries
// failures with exponential backoff.
package outbox

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"log/slog"
	"time"

	"certdesk/app/server/store"
)

// Provider sends one message. A real deployment plugs in its SMS gateway
// and mail server (Router sends each channel to its own); Log is the
// development provider.
type Provider interface {
	Send(ctx context.Context, m *Outgoing) error
}

// Outgoing is a message as it leaves: the stored message and the files
// made for it at sending time (the e-invoice PDF).
type Outgoing struct {
	*store.Message
	Attachments []Attachment
}

// Attachment is one file of an e-mail.
type Attachment struct {
	Name        string
	ContentType string
	Data        []byte
}

// Router sends SMS to SMS and e-mail to Email; a channel without a
// provider goes to Fallback (the log, in development).
type Router struct {
	SMS, Email, Fallback Provider
}

// Send picks the channel's provider.
func (r Router) Send(ctx context.Context, m *Outgoing) error {
	p := r.Fallback
	switch {
	case m.Channel == "sms" && r.SMS != nil:
		p = r.SMS
	case m.Channel == "email" && r.Email != nil:
		p = r.Email
	}
	if p == nil {
		return fmt.Errorf("no provider for channel %q", m.Channel)
	}
	return p.Send(ctx, m)
}

// Log is the development provider: it writes each message to the log, and
// `certdesk-server outbox` shows them from the database.
type Log struct{ Logger *slog.Logger }

// Send logs the message. The body may hold a download code, so it is
// logged only at debug level.
func (l Log) Send(ctx context.Context, m *Outgoing) error {
	l.Logger.InfoContext(ctx, "outbox: delivered", "channel", m.Channel, "id", m.ID, "application", m.ApplicationID, "subject", m.Subject, "attachments", len(m.Attachments))
	l.Logger.DebugContext(ctx, "outbox: body", "id", m.ID, "body", m.Body)
	return nil
}

// Worker delivers due messages.
type Worker struct {
	Store    *store.Store
	Provider Provider
	Log      *slog.Logger
	Interval time.Duration
	Now      func() time.Time
	// Attach makes a message's files when it is sent (nil: none). A
	// failure is a failed attempt, retried as a gateway's is.
	Attach func(ctx context.Context, m *store.Message) ([]Attachment, error)

	// Lease overrides the default Lease (how long a dead instance's
	// messages wait before another instance sends them).
	Lease time.Duration
	owner string // this worker's lease name, made at its first run
}

// Lease is how long a worker holds the messages it claimed: far longer
// than a send takes; when a worker's instance dies, another takes its
// messages over once it runs out. A message the dead instance had handed
// to a gateway but not marked sent is sent again then: delivery is at
// least once, and the e-mail's Message-ID and the SMS's OutId are the
// message's own, for a receiver that drops duplicates.
const Lease = time.Minute

// Backoff is the wait after the n-th failed attempt: 10 s doubling, at most
// an hour.
func Backoff(n int) time.Duration {
	d := 10 * time.Second << min(n, 9)
	return min(d, time.Hour)
}

// Run delivers until ctx ends.
func (w *Worker) Run(ctx context.Context) {
	if w.Interval == 0 {
		w.Interval = time.Second
	}
	if w.Now == nil {
		w.Now = time.Now
	}
	t := time.NewTicker(w.Interval)
	defer t.Stop()
	for {
		if _, err := w.Once(ctx); err != nil && ctx.Err() == nil {
			w.Log.WarnContext(ctx, "outbox", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// Once delivers what is due now and returns how many were sent.
func (w *Worker) Once(ctx context.Context) (int, error) {
	if w.owner == "" {
		var b [8]byte
		_, _ = rand.Read(b[:])
		w.owner = hex.EncodeToString(b[:])
	}
	lease := w.Lease
	if lease <= 0 {
		lease = Lease
	}
	msgs, err := w.Store.ClaimDue(ctx, w.owner, w.Now(), lease, 100)
	if err != nil {
		return 0, fmt.Errorf("due messages: %w", err)
	}
	sent := 0
	for _, m := range msgs {
		out := &Outgoing{Message: m}
		var err error
		if w.Attach != nil {
			out.Attachments, err = w.Attach(ctx, m)
		}
		if err == nil {
			err = w.Provider.Send(ctx, out)
		}
		if err != nil {
			next := w.Now().Add(Backoff(m.Attempts))
			if merr := w.Store.MarkFailed(ctx, m.ID, w.owner, err.Error(), next); merr != nil {
				return sent, merr
			}
			continue
		}
		if err := w.Store.MarkSent(ctx, m.ID, w.owner, w.Now()); err != nil {
			return sent, err
		}
		sent++
	}
	return sent, nil
}
