package token

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"math/big"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"certdesk/token/softhsmtest"
)

// open loads the module for a fresh token and returns a logged-in session.
// loadToken makes a throwaway SoftHSM2 token and loads its module, closed
// when the test ends.
func loadToken(t *testing.T, label string) (*softhsmtest.Token, *Module) {
	t.Helper()
	tk := softhsmtest.New(t, label)
	m, err := Load(tk.ModulePath)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close() })
	return tk, m
}

func open(t *testing.T, label string) (*softhsmtest.Token, *Module, *Session) {
	t.Helper()
	tk, m := loadToken(t, label)
	tok, err := m.Find("", label)
	if err != nil {
		t.Fatal(err)
	}
	s, err := m.Open(tok)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	if err := s.Login([]byte(tk.PIN), false); err != nil {
		t.Fatal(err)
	}
	return tk, m, s
}

// issue signs a certificate for pub with a throwaway CA, as the server would.
func issue(t *testing.T, pub crypto.PublicKey, cn string) []byte {
	t.Helper()
	caKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	ca := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "Test CA"}, IsCA: true, BasicConstraintsValid: true,
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), KeyUsage: x509.KeyUsageCertSign}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: pkix.Name{CommonName: cn},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().AddDate(1, 0, 0), KeyUsage: x509.KeyUsageDigitalSignature}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, pub, caKey)
	if err != nil {
		t.Fatal(err)
	}
	return der
}

func TestModuleAndTokens(t *testing.T) {
	_, m := loadToken(t, "ukey-a")
	if !strings.Contains(m.Info.Manufacturer, "SoftHSM") || m.Info.Cryptoki == "" {
		t.Errorf("module info: %+v", m.Info)
	}
	ts, err := m.Tokens()
	if err != nil || len(ts) != 1 { // SoftHSM's spare uninitialised slot is not listed
		t.Fatalf("tokens: %+v %v", ts, err)
	}
	tok := ts[0]
	if tok.Label != "ukey-a" || tok.Serial == "" || !tok.Flags.LoginRequired || !tok.has("EC_KEY_PAIR_GEN") || !tok.has("RSA_PKCS") {
		t.Errorf("token: %+v", tok)
	}
	if _, err := m.Find("no-such-serial", ""); !errors.Is(err, ErrNoToken) {
		t.Errorf("find: %v", err)
	}
	if _, err := Load(filepath.Join(t.TempDir(), "missing.so")); !errors.Is(err, ErrModule) {
		t.Errorf("missing module: %v", err)
	}
	notLib := filepath.Join(t.TempDir(), "fake.so")
	os.WriteFile(notLib, []byte("not a library"), 0o644)
	if _, err := Load(notLib); !errors.Is(err, ErrModule) {
		t.Errorf("not a library: %v", err)
	}
}

// SoftHSM never counts wrong PINs: 20 wrong tries leave the token unlocked
// and its tries-left flags unset. Recorded here because real UKEYs lock
// after 3 to 10 tries, and our code must not depend on either.
func TestWrongPINOnSoftHSM(t *testing.T) {
	tk, m := loadToken(t, "ukey-pin")
	tok, _ := m.Find("", "ukey-pin")
	s, err := m.Open(tok)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	for i := 0; i < 20; i++ {
		pin := []byte("000000")
		err := s.Login(pin, false)
		var pe *PINError
		if !errors.As(err, &pe) || !errors.Is(err, ErrWrongPIN) {
			t.Fatalf("try %d: %v", i, err)
		}
		if !bytes.Equal(pin, make([]byte, 6)) {
			t.Fatal("PIN buffer not cleared")
		}
	}
	f, _ := s.Flags()
	t.Logf("SoftHSM flags after 20 wrong PINs: %+v", f)
	if f.PINLocked {
		t.Fatal("SoftHSM locked the PIN: update the README's note on its behaviour")
	}
	if err := s.Login([]byte(tk.PIN), false); err != nil {
		t.Fatalf("right PIN after 20 wrong ones: %v", err)
	}
	// Logged in once, a second login (another session) is success.
	s2, _ := m.Open(tok)
	defer s2.Close()
	if err := s2.Login([]byte("anything"), false); err != nil {
		t.Fatalf("already logged in: %v", err)
	}
}

