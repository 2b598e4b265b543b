// Package ca is the enrollment server's certification authority: a root
// and an issuing CA created on first start, their keys encrypted at rest
// (PKCS#8 with scrypt N=2^14, inside OpenSSL's 32 MB limit, and AES-256:
// readable by `openssl pkey`), certificate profiles
// for organisation and personal certificates, CSR checks, and CRLs.
package ca

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
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"os"
	"path/filepath"
	"time"

	"github.com/youmark/pkcs8"

	"certdesk/app/apply"
)

// DevPassphrase protects the CA keys when the configuration gives none.
// Start logs a loud warning when it is in use.
const DevPassphrase = "certdesk-development-only-passphrase"

// Config configures the CA.
type Config struct {
	Dir        string // where root.crt, root.key, issuing.crt, issuing.key live
	Passphrase []byte // encrypts the keys at rest
	Name       string // the CA's organisation name in its certificates
	CRLURL     string // CRL distribution point written into issued certificates
	Validity   time.Duration
	Now        func() time.Time
	// Signer, when set, is the issuing CA's key held in an HSM (through
	// the token package): the CA is created around it and no issuing key
	// file is written. It must be given again at every start.
	Signer crypto.Signer
	// KeyType of the issuing CA, chosen at creation: "rsa2048" (the
	// default: every UKEY middleware and old Windows CSP verifies it) or
	// "p256".
	KeyType string
}

// CA issues certificates.
type CA struct {
	cfg    Config
	root   *x509.Certificate
	issuer *x509.Certificate
	key    crypto.Signer
	keks   kekCache
}

// Errors for CSR checks; callers map them to the applicant's words.
var (
	ErrCSRSignature = errors.New("the CSR's signature does not verify")
	ErrWeakKey      = errors.New("key type or size not accepted (RSA ≥ 2048, ECDSA P-256 or P-384)")
	ErrNotOurs      = errors.New("certificate not issued by this CA")
)

// Open loads the CA from cfg.Dir, creating it on first start.
func Open(cfg Config) (*CA, error) {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Validity == 0 {
		cfg.Validity = 365 * 24 * time.Hour
	}
	if cfg.Name == "" {
		cfg.Name = "CertDesk Development CA"
	}
	if len(cfg.Passphrase) == 0 {
		cfg.Passphrase = []byte(DevPassphrase)
	}
	if err := os.MkdirAll(cfg.Dir, 0o700); err != nil {
		return nil, fmt.Errorf("CA directory: %w", err)
	}
	c := &CA{cfg: cfg}
	if _, err := os.Stat(c.path("issuing.crt")); errors.Is(err, os.ErrNotExist) {
		if err := c.create(); err != nil {
			return nil, fmt.Errorf("create CA: %w", err)
		}
	}
	var err error
	if c.root, err = readCert(c.path("root.crt")); err != nil {
		return nil, err
	}
	if c.issuer, err = readCert(c.path("issuing.crt")); err != nil {
		return nil, err
	}
	if cfg.Signer != nil {
		c.key = cfg.Signer
		if !samePublic(cfg.Signer.Public(), c.issuer.PublicKey) {
			return nil, fmt.Errorf("the HSM key is not the issuing CA's key (issuing.crt in %s belongs to another key)", cfg.Dir)
		}
	} else if c.key, err = c.readKey("issuing.key"); err != nil {
		return nil, err
	}
	if err := c.issuer.CheckSignatureFrom(c.root); err != nil {
		return nil, fmt.Errorf("issuing CA not signed by the root: %w", err)
	}
	return c, nil
}

func (c *CA) path(name string) string { return filepath.Join(c.cfg.Dir, name) }

func randSerial() (*big.Int, error) {
	// 128 random bits (at most 17 bytes in DER with the sign byte, under
	// RFC 5280's 20); zero is not a valid serial, so it is drawn again.
	for {
		n, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 128))
		if err != nil || n.Sign() > 0 {
			return n, err
		}
	}
}

