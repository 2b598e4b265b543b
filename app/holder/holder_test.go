package holder

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/pem"
	"math/big"
	"strings"
	"testing"
	"time"

	"certdesk/token"
)

func selfSigned(t *testing.T, key any, pub any, subject pkix.Name, notAfter time.Time) *x509.Certificate {
	t.Helper()
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(0xabcdef), Subject: subject, NotBefore: time.Now().Add(-time.Hour), NotAfter: notAfter}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, pub, key)
	if err != nil {
		t.Fatal(err)
	}
	c, _ := x509.ParseCertificate(der)
	return c
}

// Describe reads what the certificate list shows; Export writes what
// certificate viewers read back; CheckSignature accepts only the
// certificate's own key.
func TestDescribeExportAndSignature(t *testing.T) {
	ec, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	rk, _ := rsa.GenerateKey(rand.Reader, 2048)
	now := time.Now()
	subject := pkix.Name{CommonName: "福州示例软件有限公司", Organization: []string{"福州示例软件有限公司"}, Country: []string{"CN"},
		ExtraNames: []pkix.AttributeTypeAndValue{{Type: asn1.ObjectIdentifier{2, 5, 4, 97}, Value: "91350100M000100Y43"}}}
	cases := []struct {
		name    string
		key     any
		pub     any
		keyType string
		end     time.Time
		days    int
	}{
		{"ecdsa", ec, &ec.PublicKey, "ECDSA P-256", now.Add(30*24*time.Hour + time.Minute), 31},
		{"rsa", rk, &rk.PublicKey, "RSA 2048", now.Add(-time.Hour), 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := selfSigned(t, tc.key, tc.pub, subject, tc.end)
			d := Describe(c, token.Token{Serial: "S1", Label: "UKEY"}, now)
			if d.KeyType != tc.keyType || d.DaysLeft != tc.days || d.Serial != "abcdef" || d.OrgCode != "91350100M000100Y43" || d.Org != "福州示例软件有限公司" || d.TokenSerial != "S1" {
				t.Fatalf("described: %+v", d)
			}
			sum := sha256.Sum256(c.Raw)
			if d.SHA256 != Fingerprint(sum[:]) || len(strings.Split(d.SHA256, ":")) != 32 {
				t.Fatalf("fingerprint %s", d.SHA256)
			}
			if der := Export(d, false); string(der) != string(c.Raw) {
				t.Fatal("the DER export is not the certificate")
			}
			blk, rest := pem.Decode(Export(d, true))
			if blk == nil || blk.Type != "CERTIFICATE" || string(blk.Bytes) != string(c.Raw) || len(rest) != 0 {
				t.Fatal("the PEM export is not the certificate")
			}
			h := sha256.Sum256([]byte("x"))
			var sig []byte
			switch k := tc.key.(type) {
			case *ecdsa.PrivateKey:
				sig, _ = ecdsa.SignASN1(rand.Reader, k, h[:])
			case *rsa.PrivateKey:
				sig, _ = rsa.SignPKCS1v15(rand.Reader, k, crypto.SHA256, h[:])
			}
			if err := CheckSignature(c, h[:], sig); err != nil {
				t.Fatalf("own signature: %v", err)
			}
			h2 := sha256.Sum256([]byte("y"))
			if err := CheckSignature(c, h2[:], sig); err != ErrBadSignature {
				t.Fatalf("another digest's signature: %v", err)
			}
		})
	}
}
