package server

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"testing"

	"certdesk/app/api"
	"certdesk/app/server/service"
)

// TestLoginLockAcrossInstances: three server instances on one PostgreSQL
// database; five wrong passwords spread over them lock the login name on
// every instance, the right password included; thirty failures from one
// address spread over them lock the address on all.
func TestLoginLockAcrossInstances(t *testing.T) {
	dsn := engines(t)["postgres"]
	if dsn == "" {
		t.Skip("no PostgreSQL")
	}
	var inst []*Server
	for i := 0; i < 3; i++ {
		s, err := Start(context.Background(), Config{DataDir: t.TempDir(), DSN: dsn, Log: slog.New(slog.NewTextHandler(io.Discard, nil)),
			Service: service.Config{Params: fastParams}})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		inst = append(inst, s)
	}
	c := applicant(t, inst[0])
	for i := 0; i < 4; i++ {
		cl := newClient(t, inst[i%3])
		cl.wantErr(cl.do("POST", api.PathLogin, api.LoginRequest{Login: c.login, Password: "wrong-password-1"}), 401, api.CodeBadCredentials)
	}
	// The fifth, on the instance that has seen one failure only.
	cl := newClient(t, inst[1])
	cl.wantErr(cl.do("POST", api.PathLogin, api.LoginRequest{Login: c.login, Password: "wrong-password-1"}), 429, api.CodeRateLimited)
	for _, s := range inst {
		cl := newClient(t, s)
		cl.wantErr(cl.do("POST", api.PathLogin, api.LoginRequest{Login: c.login, Password: c.password}), 429, api.CodeRateLimited)
	}

	// The address has five failures from above; 25 more on 25 names over
	// the three instances (no instance sees more than nine) make thirty.
	for i := 0; i < 25; i++ {
		cl := newClient(t, inst[i%3])
		r := cl.do("POST", api.PathLogin, api.LoginRequest{Login: fmt.Sprintf("1390000%04d", i), Password: "wrong-password-1"})
		if i == 24 && r.status != 429 || i < 24 && r.status != 401 {
			t.Fatalf("failure %d from the address: %d %s", i+1, r.status, r.body)
		}
	}
	for _, s := range inst {
		cl := newClient(t, s)
		cl.wantErr(cl.do("POST", api.PathLogin, api.LoginRequest{Login: "13900009999", Password: "wrong-password-1"}), 429, api.CodeRateLimited)
	}
}
