package server

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"testing"

	"certdesk/app/api"
	"certdesk/app/server/service"
	"certdesk/token"
	"certdesk/token/softhsmtest"
)

// The issuing CA's key made on, and used from, a PKCS#11 HSM (SoftHSM2):
// no issuing key file is written, certificates chain, a restart finds the
// same key, and a dead HSM session is reconnected transparently.
func TestCAKeyInHSM(t *testing.T) {
	tk := softhsmtest.New(t, "ca-hsm")
	dir := t.TempDir()
	hsm := &HSMConfig{Module: tk.ModulePath, Token: tk.Label, PIN: []byte(tk.PIN), KeyType: token.KeyRSA}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	start := func() *Server {
		s, err := Start(context.Background(), Config{DataDir: dir, Log: log, HSM: hsm, Service: service.Config{Params: fastParams}})
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	s := start()
	if _, err := os.Stat(filepath.Join(dir, "ca", "issuing.key")); !os.IsNotExist(err) {
		t.Fatalf("an issuing key file was written beside the HSM key: %v", err)
	}
	issuer := s.Service.CA().Issuer()
	c, sc := applicant(t, s), staff(t, s)
	a := approved(t, s, c, sc, "hsmca01")
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	var b api.CertificateBundle
	c.ok(c.do("POST", "/applications/"+a.ID+"/certificate", api.DownloadRequest{CSR: makeCSR(t, key, ""), Code: codeFromOutbox(t, s, a.ID)}), &b)
	cert := verifyChain(t, &b)
	if err := cert.CheckSignatureFrom(issuer); err != nil {
		t.Fatal(err)
	}
	// The HSM session dies under the CA: the next signature reconnects.
	h := s.Service.CA().Key().(*hsmSigner)
	h.sess.Close()
	if _, err := s.Service.CRL(context.Background()); err != nil {
		t.Fatalf("CRL after the HSM session died: %v", err)
	}
	s.Close()
	s2 := start()
	defer s2.Close()
	if !s2.Service.CA().Issuer().Equal(issuer) {
		t.Fatal("a restart made a new issuing CA")
	}
	crl, _ := s2.Service.CRL(context.Background())
	if l, err := x509.ParseRevocationList(crl); err != nil || l.CheckSignatureFrom(issuer) != nil {
		t.Fatalf("CRL signed by the HSM key after restart: %v", err)
	}
}
