package outbox

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"path/filepath"
	"testing"
	"time"

	"certdesk/app/server/store"
)

type flaky struct{ fails int }

func (f *flaky) Send(ctx context.Context, m *Outgoing) error {
	if f.fails > 0 {
		f.fails--
		return errors.New("gateway timeout")
	}
	return nil
}

func TestWorkerRetriesWithBackoff(t *testing.T) {
	ctx := context.Background()
	st, err := store.Open(ctx, filepath.Join(t.TempDir(), "o.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	now := time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC)
	if err := st.InTx(ctx, func(tx *store.Tx) error {
		return tx.Enqueue(ctx, &store.Message{ID: store.NewID(), Channel: "sms", Recipient: "13800138000", Subject: "s", Body: "b", CreatedAt: now})
	}); err != nil {
		t.Fatal(err)
	}
	prov := &flaky{fails: 2}
	w := &Worker{Store: st, Provider: prov, Log: slog.New(slog.NewTextHandler(io.Discard, nil)), Now: func() time.Time { return now }}
	if n, _ := w.Once(ctx); n != 0 {
		t.Fatalf("sent %d on a failing gateway", n)
	}
	// Not due again until the backoff has passed.
	now = now.Add(5 * time.Second)
	if n, _ := w.Once(ctx); n != 0 || prov.fails != 1 {
		t.Fatalf("retried before the backoff: sent %d, fails left %d", n, prov.fails)
	}
	now = now.Add(Backoff(0))
	w.Once(ctx) // second failure
	now = now.Add(Backoff(1))
	if n, _ := w.Once(ctx); n != 1 {
		t.Fatalf("not delivered after the gateway recovered: %d", n)
	}
	msgs, _ := st.Messages(ctx, "", 10)
	if len(msgs) != 1 || msgs[0].SentAt.IsZero() || msgs[0].Attempts != 3 || msgs[0].LastError != "" {
		t.Fatalf("message: %+v", msgs[0])
	}
	if Backoff(0) != 10*time.Second || Backoff(1) != 20*time.Second || Backoff(20) != time.Hour {
		t.Fatalf("backoff: %v %v %v", Backoff(0), Backoff(1), Backoff(20))
	}
}
