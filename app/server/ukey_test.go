package server

import (
	"crypto"
	"crypto/rand"
	"crypto/sha256"
	"testing"

	"certdesk/app/api"
	"certdesk/app/apply"
	"certdesk/token"
	"certdesk/token/softhsmtest"
)

// The download and the UKEY login with a key that lives on a token
// (SoftHSM2): CSR signed on the token, certificate installed and found
// again as a pair, the server's challenge signed on the token.
func TestDownloadAndLoginWithSoftHSM(t *testing.T) {
	tk := softhsmtest.New(t, "applicant-ukey")
	m, err := token.Load(tk.ModulePath)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	tok, err := m.Find("", tk.Label)
	if err != nil {
		t.Fatal(err)
	}
	sess, err := m.Open(tok)
	if err != nil {
		t.Fatal(err)
	}
	defer sess.Close()
	if err := sess.Login([]byte(tk.PIN), false); err != nil {
		t.Fatal(err)
	}

	s := startServer(t, "")
	c, sc := applicant(t, s), staff(t, s)
	a := approved(t, s, c, sc, "hsm01")
	key, created, err := sess.KeyFor(a.ID, token.KeyAuto)
	if err != nil || !created {
		t.Fatalf("key: %v", err)
	}
	csr, err := key.CSR("")
	if err != nil {
		t.Fatal(err)
	}
	var b api.CertificateBundle
	c.ok(c.do("POST", "/applications/"+a.ID+"/certificate", api.DownloadRequest{CSR: csr, Code: codeFromOutbox(t, s, a.ID)}), &b)
	if _, err := key.Install(b.Certificate); err != nil {
		t.Fatal(err)
	}
	if got := c.app(a.ID); got.State != apply.StateIssued {
		t.Fatalf("state %s", got.State)
	}
	pairs, err := sess.Pairs()
	if err != nil || len(pairs) != 1 {
		t.Fatalf("pairs: %d %v", len(pairs), err)
	}
	anon := newClient(t, s)
	var n api.Nonce
	anon.ok(anon.do("POST", api.PathLoginNonce, nil), &n)
	h := sha256.Sum256(api.LoginMessage(n.Nonce))
	sig, err := pairs[0].Key.Sign(rand.Reader, h[:], crypto.SHA256)
	if err != nil {
		t.Fatal(err)
	}
	var out api.Session
	anon.ok(anon.do("POST", api.PathUKEYLogin, api.UKEYLoginRequest{Nonce: n.Nonce, Certificate: pairs[0].Cert.Raw, Signature: sig}), &out)
	if out.Token == "" {
		t.Fatal("no session")
	}
}
