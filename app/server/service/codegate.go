package service

import (
	"context"
	"sync"

	"certdesk/app/server/store"
)

// codeGate bounds the download-code guesses evaluated at once: for each
// application, the wrong attempts stored plus the comparisons in flight
// never exceed CodeTries. The stored count is read under the
// application's own lock, and a wrong guess is written and its slot given
// back under that same lock, so concurrent guesses cannot all pass the
// "fewer than five" test (the race the hostile review found) and no
// reader ever sees a guess twice, stored and still in flight (which
// refused a guess that was due its evaluation: only four of five were
// stored under -race, and the fifth, right, code downloaded). A right
// code writes nothing: the download's hot path costs no extra database
// write. The in-flight part is per process, so with several instances on
// one database (shared) each guess instead reserves its try in the
// database before it is compared (a conditional UPDATE, atomic across
// instances) and a right one gives it back: five guesses in flight over
// three instances are still five.
type codeGate struct {
	mu     sync.Mutex
	apps   map[string]*codeSlot
	shared bool
}

type codeSlot struct {
	mu       sync.Mutex
	inflight int
	users    int // callers holding the slot; it is dropped at zero
}

// codeVerdict is what the gate lets through.
type codeVerdict int

const (
	codeGo     codeVerdict = iota // compare, then end the guess
	codeLocked                    // CodeTries wrong attempts are stored
	codeBusy                      // the allowance is taken by guesses in flight
)

// codeGuess is a guess let through the gate: end it with wrong or right,
// once.
type codeGuess struct {
	g        *codeGate
	sl       *codeSlot
	appID    string
	reserved bool // its try is counted in the database already
}

// wrong stores the wrong attempt and frees the slot in one step under the
// slot's lock.
func (c *codeGuess) wrong(ctx context.Context, st *store.Store) error {
	c.sl.mu.Lock()
	var err error
	if !c.reserved {
		err = st.CountCodeAttempt(ctx, c.appID, CodeTries)
	}
	c.sl.inflight--
	c.sl.mu.Unlock()
	c.g.drop(c.sl, c.appID)
	return err
}

// right frees the slot; nothing is stored (a reserved try is given back).
func (c *codeGuess) right(ctx context.Context, st *store.Store) error {
	var err error
	if c.reserved {
		err = st.ReleaseCodeAttempt(ctx, c.appID)
	}
	c.sl.mu.Lock()
	c.sl.inflight--
	c.sl.mu.Unlock()
	c.g.drop(c.sl, c.appID)
	return err
}

func (g *codeGate) drop(sl *codeSlot, appID string) {
	g.mu.Lock()
	if sl.users--; sl.users == 0 {
		delete(g.apps, appID)
	}
	g.mu.Unlock()
}

// enter reads the application's code under its lock and, when a guess
// may be evaluated, takes a slot: the guess must then be ended with wrong
// or right.
func (g *codeGate) enter(ctx context.Context, st *store.Store, appID string) (dc *store.DownloadCode, v codeVerdict, guess *codeGuess, err error) {
	g.mu.Lock()
	if g.apps == nil {
		g.apps = map[string]*codeSlot{}
	}
	sl := g.apps[appID]
	if sl == nil {
		sl = &codeSlot{}
		g.apps[appID] = sl
	}
	sl.users++
	g.mu.Unlock()

	sl.mu.Lock()
	dc, err = st.DownloadCode(ctx, appID)
	switch {
	case err != nil:
	case dc.Attempts >= CodeTries:
		v = codeLocked
	case g.shared:
		ok, rerr := st.ReserveCodeAttempt(ctx, appID, CodeTries)
		if err = rerr; err == nil && ok {
			sl.inflight++
			sl.mu.Unlock()
			return dc, codeGo, &codeGuess{g: g, sl: sl, appID: appID, reserved: true}, nil
		}
		v = codeBusy // the last tries are reserved by guesses in flight
	case dc.Attempts+sl.inflight >= CodeTries:
		v = codeBusy
	default:
		sl.inflight++
		sl.mu.Unlock()
		return dc, codeGo, &codeGuess{g: g, sl: sl, appID: appID}, nil
	}
	sl.mu.Unlock()
	g.drop(sl, appID)
	return dc, v, nil, err
}
