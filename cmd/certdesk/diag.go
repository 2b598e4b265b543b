package main

import (
	"bytes"
	"certdesk/ui"
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"

	"certdesk/app/apply"
	"certdesk/app/atomicfile"
	"certdesk/app/diag"
	"certdesk/app/previewexec"
	appsync "certdesk/app/sync"
	"certdesk/token"
)

// logPath is the client's log file under the data directory.
func logPath(dir string) string { return filepath.Join(dir, "logs", "certdesk.log") }

// openLog opens the log file for appending, starting a new one (and
// keeping the previous as .1) past 2 MB, so support always has recent
// history and the disk never fills.
func openLog(dir string) (*os.File, error) {
	p := logPath(dir)
	if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
		return nil, err
	}
	if fi, err := os.Stat(p); err == nil && fi.Size() > 2<<20 {
		_ = os.Rename(p, p+".1") // best effort: if it fails the log grows, it is not lost
	}
	return os.OpenFile(p, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
}

// diagEnv gathers what the checks look at on this PC.
func diagEnv(ctx context.Context, dir, serverURL string) (diag.Env, map[string]string) {
	env := diag.Env{Version: version, DataDir: dir, ServerURL: serverURL, Modules: token.Discover(os.Getenv(token.EnvModule)), LogFile: logPath(dir)}
	if h, err := previewexec.Helper(); err == nil {
		env.Helpers = []string{h}
	}
	settings := map[string]string{}
	if st, err := appsync.Open(ctx, filepath.Join(dir, "local")); err == nil {
		defer st.Close()
		l := &diag.Local{}
		l.Drafts, _ = st.UnsentDrafts(ctx)
		if qs, err := st.Uploads(ctx); err == nil {
			for _, q := range qs {
				switch q.State {
				case "queued":
					l.QueuedUploads++
				case "failed":
					l.FailedUploads++
				}
			}
		}
		settings, _ = st.Settings(ctx)
		l.Settings = settings
		env.Local = l
	}
	return env, settings
}

// runDiag is `certdesk diag [--json] [--bundle FILE.zip]`: the self-check
// for support staff, headless. Exit status 1 when a check is red.
func runDiag(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("diag", flag.ContinueOnError)
	fs.SetOutput(stderr)
	asJSON := fs.Bool("json", false, "print the report as JSON")
	bundle := fs.String("bundle", "", "also write a redacted support bundle (zip) to this file")
	langFlag := fs.String("lang", "", "zh or en (default: the system's)")
	if err := fs.Parse(args); err != nil {
		return exitUsage
	}
	dir, err := dataDir()
	if err != nil {
		fmt.Fprintln(stderr, err)
		return exitFail
	}
	serverURL, _ := chooseServer(ctx, dir, "")
	embedded := serverURL == ""
	if embedded {
		// The embedded server runs inside the GUI; diag starts it briefly
		// to check it the same way.
		if be, err := startBackend(ctx, "", dir, quietLog()); err == nil {
			defer be.Close()
			serverURL = be.URL
		}
	}
	env, settings := diagEnv(ctx, dir, serverURL)
	env.Embedded = embedded
	r := diag.Run(ctx, env)
	if *asJSON {
		if err := writeJSON(stdout, r); err != nil {
			fmt.Fprintln(stderr, err)
			return exitFail
		}
	} else {
		fmt.Fprint(stdout, r.Text(pickLang(*langFlag)))
	}
	if *bundle != "" {
		if err := writeBundle(*bundle, r, dir, settings); err != nil {
			fmt.Fprintln(stderr, "bundle:", err)
			return exitFail
		}
		fmt.Fprintln(stderr, "支持包 / support bundle:", *bundle)
	}
	if r.Worst() == diag.Red {
		return exitFail
	}
	return exitOK
}

func writeBundle(path string, r diag.Report, dir string, settings map[string]string) error {
	var buf bytes.Buffer
	if err := diag.Bundle(&buf, r, []string{logPath(dir), logPath(dir) + ".1"}, settings); err != nil {
		return err
	}
	return atomicfile.WriteFile(path, buf.Bytes(), 0o600)
}

func quietLog() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

func pickLang(flag string) apply.Lang {
	switch flag {
	case "en":
		return apply.EN
	case "zh":
		return apply.ZH
	}
	if l := os.Getenv("LANG"); len(l) >= 2 && l[:2] == "en" {
		return apply.EN
	}
	return apply.ZH
}

// runDiagWindow is `certdesk --diag`: the same checks in a window, live,
// with the bundle export.
func runDiagWindow(ctx context.Context, serverFlag string) int {
	dir, err := dataDir()
	if err != nil {
		return exitFail
	}
	serverURL, _ := chooseServer(ctx, dir, serverFlag)
	embedded := serverURL == ""
	if embedded {
		if be, err := startBackend(ctx, "", dir, quietLog()); err == nil {
			defer be.Close()
			serverURL = be.URL
		}
	}
	var settings map[string]string
	err = ui.RunDiag(ctx, ui.DiagOptions{
		Lang: ui.SystemLang(),
		Run: func(ctx context.Context) diag.Report {
			env, s := diagEnv(ctx, dir, serverURL)
			env.Embedded = embedded
			settings = s
			return diag.Run(ctx, env)
		},
		Bundle: func(w io.Writer, r diag.Report) error {
			return diag.Bundle(w, r, []string{logPath(dir), logPath(dir) + ".1"}, settings)
		},
	})
	if err != nil {
		return exitFail
	}
	return exitOK
}
