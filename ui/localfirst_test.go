package ui

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"certdesk/app/apply"
	"certdesk/app/client"
	appsync "certdesk/app/sync"
)

// asUser does what the user does on the UI goroutine: under the lock that
// background updates (the autosave timer, sync events) take.
func asUser(fn func()) {
	uiMu.Lock()
	defer uiMu.Unlock()
	fn()
}

// nextEvent waits for the loop's next event of kind for the form, and
// hands it to the form as the shell does.
func nextEvent(t *testing.T, events chan appsync.Event, kind appsync.EventKind, w *Apply) appsync.Event {
	t.Helper()
	deadline := time.After(10 * time.Second)
	for {
		select {
		case e := <-events:
			onUIWait(func() { w.SyncEvent(e) })
			if e.Kind == kind {
				return e
			}
		case <-deadline:
			t.Fatalf("no %s event", kind)
		}
	}
}

// Local-first: with the server down, edits land in the local store and
// show as 未同步; a restarted window shows them (still unsent) over the
// server's older copy; the server back, the loop sends them; an edit the
// server refuses shows its message beside the field.
func TestFormEditsOfflineSurviveRestartAndSync(t *testing.T) {
	ctx := context.Background()
	srv, cfg, log := restartable(t)
	c := loggedIn(t, srv.URL, log)
	a := newApp(t, c, apply.Values{apply.FUsername: "local01", apply.FOrgName: "旧名称有限公司"}, false)
	localDir := t.TempDir()
	local, err := appsync.Open(ctx, localDir)
	if err != nil {
		t.Fatal(err)
	}
	events := make(chan appsync.Event, 64)
	loop := &appsync.Loop{Store: local, Client: c, Log: log, Events: events}
	w := EditApply(c, apply.ZH, a, t.TempDir(), loop, func(string) {})

	addr := strings.TrimPrefix(srv.URL, "http://")
	srv.Close() // the server goes away
	edits := map[string]string{apply.FOrgName: "福州示例软件有限公司", apply.FOrgAddress: "福建省福州市鼓楼区五四路 100 号", apply.FHandlerName: "王堃"}
	for k, v := range edits {
		asUser(func() {
			w.fields[k].entry.SetText(v)
			w.fields[k].entry.FocusLost() // the user goes on to the next field
		})
	}
	d, err := local.Draft(ctx, a.ID)
	if err != nil || d == nil || !d.Dirty {
		t.Fatalf("local draft: %+v %v", d, err)
	}
	for k, v := range edits {
		if d.Form[k] != v {
			t.Fatalf("local draft %s = %q, want %q", k, d.Form[k], v)
		}
	}
	if err := loop.Round(ctx); !errors.Is(err, client.ErrNetwork) {
		t.Fatalf("round with the server down: %v", err)
	}
	nextEvent(t, events, appsync.DraftUnsent, w)
	eventually(t, "未同步 on the form", func() bool { return w.Unsent && strings.HasPrefix(w.status.Text, "未同步") })

	// The window is closed and opened again (CertDesk restarted): it has
	// only the server's copy from before and the local store.
	local.Close()
	local, err = appsync.Open(ctx, localDir)
	if err != nil {
		t.Fatal(err)
	}
	defer local.Close()
	loop = &appsync.Loop{Store: local, Client: c, Log: log, Events: events}
	w = EditApply(c, apply.ZH, a, t.TempDir(), loop, func(string) {})
	for k, v := range edits {
		if got := w.fields[k].entry.Text; got != v {
			t.Fatalf("after restart %s shows %q, want the unsent %q", k, got, v)
		}
	}
	if !w.Unsent || !strings.HasPrefix(w.status.Text, "未同步") {
		t.Fatalf("after restart: unsent %v, status %q", w.Unsent, w.status.Text)
	}

	// The server is back where it was: the loop sends the edits.
	restartAt(t, cfg, addr)
	if err := loop.Round(ctx); err != nil {
		t.Fatal(err)
	}
	nextEvent(t, events, appsync.DraftSent, w)
	eventually(t, "saved", func() bool { return !w.Unsent && w.status.Text == "已自动保存" })
	got, err := c.Application(ctx, a.ID)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range edits {
		if got.Form[k] != v {
			t.Fatalf("server %s = %q, want %q", k, got.Form[k], v)
		}
	}

	// Typing alone (no leaving the field) is saved locally too; an edit
	// the server refuses comes back beside its field.
	asUser(func() { w.fields[apply.FOrgAddress].entry.SetText("福建省福州市\u202e鼓楼区") })
	eventually(t, "the typed edit in the local store", func() bool {
		d, _ := local.Draft(ctx, a.ID)
		return d != nil && d.Dirty && strings.Contains(d.Form[apply.FOrgAddress], "\u202e")
	})
	if err := loop.Round(ctx); err != nil {
		t.Fatal(err)
	}
	nextEvent(t, events, appsync.DraftRefused, w)
	eventually(t, "the refusal beside the field", func() bool {
		return strings.Contains(w.fields[apply.FOrgAddress].err.Text, "U+202E") && strings.HasPrefix(w.status.Text, "未同步")
	})
	// Refused once, it is not sent again as it is; corrected, it is.
	if err := loop.Round(ctx); err != nil {
		t.Fatal(err)
	}
	asUser(func() {
		w.fields[apply.FOrgAddress].entry.SetText("福建省福州市鼓楼区五四路 101 号")
		w.fields[apply.FOrgAddress].entry.FocusLost()
	})
	if err := loop.Round(ctx); err != nil {
		t.Fatal(err)
	}
	nextEvent(t, events, appsync.DraftSent, w)
	eventually(t, "the refusal cleared", func() bool { return w.fields[apply.FOrgAddress].err.Text == "" && !w.Unsent })
	if got, _ := c.Application(ctx, a.ID); got.Form[apply.FOrgAddress] != "福建省福州市鼓楼区五四路 101 号" {
		t.Fatalf("server address %q", got.Form[apply.FOrgAddress])
	}
}