func (c *CA) create() error {
	now := c.cfg.Now()
	rootKey, err := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	if err != nil {
		return err
	}
	sn, _ := randSerial()
	rootTmpl := &x509.Certificate{
		SerialNumber:          sn,
		Subject:               pkix.Name{CommonName: c.cfg.Name + " Root", Organization: []string{c.cfg.Name}, Country: []string{"CN"}},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.AddDate(20, 0, 0),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
		MaxPathLen:            1,
	}
	rootDER, err := x509.CreateCertificate(rand.Reader, rootTmpl, rootTmpl, &rootKey.PublicKey, rootKey)
	if err != nil {
		return err
	}
	root, _ := x509.ParseCertificate(rootDER)
	var issKey crypto.Signer
	switch {
	case c.cfg.Signer != nil:
		issKey = c.cfg.Signer
	case c.cfg.KeyType == "p256":
		issKey, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	case c.cfg.KeyType == "" || c.cfg.KeyType == "rsa2048":
		issKey, err = rsa.GenerateKey(rand.Reader, 2048)
	default:
		return fmt.Errorf("unknown CA key type %q (rsa2048 or p256)", c.cfg.KeyType)
	}
	if err != nil {
		return err
	}
	sn, _ = randSerial()
	issTmpl := &x509.Certificate{
		SerialNumber:          sn,
		Subject:               pkix.Name{CommonName: c.cfg.Name + " Issuing CA", Organization: []string{c.cfg.Name}, Country: []string{"CN"}},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.AddDate(10, 0, 0),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
		MaxPathLen:            0,
		MaxPathLenZero:        true,
	}
	issDER, err := x509.CreateCertificate(rand.Reader, issTmpl, root, issKey.Public(), rootKey)
	if err != nil {
		return err
	}
	keys := map[string]crypto.Signer{"root.key": rootKey}
	if c.cfg.Signer == nil {
		keys["issuing.key"] = issKey
	}
	for name, key := range keys {
		if err := c.writeKey(name, key); err != nil {
			return err
		}
	}
	if err := writePEM(c.path("root.crt"), "CERTIFICATE", rootDER, 0o644); err != nil {
		return err
	}
	// The issuing certificate is written last: its presence marks a
	// complete CA, so a crash half-way re-creates everything.
	return writePEM(c.path("issuing.crt"), "CERTIFICATE", issDER, 0o644)
}

func (c *CA) writeKey(name string, key crypto.Signer) error {
	der, err := pkcs8.MarshalPrivateKey(key, c.cfg.Passphrase, &pkcs8.Opts{
		Cipher:  pkcs8.AES256CBC,
		KDFOpts: pkcs8.ScryptOpts{CostParameter: 1 << 14, BlockSize: 8, ParallelizationParameter: 1, SaltSize: 16},
	})
	if err != nil {
		return fmt.Errorf("encrypt %s: %w", name, err)
	}
	return writePEM(c.path(name), "ENCRYPTED PRIVATE KEY", der, 0o600)
}

func (c *CA) readKey(name string) (crypto.Signer, error) {
	b, err := os.ReadFile(c.path(name))
	if err != nil {
		return nil, err
	}
	blk, _ := pem.Decode(b)
	if blk == nil {
		return nil, fmt.Errorf("%s: not PEM", name)
	}
	k, _, err := pkcs8.ParsePrivateKey(blk.Bytes, c.cfg.Passphrase)
	if err != nil {
		return nil, fmt.Errorf("decrypt %s (wrong CA passphrase?): %w", name, err)
	}
	s, ok := k.(crypto.Signer)
	if !ok {
		return nil, fmt.Errorf("%s: not a signing key", name)
	}
	return s, nil
}

func writePEM(path, typ string, der []byte, mode os.FileMode) error {
	return os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), mode)
}

func readCert(path string) (*x509.Certificate, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	blk, _ := pem.Decode(b)
	if blk == nil {
		return nil, fmt.Errorf("%s: not PEM", path)
	}
	return x509.ParseCertificate(blk.Bytes)
}

// Chain returns the issuing CA and root certificates, DER.
func (c *CA) Chain() [][]byte { return [][]byte{c.issuer.Raw, c.root.Raw} }

// Root returns the root certificate.
func (c *CA) Root() *x509.Certificate { return c.root }

// Key is the issuing CA's signing key (for benchmarks against bare
// x509.CreateCertificate with the same key).
func (c *CA) Key() crypto.Signer { return c.key }

// Issuer returns the issuing CA certificate.
func (c *CA) Issuer() *x509.Certificate { return c.issuer }

// CheckCSR parses a CSR and checks its signature and key.
func CheckCSR(der []byte) (*x509.CertificateRequest, error) {
	csr, err := x509.ParseCertificateRequest(der)
	if err != nil {
		return nil, fmt.Errorf("parse CSR: %w", err)
	}
	if err := csr.CheckSignature(); err != nil {
		return nil, ErrCSRSignature
	}
	switch k := csr.PublicKey.(type) {
	case *rsa.PublicKey:
		if k.N.BitLen() < 2048 {
			return nil, ErrWeakKey
		}
	case *ecdsa.PublicKey:
		if k.Curve != elliptic.P256() && k.Curve != elliptic.P384() {
			return nil, ErrWeakKey
		}
	default:
		return nil, ErrWeakKey
	}
	return csr, nil
}

// KeyID is the hex SHA-256 of a public key's SubjectPublicKeyInfo: how the
// CA recognises a key it has certified before.
func KeyID(pub any) (string, error) {
	spki, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return "", err
	}
	s := sha256.Sum256(spki)
	return hex.EncodeToString(s[:]), nil
}

