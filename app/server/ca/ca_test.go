package ca

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func csrFor(t *testing.T, key any, cn string) *x509.CertificateRequest {
	t.Helper()
	der, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{Subject: pkix.Name{CommonName: cn}}, key)
	if err != nil {
		t.Fatal(err)
	}
	csr, err := CheckCSR(der)
	if err != nil {
		t.Fatalf("CheckCSR: %v", err)
	}
	return csr
}

func TestCreateReopenIssueVerifyRevoke(t *testing.T) {
	dir := t.TempDir()
	cfg := Config{Dir: dir, Passphrase: []byte("s3cret"), CRLURL: "http://127.0.0.1/api/v1/crl"}
	c, err := Open(cfg)
	if err != nil {
		t.Fatal(err)
	}
	// Keys are encrypted at rest, and the passphrase matters.
	b, _ := os.ReadFile(filepath.Join(dir, "issuing.key"))
	if !strings.Contains(string(b), "ENCRYPTED PRIVATE KEY") {
		t.Fatalf("issuing key not encrypted:\n%s", b)
	}
	if _, err := Open(Config{Dir: dir, Passphrase: []byte("wrong")}); err == nil {
		t.Fatal("opened with a wrong passphrase")
	}
	c2, err := Open(cfg)
	if err != nil || !c2.Root().Equal(c.Root()) {
		t.Fatalf("reopen: %v", err)
	}
	if _, err := exec.LookPath("openssl"); err == nil {
		out, err := exec.Command("openssl", "pkey", "-in", filepath.Join(dir, "issuing.key"), "-passin", "pass:s3cret", "-noout", "-text").CombinedOutput()
		if err != nil || !strings.Contains(string(out), "2048 bit") {
			t.Errorf("OpenSSL cannot read the encrypted key: %v\n%s", err, out)
		}
	}

	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	csr := csrFor(t, key, "ignored")
	subj := pkix.Name{CommonName: "福州示例软件有限公司", Organization: []string{"福州示例软件有限公司"},
		ExtraNames: []pkix.AttributeTypeAndValue{{Type: OIDOrganizationIdentifier, Value: "91350100M000100Y43"}}}
	cert, err := c2.Issue(csr, Profile{Subject: subj, Signing: true})
	if err != nil {
		t.Fatal(err)
	}
	if cert.Subject.CommonName != "福州示例软件有限公司" || cert.KeyUsage&x509.KeyUsageContentCommitment == 0 ||
		cert.SerialNumber.BitLen() < 100 || cert.NotAfter.Sub(cert.NotBefore) < 364*24*time.Hour || cert.CRLDistributionPoints[0] != cfg.CRLURL || cert.IsCA {
		t.Fatalf("certificate: %+v", cert.Subject)
	}
	found := false
	for _, n := range cert.Subject.Names {
		found = found || (n.Type.Equal(OIDOrganizationIdentifier) && n.Value == "91350100M000100Y43")
	}
	if !found {
		t.Errorf("credit code missing from the subject: %s", cert.Subject)
	}
	if err := c2.Verify(cert); err != nil {
		t.Fatal(err)
	}
	other, _ := Open(Config{Dir: t.TempDir()})
	if err := other.Verify(cert); !errors.Is(err, ErrNotOurs) {
		t.Fatalf("another CA accepted it: %v", err)
	}
	der, err := c2.CRL([]Revoked{{Serial: cert.SerialNumber, At: time.Now(), Reason: 1}}, 7, time.Now(), time.Now().Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	crl, err := x509.ParseRevocationList(der)
	if err != nil || crl.CheckSignatureFrom(c2.Issuer()) != nil || len(crl.RevokedCertificateEntries) != 1 ||
		crl.RevokedCertificateEntries[0].SerialNumber.Cmp(cert.SerialNumber) != 0 || crl.Number.Int64() != 7 {
		t.Fatalf("CRL: %v", err)
	}
}

func TestCheckCSRRefusesWeakKeysAndBadSignatures(t *testing.T) {
	rsa1024, _ := rsa.GenerateKey(rand.Reader, 1024)
	der, _ := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{}, rsa1024)
	if _, err := CheckCSR(der); !errors.Is(err, ErrWeakKey) {
		t.Fatalf("RSA-1024: %v", err)
	}
	p224, _ := ecdsa.GenerateKey(elliptic.P224(), rand.Reader)
	der, _ = x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{}, p224)
	if _, err := CheckCSR(der); !errors.Is(err, ErrWeakKey) {
		t.Fatalf("P-224: %v", err)
	}
	rsa2048, _ := rsa.GenerateKey(rand.Reader, 2048)
	der, _ = x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{Subject: pkix.Name{CommonName: "x"}}, rsa2048)
	if _, err := CheckCSR(der); err != nil {
		t.Fatalf("RSA-2048 refused: %v", err)
	}
	der[len(der)-5] ^= 0xFF // break the signature
	if _, err := CheckCSR(der); !errors.Is(err, ErrCSRSignature) {
		t.Fatalf("bad signature: %v", err)
	}
}

func TestCheckSubjectRefusesInvisible(t *testing.T) {
	if err := CheckSubject(pkix.Name{CommonName: "福州示例", Organization: []string{"福州示例软件有限公司"}}); err != nil {
		t.Fatal(err)
	}
	for _, n := range []pkix.Name{
		{CommonName: "福州\u202e示例"},
		{Organization: []string{"a\u200bb"}},
		{ExtraNames: []pkix.AttributeTypeAndValue{{Type: OIDOrganizationIdentifier, Value: "9135\u2066"}}},
	} {
		if err := CheckSubject(n); !errors.Is(err, ErrSubjectText) {
			t.Errorf("%v: %v", n, err)
		}
	}
}