func TestKeysSignerCSRInstall(t *testing.T) {
	for _, kt := range []KeyType{KeyEC256, KeyRSA} {
		t.Run(string(kt), func(t *testing.T) {
			tk, _, s := open(t, "ukey-"+string(kt))
			k, err := s.GenerateKey("app1", kt)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(k.ID, KeyID(k.Public())) || k.Label != "certdesk:app1" {
				t.Fatalf("key: id %x label %s", k.ID, k.Label)
			}
			msg := []byte("CertDesk UKEY login\nnonce")
			h := sha256.Sum256(msg)
			sig, err := k.Sign(rand.Reader, h[:], crypto.SHA256)
			if err != nil {
				t.Fatal(err)
			}
			switch pub := k.Public().(type) {
			case *ecdsa.PublicKey:
				if !ecdsa.VerifyASN1(pub, h[:], sig) {
					t.Fatal("ECDSA signature does not verify")
				}
			case *rsa.PublicKey:
				if err := rsa.VerifyPKCS1v15(pub, crypto.SHA256, h[:], sig); err != nil {
					t.Fatal(err)
				}
			}
			csrDER, err := k.CSR("福州示例软件有限公司")
			if err != nil {
				t.Fatal(err)
			}
			csr, err := x509.ParseCertificateRequest(csrDER)
			if err != nil || csr.CheckSignature() != nil {
				t.Fatalf("CSR: %v", err)
			}
			// A certificate for another key is refused.
			other, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
			if _, err := k.Install(issue(t, &other.PublicKey, "x")); !errors.Is(err, ErrMismatch) {
				t.Fatalf("foreign certificate: %v", err)
			}
			der := issue(t, csr.PublicKey, "福州示例软件有限公司")
			if _, err := k.Install(der); err != nil {
				t.Fatal(err)
			}
			if _, err := k.Install(der); err != nil { // resume: the same certificate again is a no-op
				t.Fatalf("second install: %v", err)
			}
			c, err := k.Certificate()
			if err != nil || c == nil || !bytes.Equal(c.Raw, der) {
				t.Fatalf("read back: %v", err)
			}
			pairs, err := s.Pairs()
			if err != nil || len(pairs) != 1 || !bytes.Equal(pairs[0].Cert.Raw, der) {
				t.Fatalf("pairs: %d %v", len(pairs), err)
			}
			certs, _ := s.Certificates()
			if len(certs) != 1 {
				t.Fatalf("certificates: %d", len(certs))
			}

			// Interop: pkcs11-tool sees a sensitive, never-extractable key
			// with the certificate's CKA_ID.
			out := tk.Tool(t, "--list-objects", "--login", "--pin", tk.PIN)
			id := hex.EncodeToString(k.ID)
			blocks := objectBlocks(out)
			if len(blocks) != 3 {
				t.Fatalf("pkcs11-tool lists %d objects:\n%s", len(blocks), out)
			}
			for _, b := range blocks {
				if !strings.Contains(b, "ID:         "+id) || !strings.Contains(b, "label:      certdesk:app1") {
					t.Errorf("object without the shared ID %s or label:\n%s", id, b)
				}
				if strings.HasPrefix(b, "Private Key") && (!strings.Contains(b, "Access:     sensitive, always sensitive, never extractable, local") ||
					!strings.Contains(b, "Usage:      sign\n")) {
					t.Errorf("private key is not a sensitive, never-extractable, sign-only key:\n%s", b)
				}
			}
			// OpenSSL verifies what our signer signed.
			verifyWithOpenSSL(t, k.Public(), msg, sig)
		})
	}
}

func verifyWithOpenSSL(t *testing.T, pub crypto.PublicKey, msg, sig []byte) {
	t.Helper()
	if _, err := exec.LookPath("openssl"); err != nil {
		t.Skip("openssl not installed")
	}
	dir := t.TempDir()
	spki, _ := x509.MarshalPKIXPublicKey(pub)
	os.WriteFile(filepath.Join(dir, "pub.pem"), pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: spki}), 0o644)
	os.WriteFile(filepath.Join(dir, "msg"), msg, 0o644)
	os.WriteFile(filepath.Join(dir, "sig"), sig, 0o644)
	out, err := exec.Command("openssl", "dgst", "-sha256", "-verify", filepath.Join(dir, "pub.pem"), "-signature", filepath.Join(dir, "sig"), filepath.Join(dir, "msg")).CombinedOutput()
	if err != nil || !strings.Contains(string(out), "Verified OK") {
		t.Fatalf("openssl: %v %s", err, out)
	}
}

