package store

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"certdesk/app/apply"
	"certdesk/app/server/store/pgtest"
)

var cluster *pgtest.Cluster

func TestMain(m *testing.M) {
	var err error
	cluster, err = pgtest.Start()
	if err != nil {
		fmt.Fprintln(os.Stderr, "postgres:", err)
		if os.Getenv("CI") != "" {
			os.Exit(1) // CI installs postgresql: its absence is a failure there
		}
	}
	code := m.Run()
	if cluster != nil {
		cluster.Stop()
	}
	os.Exit(code)
}

// forEachEngine runs the test against SQLite and PostgreSQL.
func forEachEngine(t *testing.T, fn func(t *testing.T, s *Store)) {
	t.Run("sqlite", func(t *testing.T) {
		s, err := Open(context.Background(), filepath.Join(t.TempDir(), "certdesk.db"))
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		fn(t, s)
	})
	t.Run("postgres", func(t *testing.T) {
		if cluster == nil {
			t.Skip("PostgreSQL not installed")
		}
		dsn, err := cluster.NewDatabase(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		s, err := Open(context.Background(), dsn)
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		fn(t, s)
	})
}

var t0 = time.Date(2026, 11, 25, 9, 0, 0, 0, time.UTC)

func newAccount(t *testing.T, s *Store, mobile string) *Account {
	t.Helper()
	a := &Account{ID: NewID(), Mobile: mobile, PasswordHash: "h", Role: "applicant", CreatedAt: t0}
	if err := s.InTx(context.Background(), func(tx *Tx) error { return tx.CreateAccount(context.Background(), a) }); err != nil {
		t.Fatal(err)
	}
	return a
}

func TestAccountsAndSessions(t *testing.T) {
	forEachEngine(t, func(t *testing.T, s *Store) {
		ctx := context.Background()
		a := newAccount(t, s, "13800138000")
		dup := &Account{ID: NewID(), Mobile: "13800138000", PasswordHash: "h", Role: "applicant", CreatedAt: t0}
		err := s.InTx(ctx, func(tx *Tx) error { return tx.CreateAccount(ctx, dup) })
		var ce *ConflictError
		if !errors.As(err, &ce) || ce.Column != "mobile" || !errors.Is(err, ErrConflict) {
			t.Fatalf("duplicate mobile: %v", err)
		}
		// Two accounts without email must not collide on the empty email.
		newAccount(t, s, "13900139000")
		got, err := s.AccountByLogin(ctx, "13800138000")
		if err != nil || got.ID != a.ID || got.Email != "" || !got.CreatedAt.Equal(t0) {
			t.Fatalf("by login: %+v %v", got, err)
		}
		if _, err := s.AccountByLogin(ctx, "nobody"); !errors.Is(err, ErrNotFound) {
			t.Fatalf("unknown login: %v", err)
		}
		if err := s.InTx(ctx, func(tx *Tx) error { return tx.CreateSession(ctx, "hash1", a.ID, t0, t0.Add(time.Hour), "") }); err != nil {
			t.Fatal(err)
		}
		if acc, _, err := s.SessionAccount(ctx, "hash1", t0.Add(time.Minute)); err != nil || acc.ID != a.ID {
			t.Fatalf("session: %v", err)
		}
		if _, _, err := s.SessionAccount(ctx, "hash1", t0.Add(2*time.Hour)); !errors.Is(err, ErrNotFound) {
			t.Fatalf("expired session accepted: %v", err)
		}
		if err := s.InTx(ctx, func(tx *Tx) error { return tx.SetDisabled(ctx, a.ID, true) }); err != nil {
			t.Fatal(err)
		}
		if _, _, err := s.SessionAccount(ctx, "hash1", t0.Add(time.Minute)); !errors.Is(err, ErrNotFound) {
			t.Fatalf("disabled account's session accepted: %v", err)
		}
	})
}

func TestApplicationLifecycleAndUsernameUnique(t *testing.T) {
	forEachEngine(t, func(t *testing.T, s *Store) {
		ctx := context.Background()
		owner := newAccount(t, s, "13800138000")
		mk := func(username string) (*Application, error) {
			a := &Application{ID: NewID(), OwnerID: owner.ID, Kind: apply.KindOrg, State: apply.StateDraft,
				Form: apply.Values{apply.FOrgName: "福州示例软件有限公司"}, Username: username, Subject: "福州示例软件有限公司",
				AgreementVersion: "v1", AgreementAt: t0, CreatedAt: t0, UpdatedAt: t0}
			err := s.InTx(ctx, func(tx *Tx) error {
				return tx.CreateApplication(ctx, a, apply.HistoryEntry{To: apply.StateDraft, Event: "create", Actor: apply.ActorApplicant, ActorID: owner.ID, At: t0})
			})
			return a, err
		}
		a, err := mk("zhsoft01")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := mk("zhsoft01"); !errors.Is(err, ErrConflict) {
			t.Fatalf("duplicate username: %v", err)
		}
		if _, err := mk(""); err != nil {
			t.Fatalf("a second draft without username: %v", err)
		}
		// A step: state, form and history together.
		err = s.InTx(ctx, func(tx *Tx) error {
			cur, err := tx.Application(ctx, a.ID)
			if err != nil {
				return err
			}
			to, h, err := apply.Step(cur.State, apply.EvSubmit, apply.ActorApplicant, owner.ID, t0.Add(time.Minute), "")
			if err != nil {
				return err
			}
			cur.State, cur.UpdatedAt = to, t0.Add(time.Minute)
			if err := tx.SaveApplication(ctx, cur); err != nil {
				return err
			}
			if err := tx.AppendHistory(ctx, a.ID, h); err != nil {
				return err
			}
			return tx.Enqueue(ctx, &Message{ID: NewID(), ApplicationID: a.ID, Channel: "sms", Recipient: "13800138000", Subject: "s", Body: "b", CreatedAt: t0})
		})
		if err != nil {
			t.Fatal(err)
		}
		got, _ := s.Application(ctx, a.ID)
		hist, _ := s.History(ctx, a.ID)
		msgs, _ := s.Messages(ctx, a.ID, 10)
		if got.State != apply.StateSubmitted || got.Version != 2 || len(hist) != 2 || hist[1].Event != apply.EvSubmit || len(msgs) != 1 {
			t.Fatalf("after step: %+v hist %d msgs %d", got, len(hist), len(msgs))
		}
		// A stale write is refused, and a failed transaction leaves nothing.
		stale := *a
		stale.State = apply.StateCancelled
		err = s.InTx(ctx, func(tx *Tx) error {
			if err := tx.Enqueue(ctx, &Message{ID: NewID(), ApplicationID: a.ID, Channel: "sms", Recipient: "x", Subject: "s", Body: "b", CreatedAt: t0}); err != nil {
				return err
			}
			return tx.SaveApplication(ctx, &stale)
		})
		if !errors.Is(err, ErrStale) {
			t.Fatalf("stale save: %v", err)
		}
		if msgs, _ := s.Messages(ctx, a.ID, 10); len(msgs) != 1 {
			t.Fatalf("rolled-back message visible: %d", len(msgs))
		}
		list, _ := s.Applications(ctx, owner.ID)
		if len(list) != 2 {
			t.Fatalf("list: %d", len(list))
		}
		// A save leaves the username column out only when the name is the
		// one stored: a rename, a freed name and a name taken by another
		// application all reach the database.
		save := func(id string, edit func(*Application)) error {
			return s.InTx(ctx, func(tx *Tx) error {
				cur, err := tx.Application(ctx, id)
				if err != nil {
					return err
				}
				edit(cur)
				if err := tx.SaveApplication(ctx, cur); err != nil {
					return err
				}
				cur.Subject = "second save, same name" // the saved name is the one just written
				return tx.SaveApplication(ctx, cur)
			})
		}
		for _, c := range []struct{ from, to string }{{"zhsoft01", "zhsoft02"}, {"zhsoft02", "zhsoft02"}, {"zhsoft02", ""}, {"", "zhsoft01"}} {
			if err := save(a.ID, func(x *Application) { x.Username = c.to }); err != nil {
				t.Fatalf("username %q -> %q: %v", c.from, c.to, err)
			}
			if got, _ := s.Application(ctx, a.ID); got.Username != c.to || got.Subject != "second save, same name" {
				t.Fatalf("username %q -> %q: stored %q subject %q", c.from, c.to, got.Username, got.Subject)
			}
		}
		other := list[0]
		if other.ID == a.ID {
			other = list[1]
		}
		if err := save(other.ID, func(x *Application) { x.Username = "zhsoft01" }); !errors.Is(err, ErrConflict) {
			t.Fatalf("another application's username taken: %v", err)
		}
	})
}

// Concurrent steps on one application: every one commits exactly once,
// history sequence numbers stay dense.
func TestConcurrentHistory(t *testing.T) {
	forEachEngine(t, func(t *testing.T, s *Store) {
		ctx := context.Background()
		owner := newAccount(t, s, "13800138000")
		a := &Application{ID: NewID(), OwnerID: owner.ID, Kind: apply.KindOrg, State: apply.StateDraft, Form: apply.Values{},
			AgreementVersion: "v1", AgreementAt: t0, CreatedAt: t0, UpdatedAt: t0}
		if err := s.InTx(ctx, func(tx *Tx) error {
			return tx.CreateApplication(ctx, a, apply.HistoryEntry{To: apply.StateDraft, At: t0})
		}); err != nil {
			t.Fatal(err)
		}
		var wg sync.WaitGroup
		errs := make(chan error, 20)
		for i := range 20 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				errs <- s.InTx(ctx, func(tx *Tx) error {
					cur, err := tx.Application(ctx, a.ID)
					if err != nil {
						return err
					}
					cur.UpdatedAt = t0.Add(time.Duration(i) * time.Second)
					if err := tx.SaveApplication(ctx, cur); err != nil {
						return err
					}
					return tx.AppendHistory(ctx, a.ID, apply.HistoryEntry{From: cur.State, To: cur.State, Event: apply.EvModify, At: cur.UpdatedAt})
				})
			}()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			if err != nil {
				t.Fatal(err)
			}
		}
		h, _ := s.History(ctx, a.ID)
		got, _ := s.Application(ctx, a.ID)
		if len(h) != 21 || got.Version != 21 {
			t.Fatalf("history %d, version %d", len(h), got.Version)
		}
	})
}
