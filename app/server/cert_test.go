package server

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"regexp"
	"sync"
	"testing"

	"certdesk/app/api"
	"certdesk/app/apply"
	"certdesk/app/server/ca"
)

// approved drives a submitted application to approval: the identity and
// payment steps as their providers would take them, review by staff.
func approved(t *testing.T, s *Server, c *client, sc *client, username string) api.Application {
	t.Helper()
	a := submitted(c, username)
	ctx := context.Background()
	for _, ev := range []apply.Event{apply.EvMaterialsComplete, apply.EvIdentityVerified} {
		if err := s.Service.SystemStep(ctx, a.ID, ev, "test"); err != nil {
			t.Fatal(err)
		}
	}
	sc.ok(sc.do("POST", "/staff/applications/"+a.ID+"/events", api.EventRequest{Event: apply.EvConfirmPayment, Note: "bank transfer"}), nil)
	sc.ok(sc.do("POST", "/staff/applications/"+a.ID+"/review", api.ReviewRequest{Approve: true}), &a)
	return a
}

var reCode = regexp.MustCompile(`验证码:(\d{8})`)

// codeFromOutbox reads the download code from the SMS queued for the handler.
func codeFromOutbox(t *testing.T, s *Server, appID string) string {
	t.Helper()
	msgs, err := s.Store.Messages(context.Background(), appID, 100)
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range msgs {
		if m.Subject == "download_code" {
			if mm := reCode.FindStringSubmatch(m.Body); mm != nil {
				return mm[1]
			}
		}
	}
	t.Fatal("no download code in the outbox")
	return ""
}

func makeCSR(t *testing.T, key crypto.Signer, cn string) []byte {
	t.Helper()
	der, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{Subject: pkix.Name{CommonName: cn}}, key)
	if err != nil {
		t.Fatal(err)
	}
	return der
}

func ukeyLogin(c *client, cert []byte, key crypto.Signer) resp {
	var n api.Nonce
	c.ok(c.do("POST", api.PathLoginNonce, nil), &n)
	h := sha256.Sum256(api.LoginMessage(n.Nonce))
	sig, _ := key.Sign(rand.Reader, h[:], crypto.SHA256)
	return c.do("POST", api.PathUKEYLogin, api.UKEYLoginRequest{Nonce: n.Nonce, Certificate: cert, Signature: sig})
}

func TestDownloadLoginRevoke(t *testing.T) {
	for name, dsn := range engines(t) {
		t.Run(name, func(t *testing.T) {
			s := startServer(t, dsn)
			c, sc := applicant(t, s), staff(t, s)
			a := approved(t, s, c, sc, "issue01")
			if a.State != apply.StateApproved {
				t.Fatalf("state %s", a.State)
			}
			code := codeFromOutbox(t, s, a.ID)
			key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
			// A CSR asking for another name is refused.
			c.wantErr(c.do("POST", "/applications/"+a.ID+"/certificate", api.DownloadRequest{CSR: makeCSR(t, key, "Mallory Ltd"), Code: code}), 400, api.CodeBadRequest)
			csr := makeCSR(t, key, "福州示例软件有限公司")

			// Wrong codes count; the fifth locks.
			for i := 0; i < 3; i++ {
				c.wantErr(c.do("POST", "/applications/"+a.ID+"/certificate", api.DownloadRequest{CSR: csr, Code: "00000000"}), 412, api.CodeCodeInvalid)
			}
			var b api.CertificateBundle
			c.ok(c.do("POST", "/applications/"+a.ID+"/certificate", api.DownloadRequest{CSR: csr, Code: code}), &b)
			cert, err := x509.ParseCertificate(b.Certificate)
			if err != nil {
				t.Fatal(err)
			}
			issuer, _ := x509.ParseCertificate(b.Chain[0])
			root, _ := x509.ParseCertificate(b.Chain[1])
			roots, inter := x509.NewCertPool(), x509.NewCertPool()
			roots.AddCert(root)
			inter.AddCert(issuer)
			if _, err := cert.Verify(x509.VerifyOptions{Roots: roots, Intermediates: inter, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}); err != nil {
				t.Fatalf("chain: %v", err)
			}
			if cert.Subject.CommonName != "福州示例软件有限公司" || cert.KeyUsage&x509.KeyUsageContentCommitment == 0 || len(cert.CRLDistributionPoints) != 1 {
				t.Fatalf("profile: %s %v %v", cert.Subject, cert.KeyUsage, cert.CRLDistributionPoints)
			}
			if !cert.PublicKey.(*ecdsa.PublicKey).Equal(&key.PublicKey) {
				t.Fatal("certificate for another key")
			}
			if got := c.app(a.ID); got.State != apply.StateIssued {
				t.Fatalf("state after download: %s", got.State)
			}
			// An interrupted download asks again: same certificate.
			var again api.CertificateBundle
			c.ok(c.do("POST", "/applications/"+a.ID+"/certificate", api.DownloadRequest{CSR: csr, Code: code}), &again)
			if again.Serial != b.Serial || string(again.Certificate) != string(b.Certificate) {
				t.Fatal("a second certificate was issued for the same key")
			}
			// Another key after issuance is refused.
			key2, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
			c.wantErr(c.do("POST", "/applications/"+a.ID+"/certificate", api.DownloadRequest{CSR: makeCSR(t, key2, "x"), Code: code}), 400, api.CodeBadRequest)

			// UKEY login with the key; a replayed nonce and a foreign CA refused.
			anon := newClient(t, s)
			var sess api.Session
			anon.ok(ukeyLogin(anon, b.Certificate, key), &sess)
			if sess.Account.ID == "" || sess.Token == "" {
				t.Fatalf("session: %+v", sess)
			}
			var n api.Nonce
			anon.ok(anon.do("POST", api.PathLoginNonce, nil), &n)
			h := sha256.Sum256(api.LoginMessage(n.Nonce))
			sig, _ := key.Sign(rand.Reader, h[:], crypto.SHA256)
			anon.ok(anon.do("POST", api.PathUKEYLogin, api.UKEYLoginRequest{Nonce: n.Nonce, Certificate: b.Certificate, Signature: sig}), nil)
			anon.wantErr(anon.do("POST", api.PathUKEYLogin, api.UKEYLoginRequest{Nonce: n.Nonce, Certificate: b.Certificate, Signature: sig}), 401, api.CodeBadCredentials)
			foreign, _ := ca.Open(ca.Config{Dir: t.TempDir()})
			fcsr, _ := ca.CheckCSR(csr)
			fcert, _ := foreign.Issue(fcsr, ca.Profile{Subject: pkix.Name{CommonName: "福州示例软件有限公司"}})
			anon.wantErr(ukeyLogin(anon, fcert.Raw, key), 401, api.CodeBadCredentials)
			anon.wantErr(ukeyLogin(anon, b.Certificate, key2), 401, api.CodeBadCredentials) // wrong key

			// Revoke: the CRL lists it and UKEY login is refused.
			c.wantErr(c.do("POST", "/staff/applications/"+a.ID+"/revoke", api.RevokeRequest{Reason: 1}), 403, api.CodeForbidden)
			sc.ok(sc.do("POST", "/staff/applications/"+a.ID+"/revoke", api.RevokeRequest{Reason: 1, Note: "UKEY lost"}), nil)
			r := anon.do("GET", api.PathCRL, nil)
			crl, err := x509.ParseRevocationList(r.body)
			if err != nil || crl.CheckSignatureFrom(issuer) != nil || len(crl.RevokedCertificateEntries) != 1 ||
				crl.RevokedCertificateEntries[0].SerialNumber.Cmp(cert.SerialNumber) != 0 || r.header.Get("Content-Type") != "application/pkix-crl" {
				t.Fatalf("CRL: %v", err)
			}
			anon.wantErr(ukeyLogin(anon, b.Certificate, key), 401, api.CodeBadCredentials)
		})
	}
}

