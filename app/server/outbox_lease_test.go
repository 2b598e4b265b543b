package server

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"certdesk/app/server/outbox"
	"certdesk/app/server/store"
)

type countingProvider struct {
	mu   sync.Mutex
	sent map[string]int
}

func (p *countingProvider) Send(_ context.Context, m *outbox.Outgoing) error {
	p.mu.Lock()
	p.sent[m.ID]++
	p.mu.Unlock()
	time.Sleep(time.Millisecond) // a gateway takes a while: the workers overlap
	return nil
}

// TestOutboxSendsEachOnceAcrossInstances: three workers on three
// connections to one database (three server instances) drain one outbox
// together and send every message exactly once; a message leased by an
// instance that died is sent by another once the lease runs out.
func TestOutboxSendsEachOnceAcrossInstances(t *testing.T) {
	for name, dsn := range engines(t) {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			if dsn == "" {
				dsn = filepath.Join(t.TempDir(), "o.db")
			}
			var stores []*store.Store
			for i := 0; i < 3; i++ {
				st, err := store.Open(ctx, dsn) // three instances migrating at once: the lock takes turns
				if err != nil {
					t.Fatal(err)
				}
				defer st.Close()
				stores = append(stores, st)
			}
			now := time.Now()
			const n = 150
			for i := 0; i < n; i++ {
				m := &store.Message{ID: fmt.Sprintf("m%03d", i), Channel: "sms", Recipient: "13800138000", Subject: "status:paid", Body: "b", CreatedAt: now}
				if err := stores[0].InTx(ctx, func(tx *store.Tx) error { return tx.Enqueue(ctx, m) }); err != nil {
					t.Fatal(err)
				}
			}
			prov := &countingProvider{sent: map[string]int{}}
			log := slog.New(slog.NewTextHandler(io.Discard, nil))
			var wg sync.WaitGroup
			for _, st := range stores {
				w := &outbox.Worker{Store: st, Provider: prov, Log: log, Now: time.Now}
				wg.Add(1)
				go func() {
					defer wg.Done()
					for i := 0; i < 20; i++ {
						if _, err := w.Once(ctx); err != nil {
							t.Error(err)
							return
						}
					}
				}()
			}
			wg.Wait()
			if len(prov.sent) != n {
				t.Fatalf("%d of %d messages sent", len(prov.sent), n)
			}
			for id, k := range prov.sent {
				if k != 1 {
					t.Fatalf("%s sent %d times", id, k)
				}
			}

			// An instance claims a message and dies before sending it.
			m := &store.Message{ID: "orphan", Channel: "sms", Recipient: "13800138000", Subject: "status:paid", Body: "b", CreatedAt: now}
			_ = stores[0].InTx(ctx, func(tx *store.Tx) error { return tx.Enqueue(ctx, m) })
			if got, err := stores[0].ClaimDue(ctx, "dead-instance", time.Now(), outbox.Lease, 10); err != nil || len(got) != 1 {
				t.Fatalf("claim: %v %v", got, err)
			}
			clock := time.Now()
			w := &outbox.Worker{Store: stores[1], Provider: prov, Log: log, Now: func() time.Time { return clock }}
			if sent, _ := w.Once(ctx); sent != 0 {
				t.Fatal("a leased message was taken before its lease ran out")
			}
			clock = clock.Add(outbox.Lease + time.Second)
			if sent, _ := w.Once(ctx); sent != 1 || prov.sent["orphan"] != 1 {
				t.Fatalf("the orphan after its lease: sent %d, count %d", sent, prov.sent["orphan"])
			}
		})
	}
}
