package appsync

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"testing"
	"time"

	"certdesk/app/api"
	"certdesk/app/apply"
	"certdesk/app/client"
	"certdesk/app/material/testimg"
	"certdesk/app/server"
	"certdesk/app/server/auth"
	"certdesk/app/server/service"
)

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

func freeAddr(t *testing.T) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

func startAt(t *testing.T, addr, dir string) *server.Server {
	t.Helper()
	s, err := server.Start(context.Background(), server.Config{Addr: addr, DataDir: dir, Log: quiet,
		Service: service.Config{Params: auth.Params{MemoryKiB: 1024, Time: 1, Threads: 1}}})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// loggedIn registers an applicant on the server at addr and logs in.
func loggedIn(t *testing.T, addr string) *client.Client {
	t.Helper()
	ctx := context.Background()
	c, _ := client.New(client.Config{BaseURL: "http://" + addr, Retries: 1, RetryWait: 10 * time.Millisecond, Log: quiet})
	c.Register(ctx, api.RegisterRequest{Mobile: "13800138000", Password: "Zh3ngShu!2026"})
	if _, err := c.Login(ctx, api.LoginRequest{Login: "13800138000", Password: "Zh3ngShu!2026"}); err != nil {
		t.Fatal(err)
	}
	return c
}

func waitFor(t *testing.T, ev <-chan Event, kind EventKind, d time.Duration) Event {
	t.Helper()
	deadline := time.After(d)
	for {
		select {
		case e := <-ev:
			if e.Kind == kind {
				return e
			}
		case <-deadline:
			t.Fatalf("no %s event within %v", kind, d)
		}
	}
}

// Drafts survive a crash of the client, reach the server when it is back,
// queued uploads resume, statuses are pulled, and an edit the server can no
// longer take is dropped with a Conflict event.
func TestSyncThroughAnOutage(t *testing.T) {
	ctx := context.Background()
	addr, srvDir, local := freeAddr(t), t.TempDir(), t.TempDir()
	s := startAt(t, addr, srvDir)
	c := loggedIn(t, addr)
	ag, _ := c.Agreement(ctx)
	a, err := c.CreateApplication(ctx, api.CreateApplicationRequest{Kind: apply.KindOrg, Agreement: api.AgreementAcceptance{Version: ag.Version, AcceptedAt: time.Now()}}, client.NewIdempotencyKey())
	if err != nil {
		t.Fatal(err)
	}

	// The server goes away; the applicant keeps typing and adds a scan.
	s.Close()
	st, err := Open(ctx, local)
	if err != nil {
		t.Fatal(err)
	}
	form := apply.Values{apply.FOrgName: "福州示例软件有限公司", apply.FUsername: "sync01"}
	if err := st.SaveDraft(ctx, a.ID, apply.KindOrg, form); err != nil {
		t.Fatal(err)
	}
	doc := testimg.JPEG(testimg.Scan(827, 1169, 5), 85, 100)
	if err := st.Enqueue(ctx, "q1", a.ID, apply.MatOrgLicense, "licence.jpg", doc, client.NewIdempotencyKey()); err != nil {
		t.Fatal(err)
	}
	// The client crashes: everything is still there on reopening.
	st.Close()
	st, err = Open(ctx, local)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if d, _ := st.Draft(ctx, a.ID); d == nil || !d.Dirty || d.Form[apply.FOrgName] != "福州示例软件有限公司" {
		t.Fatalf("draft after a crash: %+v", d)
	}

	events := make(chan Event, 64)
	loop := &Loop{Store: st, Client: c, Log: quiet, Interval: 50 * time.Millisecond, MaxWait: 200 * time.Millisecond, Events: events}
	lctx, stop := context.WithCancel(ctx)
	defer stop()
	go loop.Run(lctx)
	waitFor(t, events, Offline, 10*time.Second)

	s = startAt(t, addr, srvDir) // back
	defer s.Close()
	waitFor(t, events, UploadDone, 10*time.Second)
	waitFor(t, events, Online, 10*time.Second) // said when the round that did the work ends
	got, err := c.Application(ctx, a.ID)
	if err != nil || got.Form[apply.FOrgName] != "福州示例软件有限公司" || len(got.Materials) != 1 {
		t.Fatalf("after the outage: %v %+v", err, got)
	}
	if d, _ := st.Draft(ctx, a.ID); d.Dirty {
		t.Fatal("draft still dirty after it was sent")
	}
	qs, _ := st.Uploads(ctx)
	if len(qs) != 1 || qs[0].State != "done" {
		t.Fatalf("queue: %+v", qs[0])
	}

	// The server moves the application on: the status event arrives, and an
	// edit made meanwhile that the server refuses becomes a Conflict.
	full := apply.Values{apply.FUsername: "sync01", apply.FOrgName: "福州示例软件有限公司", apply.FOrgCode: "91350100M000100Y43",
		apply.FOrgAddress: "福建省福州市鼓楼区五四路 100 号", apply.FHandlerName: "王堃", apply.FHandlerIDType: "resident",
		apply.FHandlerID: "11010519491231002X", apply.FHandlerMobile: "13800138000", apply.FHandlerEmail: "wang@example.com",
		apply.FSecurityQuestion: "您的出生地是?", apply.FSecurityAnswer: "福州", apply.FDelivery: "pickup"}
	if _, err := c.UpdateForm(ctx, a.ID, api.UpdateFormRequest{Form: full, Submit: true}); err != nil {
		t.Fatal(err)
	}
	for _, ev := range []apply.Event{apply.EvMaterialsComplete, apply.EvIdentityVerified} {
		if err := s.Service.SystemStep(ctx, a.ID, ev, "test"); err != nil {
			t.Fatal(err)
		}
	}
	// A payment only with its record: staff confirm a bank transfer.
	if _, err := s.Service.ConfirmTransfer(ctx, service.Operator("staff"), a.ID, "test"); err != nil {
		t.Fatal(err)
	}
	if e := waitFor(t, events, StatusChange, 10*time.Second); e.AppID != a.ID {
		t.Fatalf("status event: %+v", e)
	}
	statuses, _ := st.Statuses(ctx)
	if len(statuses) != 1 || statuses[0].State != apply.StatePaid {
		// the pull may have seen an intermediate state first; wait for paid
		time.Sleep(300 * time.Millisecond)
		statuses, _ = st.Statuses(ctx)
	}
	if statuses[0].State != apply.StatePaid {
		t.Fatalf("cached status: %+v", statuses)
	}
	full[apply.FOrgAddress] = "福建省福州市台江区"
	st.SaveDraft(ctx, a.ID, apply.KindOrg, full)
	if e := waitFor(t, events, Conflict, 10*time.Second); e.AppID != a.ID {
		t.Fatalf("conflict: %+v", e)
	}
	if got, _ := c.Application(ctx, a.ID); got.Form[apply.FOrgAddress] != "福建省福州市鼓楼区五四路 100 号" {
		t.Fatal("an edit after payment reached the server")
	}
	if st.Setting(ctx, "server") != "" {
		t.Fatal("unexpected setting")
	}
	st.SetSetting(ctx, "server", "http://"+addr)
	if st.Setting(ctx, "server") != "http://"+addr {
		t.Fatal("setting not kept")
	}

}

// Send: one call queues and sends from the bytes in hand; offline it says
// ErrQueued and a round sends it later; a refusal comes back as the
// server's *api.Error in both languages and marks the copy failed; a
// round running meanwhile never sends the same item again.
func TestSendQueuesSendsAndRefuses(t *testing.T) {
	ctx := context.Background()
	addr, srvDir := freeAddr(t), t.TempDir()
	s := startAt(t, addr, srvDir)
	c := loggedIn(t, addr)
	ag, _ := c.Agreement(ctx)
	a, _ := c.CreateApplication(ctx, api.CreateApplicationRequest{Kind: apply.KindOrg, Agreement: api.AgreementAcceptance{Version: ag.Version, AcceptedAt: time.Now()}}, "")
	form := apply.Values{apply.FUsername: "send01", apply.FOrgName: "福州示例软件有限公司", apply.FOrgCode: "91350100M000100Y43",
		apply.FOrgAddress: "福建省福州市鼓楼区五四路 100 号", apply.FHandlerName: "王堃", apply.FHandlerIDType: "resident",
		apply.FHandlerID: "11010519491231002X", apply.FHandlerMobile: "13800138000", apply.FHandlerEmail: "wang@example.com",
		apply.FSecurityQuestion: "您的出生地是?", apply.FSecurityAnswer: "福州", apply.FDelivery: "pickup"}
	if _, err := c.UpdateForm(ctx, a.ID, api.UpdateFormRequest{Form: form, Submit: true}); err != nil {
		t.Fatal(err)
	}
	st, err := Open(ctx, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	l := &Loop{Store: st, Client: c, Log: quiet}
	scan := testimg.JPEG(testimg.Scan(827, 1169, 3), 85, 100)

	// A round racing the send: the item is sent once.
	done := make(chan error, 1)
	go func() {
		for i := 0; i < 20; i++ {
			if err := l.Round(ctx); err != nil {
				done <- err
				return
			}
		}
		done <- nil
	}()
	if err := l.Send(ctx, a.ID, apply.MatOrgLicense, "licence.jpg", scan, nil); err != nil {
		t.Fatalf("send: %v", err)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	cl, _ := c.Checklist(ctx, a.ID)
	for _, it := range cl.Items {
		if it.Rule.Type == apply.MatOrgLicense && len(it.Materials) != 1 {
			t.Fatalf("licence materials on the server: %d", len(it.Materials))
		}
	}

	// Refused: a 72 DPI scan.
	low := testimg.JPEG(testimg.Scan(827, 1169, 3), 85, 72)
	err = l.Send(ctx, a.ID, apply.MatHandlerID, "id.jpg", low, nil)
	var ae *api.Error
	if !errors.As(err, &ae) || ae.Code != api.CodeMaterialInvalid || ae.MessageEN == "" || len(ae.Fields) == 0 {
		t.Fatalf("refusal: %v", err)
	}
	// Offline: queued, then sent by a round.
	s.Close()
	if err := l.Send(ctx, a.ID, apply.MatHandlerID, "id.jpg", scan, nil); !errors.Is(err, ErrQueued) || !errors.Is(err, client.ErrNetwork) {
		t.Fatalf("offline send: %v", err)
	}
	s = startAt(t, addr, srvDir)
	defer s.Close()
	if err := l.Round(ctx); err != nil {
		t.Fatal(err)
	}
	qs, _ := st.Uploads(ctx)
	states := map[string]int{}
	for _, q := range qs {
		states[q.State]++
	}
	if states["done"] != 2 || states["failed"] != 1 || states["queued"] != 0 {
		t.Fatalf("queue: %v", states)
	}
}
