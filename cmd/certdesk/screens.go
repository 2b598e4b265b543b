//go:build screens

package main

import (
	"certdesk/app/server/devprov"
	"context"
	"crypto/rand"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"math/big"
	"os"
	"os/exec"
	"path/filepath"

	"certdesk/app/server"
	"certdesk/ui"
)

// runScreens refreshes the README's screenshots: a throwaway embedded
// server with the development providers, a throwaway SoftHSM token as the
// UKEY, and a scripted applicant walked through every screen in a real
// window. It is a developer's command (Linux with SoftHSM2 and a display,
// Xvfb on servers), so it is not listed in the usage text.
func runScreens(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("screens", flag.ContinueOnError)
	fs.SetOutput(stderr)
	out := fs.String("out", filepath.Join("assets", "screenshots"), "directory for the PNG files")
	module := fs.String("module", "/usr/lib/softhsm/libsofthsm2.so", "SoftHSM2 PKCS#11 module")
	if err := fs.Parse(args); err != nil {
		return exitUsage
	}
	if msg := noDisplay(); msg != "" {
		fmt.Fprint(stderr, msg)
		return exitNoDisplay
	}
	// The light theme unless asked otherwise: what Windows shows by
	// default (Fyne follows its light/dark setting; a Linux display with
	// no desktop says nothing and Fyne drew it dark).
	if os.Getenv("FYNE_THEME") == "" {
		os.Setenv("FYNE_THEME", "light")
	}
	if err := screens(ctx, *out, *module, stdout); err != nil {
		fmt.Fprintln(stderr, "screens:", err)
		return exitFail
	}
	return exitOK
}

func screens(ctx context.Context, out, module string, stdout io.Writer) error {
	tmp, err := os.MkdirTemp("", "certdesk-screens-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	// The throwaway token's PIN, made up for this run.
	n, err := rand.Int(rand.Reader, big.NewInt(1_000_000))
	if err != nil {
		return err
	}
	pin := fmt.Sprintf("%06d", n)
	if err := softhsmToken(tmp, "CertDesk-UKEY", pin); err != nil {
		return err
	}
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	srv, err := server.Start(ctx, server.Config{DataDir: filepath.Join(tmp, "server"), Log: quiet, DevProviders: true})
	if err != nil {
		return err
	}
	defer srv.Close()
	staff := srv.DevStaff("screens")
	files, err := ui.RunScreens(ctx, ui.ScreenConfig{
		ServerURL: srv.URL, Module: module, PIN: pin, DataDir: filepath.Join(tmp, "client"), Out: out, Lang: ui.SystemLang(),
		Render:  renderer(filepath.Join(tmp, "client", "cache", "pdfium")),
		Approve: staff.Approve, ConfirmTransfer: staff.ConfirmTransfer, Code: staff.Code,
		Phone: devprov.Phone,
	})
	for _, f := range files {
		fmt.Fprintln(stdout, f)
	}
	return err
}

// softhsmToken makes an empty SoftHSM2 token in dir and points the module
// at it through SOFTHSM2_CONF.
func softhsmToken(dir, label, pin string) error {
	tokens := filepath.Join(dir, "tokens")
	if err := os.MkdirAll(tokens, 0o700); err != nil {
		return err
	}
	conf := filepath.Join(dir, "softhsm2.conf")
	if err := os.WriteFile(conf, []byte("directories.tokendir = "+tokens+"\nobjectstore.backend = file\nlog.level = ERROR\n"), 0o600); err != nil {
		return err
	}
	os.Setenv("SOFTHSM2_CONF", conf)
	cmd := exec.Command("softhsm2-util", "--init-token", "--free", "--label", label, "--pin", pin, "--so-pin", "13579135")
	if b, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("softhsm2-util: %v: %s", err, b)
	}
	return nil
}