func TestDownloadNegatives(t *testing.T) {
	s := startServer(t, "")
	c, sc := applicant(t, s), staff(t, s)
	a := approved(t, s, c, sc, "neg01")
	code := codeFromOutbox(t, s, a.ID)
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	csr := makeCSR(t, key, "") // a UKEY may leave the subject empty: the CA fills it

	weak, _ := rsa.GenerateKey(rand.Reader, 1024)
	e := c.wantErr(c.do("POST", "/applications/"+a.ID+"/certificate", api.DownloadRequest{CSR: makeCSR(t, weak, "x"), Code: code}), 400, api.CodeBadRequest)
	if e.MessageEN == "" || e.MessageZH == "" {
		t.Fatal("no words for a weak key")
	}
	// Five wrong codes lock even the right one.
	for i := 0; i < 5; i++ {
		c.wantErr(c.do("POST", "/applications/"+a.ID+"/certificate", api.DownloadRequest{CSR: csr, Code: "11111111"}), 412, api.CodeCodeInvalid)
	}
	c.wantErr(c.do("POST", "/applications/"+a.ID+"/certificate", api.DownloadRequest{CSR: csr, Code: code}), 403, api.CodeCodeLocked)

	// A key certified for one application is refused for another.
	b := approved(t, s, c, sc, "neg02")
	codeB := codeFromOutbox(t, s, b.ID)
	c.ok(c.do("POST", "/applications/"+b.ID+"/certificate", api.DownloadRequest{CSR: csr, Code: codeB}), nil)
	d := approved(t, s, c, sc, "neg03")
	c.wantErr(c.do("POST", "/applications/"+d.ID+"/certificate", api.DownloadRequest{CSR: csr, Code: codeFromOutbox(t, s, d.ID)}), 400, api.CodeBadRequest)
	// Before approval there is nothing to download.
	e2 := submitted(c, "neg04")
	c.wantErr(c.do("POST", "/applications/"+e2.ID+"/certificate", api.DownloadRequest{CSR: csr, Code: "12345678"}), 409, api.CodeStateNotAllowed)
}

// Racing downloads for one application and key yield one certificate.
func TestConcurrentDownloadsIssueOnce(t *testing.T) {
	s := startServer(t, "")
	c, sc := applicant(t, s), staff(t, s)
	a := approved(t, s, c, sc, "race01")
	code := codeFromOutbox(t, s, a.ID)
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	csr := makeCSR(t, key, "")
	serials := make(chan string, 8)
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r, err := rawDo(c, "POST", "/applications/"+a.ID+"/certificate", api.DownloadRequest{CSR: csr, Code: code})
			var b api.CertificateBundle
			if err == nil && r.status == 200 && jsonUnmarshal(r.body, &b) == nil {
				serials <- b.Serial
			} else {
				serials <- "error"
			}
		}()
	}
	wg.Wait()
	close(serials)
	first := ""
	for sn := range serials {
		if sn == "error" || (first != "" && sn != first) {
			t.Fatalf("racing downloads: %s vs %s", first, sn)
		}
		first = sn
	}
}
