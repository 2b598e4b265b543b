package main

import (
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"math/big"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"certdesk/app/diag"
	"certdesk/token"
	"certdesk/token/softhsmtest"
)

// `certdesk diag --json` on this machine reports the SoftHSM2 module, the
// token and the certificate on it.
func TestDiagJSONReportsTheUKEY(t *testing.T) {
	tk := softhsmtest.New(t, "diag-ukey")
	m, err := token.Load(tk.ModulePath)
	if err != nil {
		t.Fatal(err)
	}
	tok, _ := m.Find("", tk.Label)
	s, err := m.Open(tok)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Login([]byte(tk.PIN), false); err != nil {
		t.Fatal(err)
	}
	k, _, err := s.KeyFor("diag-app", token.KeyAuto)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(4242), Subject: pkix.Name{CommonName: "福州示例软件有限公司"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().AddDate(1, 0, 0), KeyUsage: x509.KeyUsageDigitalSignature}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, k.Public(), k)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := k.Install(der); err != nil {
		t.Fatal(err)
	}
	s.Close()
	m.Close()

	cmd := exec.Command(certdeskBinary(t), "diag", "--json")
	cmd.Env = append(os.Environ(), "CERTDESK_HOME="+t.TempDir(), token.EnvModule+"="+tk.ModulePath)
	out, _ := cmd.Output() // exit status 1 is fine: other checks may be red here
	var r diag.Report
	if err := json.Unmarshal(out, &r); err != nil {
		t.Fatalf("not JSON: %v\n%s", err, out)
	}
	byID := map[string]diag.Check{}
	for _, c := range r.Checks {
		byID[c.ID] = c
	}
	if c := byID["pkcs11"]; c.Level != diag.Green || !strings.Contains(c.Detail, tk.ModulePath) {
		t.Errorf("module check: %+v", c)
	}
	if c := byID["tokens"]; c.Level != diag.Green || !strings.Contains(c.Detail, "diag-ukey") {
		t.Errorf("token check: %+v", c)
	}
	if c := byID["certificates"]; c.Level != diag.Green || !strings.Contains(c.Detail, "福州示例软件有限公司") || !strings.Contains(c.Detail, "1092") {
		t.Errorf("certificate check: %+v", c)
	}
	if c := byID["server"]; c.Level != diag.Green {
		t.Errorf("embedded server check: %+v", c)
	}
}

// `certdesk diag --bundle` writes the zip.
func TestDiagBundleCommand(t *testing.T) {
	home := t.TempDir()
	os.MkdirAll(home+"/logs", 0o700)
	os.WriteFile(home+"/logs/certdesk.log", []byte("level=ERROR msg=x pin=778899 mobile=13812345678\n"), 0o600)
	zip := t.TempDir() + "/support.zip"
	cmd := exec.Command(certdeskBinary(t), "diag", "--bundle", zip)
	cmd.Env = append(os.Environ(), "CERTDESK_HOME="+home)
	cmd.Run()
	b, err := os.ReadFile(zip)
	if err != nil || len(b) < 100 {
		t.Fatalf("bundle: %v (%d bytes)", err, len(b))
	}
}
