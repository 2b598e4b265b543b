package client

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"certdesk/app/api"
	"certdesk/app/apply"
	"certdesk/app/material/testimg"
	"certdesk/app/server"
	"certdesk/app/server/auth"
	"certdesk/app/server/service"
)

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

// A misbehaving peer on loopback: the answers are scripted per attempt.
func flaky(t *testing.T, statuses []int, header http.Header) (*httptest.Server, *[]http.Header) {
	var mu sync.Mutex
	var n int
	seen := &[]http.Header{}
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		i := n
		n++
		*seen = append(*seen, r.Header.Clone())
		mu.Unlock()
		st := statuses[min(i, len(statuses)-1)]
		for k, v := range header {
			w.Header()[k] = v
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(st)
		if st >= 400 {
			w.Write([]byte(`{"code":"unavailable","message_zh":"忙","message_en":"busy"}`))
			return
		}
		w.Write([]byte(`{"id":"a1","kind":"org","state":"draft"}`))
	}))
	t.Cleanup(s.Close)
	return s, seen
}

func TestRetries(t *testing.T) {
	ctx := context.Background()
	t.Run("5xx then success, same idempotency key", func(t *testing.T) {
		s, seen := flaky(t, []int{503, 502, 201}, nil)
		c, _ := New(Config{BaseURL: s.URL, RetryWait: time.Millisecond, Log: quiet})
		a, err := c.CreateApplication(ctx, api.CreateApplicationRequest{Kind: apply.KindOrg}, "key-1")
		if err != nil || a.ID != "a1" || len(*seen) != 3 {
			t.Fatalf("%v %v attempts=%d", a, err, len(*seen))
		}
		for _, h := range *seen {
			if h.Get(api.HeaderIdempotency) != "key-1" {
				t.Fatalf("retry without the same key: %v", h)
			}
		}
	})
	t.Run("429 honours Retry-After", func(t *testing.T) {
		s, seen := flaky(t, []int{429, 200}, http.Header{"Retry-After": {"1"}})
		c, _ := New(Config{BaseURL: s.URL, RetryWait: time.Millisecond, Log: quiet})
		start := time.Now()
		if _, err := c.Application(ctx, "a1"); err != nil || len(*seen) != 2 || time.Since(start) < time.Second {
			t.Fatalf("err %v attempts %d after %v", err, len(*seen), time.Since(start))
		}
	})
	t.Run("other 4xx never retried", func(t *testing.T) {
		s, seen := flaky(t, []int{409, 200}, nil)
		c, _ := New(Config{BaseURL: s.URL, RetryWait: time.Millisecond, Log: quiet})
		_, err := c.Application(ctx, "a1")
		var ae *api.Error
		if !errors.As(err, &ae) || len(*seen) != 1 {
			t.Fatalf("err %v attempts %d", err, len(*seen))
		}
	})
	t.Run("network down gives ErrNetwork after the retries", func(t *testing.T) {
		c, _ := New(Config{BaseURL: "http://127.0.0.1:1", RetryWait: time.Millisecond, Retries: 2, Log: quiet})
		if _, err := c.Me(ctx); !errors.Is(err, ErrNetwork) {
			t.Fatalf("err %v", err)
		}
	})
	t.Run("cancelled context stops at once", func(t *testing.T) {
		s, _ := flaky(t, []int{503}, nil)
		c, _ := New(Config{BaseURL: s.URL, RetryWait: time.Second, Log: quiet})
		cctx, cancel := context.WithTimeout(ctx, 100*time.Millisecond)
		defer cancel()
		start := time.Now()
		if _, err := c.Me(cctx); err == nil || time.Since(start) > 2*time.Second {
			t.Fatalf("err %v after %v", err, time.Since(start))
		}
	})
}

