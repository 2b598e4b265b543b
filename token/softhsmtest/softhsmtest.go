// Package softhsmtest makes throwaway SoftHSM2 tokens for tests: a
// softhsm2.conf in a temporary directory, SOFTHSM2_CONF pointing at it for
// the test, and one initialised token. It is imported only by tests.
package softhsmtest

import (
	"crypto/rand"
	"math/big"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// Module is Debian's SoftHSM2 PKCS#11 module.
const Module = "/usr/lib/softhsm/libsofthsm2.so"

// Token is one throwaway token.
type Token struct {
	Dir, Conf  string
	Label      string
	PIN, SOPIN string
	ModulePath string
}

// New initialises a token labelled label for this test. Tests using it
// must not run in parallel: SOFTHSM2_CONF is process-wide.
func New(t testing.TB, label string) *Token {
	t.Helper()
	tok := Blank(t)
	// Random PINs: nothing in the tree is a PIN worth copying.
	tok.Label, tok.PIN, tok.SOPIN = label, digits(6), digits(8)
	out, err := exec.Command("softhsm2-util", "--init-token", "--free", "--label", label, "--pin", tok.PIN, "--so-pin", tok.SOPIN).CombinedOutput()
	if err != nil {
		t.Fatalf("softhsm2-util: %v\n%s", err, out)
	}
	return tok
}

// Blank is a SoftHSM2 configuration for this test with no token
// initialised: its one free slot is a blank UKEY, as a CA receives them.
func Blank(t testing.TB) *Token {
	t.Helper()
	if _, err := os.Stat(Module); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("SoftHSM2 is required in CI: %v", err)
		}
		t.Skip("SoftHSM2 not installed (apt-get install softhsm2)")
	}
	dir := t.TempDir()
	tokens := filepath.Join(dir, "tokens")
	if err := os.MkdirAll(tokens, 0o700); err != nil {
		t.Fatal(err)
	}
	conf := filepath.Join(dir, "softhsm2.conf")
	body := "directories.tokendir = " + tokens + "\nobjectstore.backend = file\nlog.level = ERROR\nslots.removable = false\n"
	if err := os.WriteFile(conf, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("SOFTHSM2_CONF", conf)
	return &Token{Dir: dir, Conf: conf, ModulePath: Module}
}

// Tool runs pkcs11-tool on the token's module.
func (tk *Token) Tool(t testing.TB, args ...string) string {
	t.Helper()
	if _, err := exec.LookPath("pkcs11-tool"); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("pkcs11-tool (opensc) is required in CI: %v", err)
		}
		t.Skip("pkcs11-tool not installed (apt-get install opensc)")
	}
	out, err := exec.Command("pkcs11-tool", append([]string{"--module", tk.ModulePath, "--token-label", tk.Label}, args...)...).CombinedOutput()
	if err != nil {
		t.Fatalf("pkcs11-tool %v: %v\n%s", args, err, out)
	}
	return string(out)
}

func digits(n int) string {
	b := make([]byte, n)
	for i := range b {
		d, _ := rand.Int(rand.Reader, big.NewInt(10))
		if i == 0 {
			d, _ = rand.Int(rand.Reader, big.NewInt(9))
			d.Add(d, big.NewInt(1)) // never all zeros: tests use 000000 as the wrong PIN
		}
		b[i] = byte('0' + d.Int64())
	}
	return string(b)
}