// A key made by pkcs11-tool is usable through our signer.
func TestForeignKeyThroughOurSigner(t *testing.T) {
	tk, _, s := open(t, "ukey-foreign")
	tk.Tool(t, "--login", "--pin", tk.PIN, "--keypairgen", "--key-type", "EC:prime256v1", "--id", "a1b2", "--label", LabelPrefix+"foreign")
	keys, err := s.Keys("foreign")
	if err != nil || len(keys) != 1 {
		t.Fatalf("keys: %d %v", len(keys), err)
	}
	h := sha256.Sum256([]byte("x"))
	sig, err := keys[0].Sign(rand.Reader, h[:], crypto.SHA256)
	if err != nil || !ecdsa.VerifyASN1(keys[0].Public().(*ecdsa.PublicKey), h[:], sig) {
		t.Fatalf("sign with a pkcs11-tool key: %v", err)
	}
}

// Resume after an interruption at each step ends with one key pair and one
// certificate: a crash after keygen, after the CSR, after the download.
func TestResumeNeverMakesASecondKey(t *testing.T) {
	_, m, s := open(t, "ukey-resume")
	k1, created, err := s.KeyFor("app9", KeyAuto)
	if err != nil || !created {
		t.Fatalf("first: %v %v", created, err)
	}
	// Interrupted after keygen: a new session (as after a restart) finds it.
	tok, _ := m.Find("", "ukey-resume")
	s2, _ := m.Open(tok)
	defer s2.Close()
	k2, created, err := s2.KeyFor("app9", KeyAuto)
	if err != nil || created || !bytes.Equal(k1.ID, k2.ID) {
		t.Fatalf("after keygen: created=%v %v", created, err)
	}
	// Interrupted after the CSR: nothing was stored, the same key signs again.
	csr1, _ := k2.CSR("")
	csr2, _ := k2.CSR("")
	c1, _ := x509.ParseCertificateRequest(csr1)
	c2, _ := x509.ParseCertificateRequest(csr2)
	if !samePublic(c1.PublicKey, c2.PublicKey) {
		t.Fatal("two CSRs for two keys")
	}
	// Interrupted after the download: the same certificate arrives again.
	der := issue(t, c1.PublicKey, "x")
	if _, err := k2.Install(der); err != nil {
		t.Fatal(err)
	}
	k3, created, _ := s2.KeyFor("app9", KeyAuto)
	if created {
		t.Fatal("a second key after installation")
	}
	if c, _ := k3.Certificate(); c == nil || !bytes.Equal(c.Raw, der) {
		t.Fatal("installed certificate not found on resume")
	}
	keys, _ := s2.Keys("")
	certs, _ := s2.Certificates()
	if len(keys) != 1 || len(certs) != 1 {
		t.Fatalf("%d keys, %d certificates", len(keys), len(certs))
	}
}

// A session closed under us (token pulled, module reset) is a typed error,
// and a new session and login make the same key usable again.
func TestSessionClosedMidOperation(t *testing.T) {
	tk, m, s := open(t, "ukey-closed")
	k, err := s.GenerateKey("app5", KeyEC256)
	if err != nil {
		t.Fatal(err)
	}
	if err := m.ctx.CloseAllSessions(s.tok.Slot); err != nil {
		t.Fatal(err)
	}
	h := sha256.Sum256([]byte("x"))
	if _, err := k.Sign(rand.Reader, h[:], crypto.SHA256); !errors.Is(err, ErrSessionGone) {
		t.Fatalf("sign on a closed session: %v", err)
	}
	s2, err := m.Open(s.tok)
	if err != nil {
		t.Fatal(err)
	}
	defer s2.Close()
	if err := s2.Login([]byte(tk.PIN), false); err != nil {
		t.Fatal(err)
	}
	keys, _ := s2.Keys("app5")
	if len(keys) != 1 {
		t.Fatal("key lost")
	}
	if _, err := keys[0].Sign(rand.Reader, h[:], crypto.SHA256); err != nil {
		t.Fatalf("retry: %v", err)
	}
}

// objectBlocks splits pkcs11-tool --list-objects output into one block per
// object (a header line and its indented attributes).
func objectBlocks(out string) []string {
	var blocks []string
	for _, line := range strings.Split(out, "\n") {
		switch {
		case strings.Contains(line, " Object;"):
			blocks = append(blocks, line+"\n")
		case len(blocks) > 0 && strings.HasPrefix(line, " "):
			blocks[len(blocks)-1] += line + "\n"
		}
	}
	return blocks
}

