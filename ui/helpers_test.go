package ui

import (
	"context"
	"io"
	"log/slog"
	"testing"
	"time"

	"fyne.io/fyne/v2/test"

	"certdesk/app/api"
	"certdesk/app/apply"
	"certdesk/app/apply/applytest"
	"certdesk/app/client"
	"certdesk/app/server"
	"certdesk/app/server/auth"
	"certdesk/app/server/service"
	"certdesk/token"
	"certdesk/token/softhsmtest"
)

// restartable starts a server whose config can start it again at the same
// address and data (cfg.Addr set by the caller after the first Close).
func restartable(t *testing.T, opts ...func(*server.Config)) (*server.Server, server.Config, *slog.Logger) {
	t.Helper()
	test.NewTempApp(t)
	_ = LoadTranslations()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	cfg := server.Config{DataDir: t.TempDir(), Log: log, Service: service.Config{Params: auth.Params{MemoryKiB: 1024, Time: 1, Threads: 1}}}
	for _, o := range opts {
		o(&cfg)
	}
	srv, err := server.Start(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	return srv, cfg, log
}

// restartAt starts the server of cfg again at addr, where it was before
// its Close; it is closed when the test ends.
func restartAt(t *testing.T, cfg server.Config, addr string) *server.Server {
	t.Helper()
	cfg.Addr = addr
	srv, err := server.Start(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	return srv
}

// loggedIn is a client of url with a registered applicant logged in.
func loggedIn(t *testing.T, url string, log *slog.Logger) *client.Client {
	t.Helper()
	ctx := context.Background()
	c, _ := client.New(client.Config{BaseURL: url, Log: log})
	c.Register(ctx, api.RegisterRequest{Mobile: "13800138000", Password: "Zh3ngShu!2026"})
	if _, err := c.Login(ctx, api.LoginRequest{Login: "13800138000", Password: "Zh3ngShu!2026"}); err != nil {
		t.Fatal(err)
	}
	return c
}

// newApp creates an organisation application with form (nil for none),
// submitted when submit is set.
func newApp(t *testing.T, c *client.Client, form apply.Values, submit bool) *api.Application {
	t.Helper()
	ctx := context.Background()
	a, err := c.CreateApplication(ctx, api.CreateApplicationRequest{Kind: apply.KindOrg, Agreement: api.AgreementAcceptance{Version: "2026-11", AcceptedAt: time.Now()}, Form: form}, "")
	if err != nil {
		t.Fatal(err)
	}
	if submit {
		if a, err = c.UpdateForm(ctx, a.ID, api.UpdateFormRequest{Form: applytest.OrgForm(), Submit: true}); err != nil {
			t.Fatal(err)
		}
	}
	return a
}

// issuedOn takes an organisation application of c's account to a
// certificate on the SoftHSM2 UKEY tk (steps the window is not under
// test for go through the service), and closes the UKEY again.
func issuedOn(t *testing.T, srv *server.Server, c *client.Client, tk *softhsmtest.Token, username string) *api.Application {
	t.Helper()
	ctx := context.Background()
	ag, _ := c.Agreement(ctx)
	a, err := c.CreateApplication(ctx, api.CreateApplicationRequest{Kind: apply.KindOrg, Agreement: api.AgreementAcceptance{Version: ag.Version, AcceptedAt: time.Now()}}, client.NewIdempotencyKey())
	if err != nil {
		t.Fatal(err)
	}
	form := apply.Values{apply.FUsername: username, apply.FOrgName: "福州示例软件有限公司", apply.FOrgCode: "91350100M000100Y43",
		apply.FOrgAddress: "福建省福州市鼓楼区五四路 100 号", apply.FHandlerName: "王堃", apply.FHandlerIDType: "resident",
		apply.FHandlerID: "11010519491231002X", apply.FHandlerMobile: "13800138000", apply.FHandlerEmail: "wang@example.com",
		apply.FSecurityQuestion: "您的出生地是?", apply.FSecurityAnswer: "福州", apply.FDelivery: "pickup"}
	if _, err := c.UpdateForm(ctx, a.ID, api.UpdateFormRequest{Form: form, Submit: true}); err != nil {
		t.Fatal(err)
	}
	for _, ev := range []apply.Event{apply.EvMaterialsComplete, apply.EvIdentityVerified} {
		if err := srv.Service.SystemStep(ctx, a.ID, ev, "test"); err != nil {
			t.Fatal(err)
		}
	}
	staff := srv.DevStaff("test")
	// A payment only with its record: staff confirm a bank transfer.
	if err := staff.ConfirmTransfer(ctx, a.ID); err != nil {
		t.Fatal(err)
	}
	if err := staff.Approve(ctx, a.ID); err != nil {
		t.Fatal(err)
	}
	code, err := staff.Code(ctx, a.ID)
	if err != nil {
		t.Fatal(err)
	}
	ts, done, err := token.OpenLoggedIn(tk.ModulePath, token.Ref{Label: tk.Label}, []byte(tk.PIN), false)
	if err != nil {
		t.Fatal(err)
	}
	defer done()
	k, _, err := ts.KeyFor(a.ID, token.KeyAuto)
	if err != nil {
		t.Fatal(err)
	}
	csr, err := k.CSR("")
	if err != nil {
		t.Fatal(err)
	}
	b, err := c.Download(ctx, a.ID, api.DownloadRequest{CSR: csr, Code: code, TokenSerial: ts.Token().Serial})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := k.Install(b.Certificate); err != nil {
		t.Fatal(err)
	}
	return a
}
