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
)

// restartable starts a server whose config can start it again at the same
// address and data (cfg.Addr set by the caller after the first Close).
func restartable(t *testing.T) (*server.Server, server.Config, *slog.Logger) {
	t.Helper()
	test.NewTempApp(t)
	_ = LoadTranslations()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	cfg := server.Config{DataDir: t.TempDir(), Log: log, Service: service.Config{Params: auth.Params{MemoryKiB: 1024, Time: 1, Threads: 1}}}
	srv, err := server.Start(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	return srv, cfg, log
}

// restartAt starts the server of cfg again at addr, where it was before
// its Close; it is closed when the test ends.
func restartAt(t *testing.T, cfg server.Config, addr string) {
	t.Helper()
	cfg.Addr = addr
	srv, err := server.Start(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
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