// Profile is what an issued certificate is for.
type Profile struct {
	// Subject comes from the approved application, never from the CSR.
	Subject pkix.Name
	// Seal and Signature services add non-repudiation (content commitment).
	Signing bool
}

// OIDOrganizationIdentifier (X.520 organizationIdentifier, 2.5.4.97) holds
// the unified social credit code in organisation certificates.
var OIDOrganizationIdentifier = asn1.ObjectIdentifier{2, 5, 4, 97}

// Issued is a freshly signed certificate: its DER and the fields the
// enrollment server records, without parsing the DER back.
type Issued struct {
	DER                 []byte
	Serial              *big.Int
	NotBefore, NotAfter time.Time
}

// Issue signs a certificate for the CSR's key with the profile's subject.
func (c *CA) Issue(csr *x509.CertificateRequest, p Profile) (*x509.Certificate, error) {
	is, err := c.IssueDER(csr, p)
	if err != nil {
		return nil, err
	}
	return x509.ParseCertificate(is.DER)
}

// IssueDER is Issue without parsing the result (the server's hot path).
func (c *CA) IssueDER(csr *x509.CertificateRequest, p Profile) (*Issued, error) {
	if err := CheckSubject(p.Subject); err != nil {
		return nil, err
	}
	sn, err := randSerial()
	if err != nil {
		return nil, err
	}
	now := c.cfg.Now()
	ku := x509.KeyUsageDigitalSignature
	if p.Signing {
		ku |= x509.KeyUsageContentCommitment
	}
	tmpl := &x509.Certificate{
		SerialNumber:          sn,
		Subject:               p.Subject,
		NotBefore:             now.Add(-5 * time.Minute),
		NotAfter:              now.Add(c.cfg.Validity),
		KeyUsage:              ku,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth, x509.ExtKeyUsageEmailProtection},
		BasicConstraintsValid: true,
	}
	if c.cfg.CRLURL != "" {
		tmpl.CRLDistributionPoints = []string{c.cfg.CRLURL}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, c.issuer, csr.PublicKey, c.key)
	if err != nil {
		return nil, fmt.Errorf("sign certificate: %w", err)
	}
	return &Issued{DER: der, Serial: sn, NotBefore: tmpl.NotBefore, NotAfter: tmpl.NotAfter}, nil
}

// ErrSubjectText: a subject attribute holds a character that must not be
// signed (see apply.Invisible).
var ErrSubjectText = errors.New("subject holds an invisible or unassigned character")

// CheckSubject refuses a subject any of whose attributes holds a control,
// format (bidi, zero-width), private-use or unassigned character: the form
// refuses them beside the field, and this is the last line before signing.
func CheckSubject(n pkix.Name) error {
	vals := append(append(append([]string{n.CommonName, n.SerialNumber}, n.Organization...), n.OrganizationalUnit...), n.Country...)
	vals = append(append(append(vals, n.Province...), n.Locality...), n.StreetAddress...)
	for _, a := range n.ExtraNames {
		if s, ok := a.Value.(string); ok {
			vals = append(vals, s)
		}
	}
	for _, v := range vals {
		if _, r, bad := apply.Invisible(v); bad {
			return fmt.Errorf("%w: U+%04X", ErrSubjectText, r)
		}
	}
	return nil
}

// Verify checks that cert chains to this CA and is valid now.
func (c *CA) Verify(cert *x509.Certificate) error {
	roots := x509.NewCertPool()
	roots.AddCert(c.root)
	inter := x509.NewCertPool()
	inter.AddCert(c.issuer)
	_, err := cert.Verify(x509.VerifyOptions{Roots: roots, Intermediates: inter, CurrentTime: c.cfg.Now(),
		KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}})
	if err != nil {
		return fmt.Errorf("%w: %v", ErrNotOurs, err)
	}
	return nil
}

// Revoked is one entry of a CRL.
type Revoked struct {
	Serial *big.Int
	At     time.Time
	Reason int // RFC 5280 CRLReason
}

// CRL signs a CRL listing revoked, numbered number (the caller keeps the
// numbers increasing), valid from thisUpdate to nextUpdate.
func (c *CA) CRL(revoked []Revoked, number int64, thisUpdate, nextUpdate time.Time) ([]byte, error) {
	entries := make([]x509.RevocationListEntry, len(revoked))
	for i, r := range revoked {
		entries[i] = x509.RevocationListEntry{SerialNumber: r.Serial, RevocationTime: r.At, ReasonCode: r.Reason}
	}
	return x509.CreateRevocationList(rand.Reader, &x509.RevocationList{
		Number:                    big.NewInt(number),
		ThisUpdate:                thisUpdate,
		NextUpdate:                nextUpdate,
		RevokedCertificateEntries: entries,
	}, c.issuer, c.key)
}

func samePublic(a, b crypto.PublicKey) bool {
	e, ok := a.(interface{ Equal(crypto.PublicKey) bool })
	return ok && e.Equal(b)
}
