package service

import (
	"context"
	"sync"

	"certdesk/app/server/store"
)

// codeGate bounds the download-code guesses evaluated at once: for each
// application, the wrong attempts stored plus the comparisons in flight
// never exceed CodeTries. The stored count is read under the
// application's own lock and a wrong guess is written before its slot is
// given back, so concurrent guesses cannot all pass the "fewer than five"
// test (the race the hostile review found). A right code writes nothing:
// the download's hot path costs no extra database write. The in-flight
// part is per process; with several instances (issue 21) the conditional
// UPDATE still bounds what is recorded.
type codeGate struct {
	mu   sync.Mutex
	apps map[string]*codeSlot
}

type codeSlot struct {
	mu       sync.Mutex
	inflight int
	users    int // callers holding the slot; it is dropped at zero
}

// codeVerdict is what the gate lets through.
type codeVerdict int

const (
	codeGo     codeVerdict = iota // compare, then call leave
	codeLocked                    // CodeTries wrong attempts are stored
	codeBusy                      // the allowance is taken by guesses in flight
)

// enter reads the application's code under its lock and, when a guess
// may be evaluated, takes a slot; leave must be called once the guess is
// decided (after a wrong one is stored).
func (g *codeGate) enter(ctx context.Context, st *store.Store, appID string) (dc *store.DownloadCode, v codeVerdict, leave func(), err error) {
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
	drop := func() {
		g.mu.Lock()
		if sl.users--; sl.users == 0 {
			delete(g.apps, appID)
		}
		g.mu.Unlock()
	}

	sl.mu.Lock()
	dc, err = st.DownloadCode(ctx, appID)
	switch {
	case err != nil:
	case dc.Attempts >= CodeTries:
		v = codeLocked
	case dc.Attempts+sl.inflight >= CodeTries:
		v = codeBusy
	default:
		sl.inflight++
		sl.mu.Unlock()
		return dc, codeGo, func() {
			sl.mu.Lock()
			sl.inflight--
			sl.mu.Unlock()
			drop()
		}, nil
	}
	sl.mu.Unlock()
	drop()
	return dc, v, nil, err
}