func realServer(t *testing.T, devTLS bool) *server.Server {
	t.Helper()
	s, err := server.Start(context.Background(), server.Config{DataDir: t.TempDir(), Log: quiet, DevTLS: devTLS,
		Service: service.Config{Params: auth.Params{MemoryKiB: 1024, Time: 1, Threads: 1}}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func TestAgainstTheServer(t *testing.T) {
	ctx := context.Background()
	s := realServer(t, true)
	if _, err := New(Config{BaseURL: s.URL, PinnedPEM: []byte("nope")}); err == nil {
		t.Fatal("a bad pin was accepted")
	}
	unpinned, _ := New(Config{BaseURL: s.URL, Retries: 1, RetryWait: time.Millisecond, Log: quiet})
	if _, err := unpinned.Agreement(ctx); !errors.Is(err, ErrNetwork) {
		t.Fatalf("a self-signed server without the pin: %v", err)
	}
	c, err := New(Config{BaseURL: s.URL, PinnedPEM: s.CertPEM, Log: quiet})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Register(ctx, api.RegisterRequest{Mobile: "13800138000", Password: "Zh3ngShu!2026"}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Login(ctx, api.LoginRequest{Login: "13800138000", Password: "Zh3ngShu!2026"}); err != nil {
		t.Fatal(err)
	}
	ag, _ := c.Agreement(ctx)
	a, err := c.CreateApplication(ctx, api.CreateApplicationRequest{Kind: apply.KindOrg, Agreement: api.AgreementAcceptance{Version: ag.Version, AcceptedAt: time.Now()}}, NewIdempotencyKey())
	if err != nil {
		t.Fatal(err)
	}
	// A field error arrives typed, with both languages.
	_, err = c.UpdateForm(ctx, a.ID, api.UpdateFormRequest{Form: apply.Values{apply.FUsername: "坏名字"}, Submit: true})
	var ae *api.Error
	if !errors.As(err, &ae) || ae.Code != api.CodeValidation || len(ae.Fields) == 0 || ae.Fields[0].MessageZH == "" {
		t.Fatalf("validation: %v", err)
	}
	if !errors.Is(err, &api.Error{Code: api.CodeValidation}) {
		t.Fatal("errors.Is by code")
	}

	// An upload interrupted mid-way resumes from the server's offset, in
	// a new client (as after a restart), and reports progress.
	doc := testimg.JPEG(testimg.Scan(827, 1169, 3), 90, 100)
	u, err := c.StartUpload(ctx, a.ID, apply.MatOrgLicense, "licence.jpg", doc, "", NewIdempotencyKey())
	if err != nil {
		t.Fatal(err)
	}
	cut, cancel := context.WithCancel(ctx)
	_, err = c.Resume(cut, u, doc, func(p Progress) {
		if p.Sent >= ChunkSize {
			cancel() // the line drops after the first chunk
		}
	})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("interrupted upload: %v", err)
	}
	off, _, _ := c.Offset(ctx, u.ID)
	if off == 0 || off >= int64(len(doc)) {
		t.Fatalf("offset after the cut: %d", off)
	}
	c2, _ := New(Config{BaseURL: s.URL, PinnedPEM: s.CertPEM, Log: quiet})
	c2.SetToken(c.token())
	var last Progress
	m, err := c2.Resume(ctx, &Upload{ID: u.ID, AppID: a.ID, Type: u.Type, SHA256: u.SHA256, Total: u.Total}, doc, func(p Progress) { last = p })
	if err != nil || m == nil || m.SHA256 != u.SHA256 {
		t.Fatalf("resume: %v %+v", err, m)
	}
	if last.Sent != last.Total || last.Rate <= 0 {
		t.Fatalf("progress: %+v", last)
	}
	got, err := c2.MaterialData(ctx, a.ID, m.ID)
	if err != nil || !bytes.Equal(got, doc) {
		t.Fatalf("stored bytes differ: %v", err)
	}
	// A refused material is an *api.Error naming the problem, not retried.
	bad := testimg.JPEG(testimg.Scan(827, 1169, 4), 85, 72)
	_, err = c2.UploadMaterial(ctx, a.ID, apply.MatAuthorization, "a.jpg", bad, nil)
	if !errors.As(err, &ae) || ae.Code != api.CodeMaterialInvalid || !strings.Contains(ae.Fields[0].Code, "dpi") {
		t.Fatalf("bad material: %v", err)
	}
	if err := c2.Logout(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := c2.Me(ctx); !errors.Is(err, &api.Error{Code: api.CodeUnauthenticated}) {
		t.Fatalf("after logout: %v", err)
	}
}
