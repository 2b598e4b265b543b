package main

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"

	"certdesk/app/server"
	appsync "certdesk/app/sync"
)

// dataDir is where CertDesk keeps its data: %AppData%\CertDesk on Windows,
// ~/.config/CertDesk elsewhere, or CERTDESK_HOME.
func dataDir() (string, error) {
	if d := os.Getenv("CERTDESK_HOME"); d != "" {
		return d, nil
	}
	base, err := os.UserConfigDir()
	if err != nil {
		return "", fmt.Errorf("find the user data directory: %w", err)
	}
	return filepath.Join(base, "CertDesk"), nil
}

// backend is the enrollment server the GUI talks to.
type backend struct {
	URL      string
	Embedded bool
	DataDir  string
	close    func() error
}

// startBackend uses the standalone server at url, or with none configured
// starts the embedded one in-process on 127.0.0.1 with a random port, on
// the user's data directory: a self-contained CA for trials, training and
// offline work.
func startBackend(ctx context.Context, url, dir string, log *slog.Logger) (*backend, error) {
	if url != "" {
		return &backend{URL: url, close: func() error { return nil }}, nil
	}
	srvDir := filepath.Join(dir, "server")
	// The embedded server is a self-contained CA for trials and training:
	// its face check and payment are the development providers.
	s, err := server.Start(ctx, server.Config{DataDir: srvDir, Log: log, DevProviders: true})
	if err != nil {
		return nil, fmt.Errorf("start the embedded server in %s: %w", srvDir, err)
	}
	return &backend{URL: s.URL, Embedded: true, DataDir: srvDir, close: s.Close}, nil
}

func (b *backend) Close() error { return b.close() }

// startBackendAsync is startBackend that does not wait for the embedded
// server: it opens the loopback listener (so the URL is known and early
// requests just wait in its backlog) and starts the server behind it in the
// background, so the window appears meanwhile. ready receives the start's
// outcome once.
func startBackendAsync(ctx context.Context, url, dir string, log *slog.Logger) (*backend, <-chan error, error) {
	ready := make(chan error, 1)
	if url != "" {
		ready <- nil
		return &backend{URL: url, close: func() error { return nil }}, ready, nil
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, nil, fmt.Errorf("listen on loopback: %w", err)
	}
	srvDir := filepath.Join(dir, "server")
	started := make(chan *server.Server, 1)
	go func() {
		s, err := server.Start(ctx, server.Config{DataDir: srvDir, Log: log, DevProviders: true, Listener: ln})
		if err != nil {
			ln.Close()
			err = fmt.Errorf("start the embedded server in %s: %w", srvDir, err)
			log.Error("embedded server", "err", err)
		}
		started <- s
		ready <- err
	}()
	b := &backend{URL: "http://" + ln.Addr().String(), Embedded: true, DataDir: srvDir}
	b.close = func() error {
		if s := <-started; s != nil {
			return s.Close()
		}
		return nil
	}
	return b, ready, nil
}

// settingServer is the local setting that remembers a standalone server.
const settingServer = "server"

// chooseServer decides which server to use: --server (remembered in the
// local store; "embedded" forgets it), else CERTDESK_SERVER for this run,
// else the remembered one, else "" for the embedded server.
func chooseServer(ctx context.Context, dir, flag string) (string, error) {
	st, err := appsync.Open(ctx, filepath.Join(dir, "local"))
	if err != nil {
		return "", err
	}
	defer st.Close()
	switch {
	case flag == "embedded":
		return "", st.SetSetting(ctx, settingServer, "")
	case flag != "":
		if !strings.HasPrefix(flag, "https://") && !strings.HasPrefix(flag, "http://127.0.0.1") && !strings.HasPrefix(flag, "http://localhost") {
			return "", fmt.Errorf("--server %q: a standalone server is reached over https:// (plain http only on this machine)", flag)
		}
		return flag, st.SetSetting(ctx, settingServer, flag)
	case os.Getenv("CERTDESK_SERVER") != "":
		return os.Getenv("CERTDESK_SERVER"), nil
	}
	return st.Setting(ctx, settingServer), nil
}
