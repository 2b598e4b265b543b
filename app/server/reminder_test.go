package server

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"certdesk/app/api"
	"certdesk/app/server/service"
)

// A certificate valid for 80 days gets exactly one reminder per threshold
// (90, 30, 7 days), SMS and e-mail, with the job run again and again and
// the server restarted twice; each reminder names the days left.
func TestRenewalRemindersOncePerThreshold(t *testing.T) {
	for name, dsn := range engines(t) {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			clk := &clock{}
			cfg := Config{DataDir: t.TempDir(), DSN: dsn, Log: slog.New(slog.NewTextHandler(io.Discard, nil)), CertValidity: 80 * 24 * time.Hour,
				Service: service.Config{Params: fastParams, Now: clk.Now}}
			start := func() *Server {
				s, err := Start(ctx, cfg)
				if err != nil {
					t.Fatal(err)
				}
				<-s.RemindersRan()
				return s
			}
			s := start()
			c, sc := applicant(t, s), staff(t, s)
			a := approved(t, s, c, sc, "remind01")
			key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
			c.ok(c.do("POST", "/applications/"+a.ID+"/certificate", api.DownloadRequest{CSR: makeCSR(t, key, ""), Code: codeFromOutbox(t, s, a.ID)}), nil)

			count := func(s *Server) map[string]int {
				msgs, err := s.Store.Messages(ctx, a.ID, 100)
				if err != nil {
					t.Fatal(err)
				}
				n := map[string]int{}
				for _, m := range msgs {
					if strings.HasPrefix(m.Subject, "renewal_reminder_") {
						n[m.Subject]++
						if !strings.Contains(m.Body, "天") || !strings.Contains(m.Body, "证书更新") {
							t.Errorf("reminder text: %s", m.Body)
						}
					} else if m.Channel == "email" && strings.Contains(m.Subject, "即将到期") {
						n["email"]++
					}
				}
				return n
			}
			want := func(s *Server, step string, w map[string]int) {
				t.Helper()
				for i := 0; i < 3; i++ {
					if _, err := s.Service.RemindRenewals(ctx); err != nil {
						t.Fatal(err)
					}
				}
				got := count(s)
				for k, v := range w {
					if got[k] != v {
						t.Errorf("%s: %s sent %d times, want %d (all: %v)", step, k, got[k], v, got)
					}
				}
				if len(got) != len(w) {
					t.Errorf("%s: reminders %v, want %v", step, got, w)
				}
			}
			want(s, "issued, 80 days left", map[string]int{"renewal_reminder_90": 1, "email": 1})
			s.Close()
			s = start()
			want(s, "after a restart", map[string]int{"renewal_reminder_90": 1, "email": 1})
			clk.Add(55 * 24 * time.Hour) // 25 days left
			want(s, "25 days left", map[string]int{"renewal_reminder_90": 1, "renewal_reminder_30": 1, "email": 2})
			s.Close()
			clk.Add(20 * 24 * time.Hour) // 5 days left: the job at start sends it
			s = start()
			if got := count(s); got["renewal_reminder_7"] != 1 {
				t.Errorf("the job at start did not remind at 7 days: %v", got)
			}
			want(s, "5 days left, after a second restart", map[string]int{"renewal_reminder_90": 1, "renewal_reminder_30": 1, "renewal_reminder_7": 1, "email": 3})
			s.Close()
		})
	}
}
