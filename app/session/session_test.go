package session

import (
	"bytes"
	"errors"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// TestMain re-runs the tests inside a private D-Bus session with
// gnome-keyring's Secret Service when they are available, so that the
// keyring store is tested against a real keyring, not a stand-in.
func TestMain(m *testing.M) {
	if os.Getenv("CERTDESK_IN_DBUS") == "" && os.Getenv("DBUS_SESSION_BUS_ADDRESS") == "" {
		if _, err := exec.LookPath("dbus-run-session"); err == nil {
			if _, err := exec.LookPath("gnome-keyring-daemon"); err == nil {
				script := `printf '\n' | gnome-keyring-daemon --unlock --components=secrets >/dev/null 2>&1; exec "$@"`
				cmd := exec.Command("dbus-run-session", append([]string{"--", "sh", "-c", script, "sh", os.Args[0]}, os.Args[1:]...)...)
				cmd.Env = append(os.Environ(), "CERTDESK_IN_DBUS=1")
				cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
				if err := cmd.Run(); err != nil {
					if ee, ok := err.(*exec.ExitError); ok {
						os.Exit(ee.ExitCode())
					}
					os.Exit(1)
				}
				os.Exit(0)
			}
		}
	}
	os.Exit(m.Run())
}

func exercise(t *testing.T, s Store) {
	t.Helper()
	srv := "https://ca.example.cn"
	if _, err := s.Get(srv); !errors.Is(err, ErrNone) {
		t.Fatalf("empty store: %v", err)
	}
	if err := s.Set(srv, "tok-1"); err != nil {
		t.Fatal(err)
	}
	if err := s.Set("http://127.0.0.1:1234", "tok-2"); err != nil {
		t.Fatal(err)
	}
	if got, err := s.Get(srv); err != nil || got != "tok-1" {
		t.Fatalf("get: %q %v", got, err)
	}
	if err := s.Delete(srv); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Get(srv); !errors.Is(err, ErrNone) {
		t.Fatalf("after delete: %v", err)
	}
	if got, _ := s.Get("http://127.0.0.1:1234"); got != "tok-2" {
		t.Fatalf("other server's token lost: %q", got)
	}
	s.Delete("http://127.0.0.1:1234")
}

func TestKeyringStore(t *testing.T) {
	s := Open(t.TempDir(), slog.New(slog.NewTextHandler(io.Discard, nil)))
	if s.Kind() != "keyring" {
		if os.Getenv("CI") != "" && os.Getenv("CERTDESK_IN_DBUS") != "" {
			t.Fatal("gnome-keyring is running but the keyring store was not chosen")
		}
		t.Skip("no Secret Service here")
	}
	exercise(t, s)
}

func TestFileStore(t *testing.T) {
	dir := t.TempDir()
	f := &File{Dir: dir}
	exercise(t, f)
	f.Set("s", "secret-token-value")
	b, _ := os.ReadFile(filepath.Join(dir, "session.bin"))
	if bytes.Contains(b, []byte("secret-token-value")) {
		t.Fatal("token stored in clear")
	}
	fi, _ := os.Stat(filepath.Join(dir, "session.key"))
	if fi.Mode().Perm() != 0o600 {
		t.Fatalf("key file mode %v", fi.Mode())
	}
	// Without its key file the token cannot be read back: a damaged or
	// copied file means logging in again, never a crash.
	os.Remove(filepath.Join(dir, "session.key"))
	if _, err := (&File{Dir: dir}).Get("s"); !errors.Is(err, ErrNone) {
		t.Fatalf("read without the key: %v", err)
	}
}
