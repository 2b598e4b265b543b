package token

import (
	"debug/pe"
	"encoding/binary"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/miekg/pkcs11"
)

// minimalPE writes the smallest file debug/pe accepts: a DOS stub
// pointing at a PE signature and a COFF header for machine.
func minimalPE(t *testing.T, machine uint16) string {
	t.Helper()
	b := make([]byte, 1024) // debug/pe reads past the headers
	b[0], b[1] = 'M', 'Z'
	binary.LittleEndian.PutUint32(b[0x3c:], 0x40)
	copy(b[0x40:], "PE\x00\x00")
	binary.LittleEndian.PutUint16(b[0x44:], machine)
	p := filepath.Join(t.TempDir(), "vendor.dll")
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestCheckArch(t *testing.T) {
	if err := CheckArch(minimalPE(t, pe.IMAGE_FILE_MACHINE_AMD64), pe.IMAGE_FILE_MACHINE_AMD64); err != nil {
		t.Errorf("64-bit DLL refused: %v", err)
	}
	err := CheckArch(minimalPE(t, pe.IMAGE_FILE_MACHINE_I386), pe.IMAGE_FILE_MACHINE_AMD64)
	if !errors.Is(err, ErrModuleArch) || !strings.Contains(err.Error(), "64-bit driver") {
		t.Errorf("32-bit DLL: %v", err)
	}
	if err := CheckArch("/usr/lib/softhsm/libsofthsm2.so", pe.IMAGE_FILE_MACHINE_AMD64); err != nil {
		t.Errorf("an ELF library is not a PE problem: %v", err)
	}
}

func TestCandidates(t *testing.T) {
	pf := t.TempDir()
	vendorDir := filepath.Join(pf, "Feitian")
	os.MkdirAll(vendorDir, 0o755)
	os.WriteFile(filepath.Join(vendorDir, "eps2003csp11.dll"), []byte("x"), 0o644)
	t.Setenv(EnvModule, "/opt/custom/pkcs11.so")
	c := Candidates("/etc/certdesk/module.so", "windows", `C:\Windows`, []string{pf})
	if c[0] != "/etc/certdesk/module.so" || c[1] != "/opt/custom/pkcs11.so" {
		t.Fatalf("explicit and env first: %v", c[:2])
	}
	joined := strings.Join(c, "\n")
	if !strings.Contains(joined, `C:\Windows\System32\opensc-pkcs11.dll`) || !strings.Contains(joined, filepath.Join(vendorDir, "eps2003csp11.dll")) ||
		!strings.Contains(joined, pf+`\OpenSC Project\OpenSC\pkcs11\opensc-pkcs11.dll`) {
		t.Fatalf("windows candidates: %v", c)
	}
	if got, err := Find([]string{"/no/such", filepath.Join(vendorDir, "eps2003csp11.dll")}); err != nil || !strings.HasSuffix(got, "eps2003csp11.dll") {
		t.Fatalf("find: %q %v", got, err)
	}
	if _, err := Find([]string{"/no/such"}); !errors.Is(err, ErrModule) {
		t.Fatalf("nothing found: %v", err)
	}
	if l := Candidates("", "linux", "", nil); !strings.Contains(strings.Join(l, " "), "libsofthsm2.so") {
		t.Fatalf("linux candidates: %v", l)
	}
}

// SoftHSM never sets "final try" or "locked" (see TestWrongPINOnSoftHSM),
// so the decision taken on them is tested here on its own.
func TestBeforeLogin(t *testing.T) {
	tests := []struct {
		f        Flags
		finalTry bool
		want     error
	}{
		{Flags{}, false, nil},
		{Flags{PINCountLow: true}, false, nil},
		{Flags{PINFinalTry: true}, false, ErrPINFinalTry},
		{Flags{PINFinalTry: true}, true, nil},
		{Flags{PINLocked: true}, true, ErrPINLocked},
	}
	for _, tt := range tests {
		if err := beforeLogin(tt.f, tt.finalTry); !errors.Is(err, tt.want) || (tt.want == nil && err != nil) {
			t.Errorf("beforeLogin(%+v, %v) = %v, want %v", tt.f, tt.finalTry, err, tt.want)
		}
	}
	for code, want := range map[uint]error{0x32: ErrTokenRemoved, 0xE0: ErrTokenRemoved, 0xB3: ErrSessionGone, 0xA0: ErrWrongPIN, 0xA4: ErrPINLocked, 0xA3: ErrPINExpired, 0x101: ErrNotLoggedIn} {
		if err := mapErr("op", pkcs11Error(code)); !errors.Is(err, want) {
			t.Errorf("code 0x%X: %v, want %v", code, err, want)
		}
	}
}

func pkcs11Error(code uint) error { return pkcs11.Error(code) }