func TestChangePIN(t *testing.T) {
	tk, m, s := open(t, "ukey-chpin")
	if err := s.ChangePIN([]byte(tk.PIN), []byte("246810")); err != nil {
		t.Fatal(err)
	}
	s.Close() // the last session: the login ends with it
	tok, _ := m.Find("", "ukey-chpin")
	s2, err := m.Open(tok)
	if err != nil {
		t.Fatal(err)
	}
	defer s2.Close()
	if err := s2.Login([]byte(tk.PIN), false); !errors.Is(err, ErrWrongPIN) {
		t.Fatalf("old PIN: %v", err)
	}
	if err := s2.Login([]byte("246810"), false); err != nil {
		t.Fatalf("new PIN: %v", err)
	}
}

// A token initialised while we watch shows up as an insertion. (SoftHSM
// cannot remove a token; removal is the same comparison in reverse.)
func TestWatchSeesANewToken(t *testing.T) {
	_, m := loadToken(t, "ukey-w1")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	events := m.Watch(ctx, 50*time.Millisecond)
	time.Sleep(150 * time.Millisecond) // the first poll records what is there
	// SoftHSM reads its token directory at C_Initialize only, so the new
	// token is made through this module: C_InitToken on its free slot.
	slots, _ := m.ctx.GetSlotList(false)
	free := -1
	for _, sl := range slots {
		if ti, err := m.ctx.GetTokenInfo(sl); err == nil && ti.Flags&0x400 == 0 {
			free = int(sl)
		}
	}
	if free < 0 {
		t.Fatal("SoftHSM has no free slot")
	}
	if err := m.ctx.InitToken(uint(free), "87654321", "ukey-w2"); err != nil {
		t.Fatal(err)
	}
	for {
		select {
		case ev := <-events:
			if ev.Inserted && ev.Token.Label == "ukey-w2" {
				return
			}
		case <-ctx.Done():
			t.Fatal("no insertion event for the new token")
		}
	}
}

// OpenLoggedIn clears the PIN on every path, the ones that fail before
// Login included (a module that does not load, no such token), and leaves
// nothing open when it fails.
func TestOpenLoggedInClearsThePIN(t *testing.T) {
	tk := softhsmtest.New(t, "ukey-open")
	zero := func(b []byte) bool {
		for _, c := range b {
			if c != 0 {
				return false
			}
		}
		return true
	}
	cases := []struct {
		name   string
		module string
		ref    Ref
		pin    string
		want   error
	}{
		{"module missing", filepath.Join(t.TempDir(), "missing.so"), Ref{}, tk.PIN, ErrModule},
		{"no such token", tk.ModulePath, Ref{Serial: "nope"}, tk.PIN, ErrNoToken},
		{"wrong PIN", tk.ModulePath, Ref{Label: "ukey-open"}, "000000", ErrWrongPIN},
		{"right PIN", tk.ModulePath, Ref{Label: "ukey-open"}, tk.PIN, nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			pin := []byte(c.pin)
			s, done, err := OpenLoggedIn(c.module, c.ref, pin, false)
			if !zero(pin) {
				t.Error("the PIN was not cleared")
			}
			if c.want == nil {
				if err != nil {
					t.Fatal(err)
				}
				if _, err := s.Keys(""); err != nil {
					t.Errorf("the session is not usable: %v", err)
				}
				done()
				return
			}
			if !errors.Is(err, c.want) || s != nil || done != nil {
				t.Fatalf("got %v (session %v), want %v", err, s != nil, c.want)
			}
		})
	}
}

// A second handle on the module, loaded and closed while a session of the
// first is logged in (the window looking for a UKEY during a download),
// leaves that session working: C_Finalize waits for the last handle.
func TestSecondHandleDoesNotEndASession(t *testing.T) {
	tk, m, s := open(t, "ukey-handles")
	k, err := s.GenerateKey("app-handles", KeyAuto)
	if err != nil {
		t.Fatal(err)
	}
	other, err := Load(tk.ModulePath)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := other.Find("", "ukey-handles"); err != nil {
		t.Fatal(err)
	}
	if err := other.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := k.CSR("x"); err != nil {
		t.Fatalf("the first handle's session after the second closed: %v", err)
	}
	s.Close()
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}
	// The last close finalised: a new Load initialises again.
	again, err := Load(tk.ModulePath)
	if err != nil {
		t.Fatal(err)
	}
	defer again.Close()
	if _, err := again.Find("", "ukey-handles"); err != nil {
		t.Fatal(err)
	}
}
