// Package holder is the certificate holder's tools after issuance, below
// the window and the command line: the certificates on every inserted UKEY
// with what the CA says of them, their export and fingerprints, a PIN
// change, and the token side of a PIN unlock granted by the CA. It knows
// nothing of Fyne and is tested on SoftHSM2 against a real server.
package holder

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/x509"
	"encoding/asn1"
	"encoding/pem"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"certdesk/app/api"
	"certdesk/token"
)

// Cert is one certificate on one UKEY.
type Cert struct {
	TokenSerial string      `json:"token_serial"`
	TokenLabel  string      `json:"token_label"`
	Flags       token.Flags `json:"pin_flags"`
	Subject     string      `json:"subject"`
	CommonName  string      `json:"common_name"`
	Org         string      `json:"organization,omitempty"`
	OrgCode     string      `json:"organization_identifier,omitempty"` // 统一社会信用代码
	Issuer      string      `json:"issuer"`
	IssuerName  string      `json:"issuer_name"` // the issuer's CN
	Serial      string      `json:"serial"`      // hex, as the CA writes it
	NotBefore   time.Time   `json:"not_before"`
	NotAfter    time.Time   `json:"not_after"`
	DaysLeft    int         `json:"days_left"`
	KeyType     string      `json:"key_type"`
	SHA256      string      `json:"sha256"`
	SHA1        string      `json:"sha1"`
	// Status is the CA's word (api.CertValid …); "" when it could not be
	// asked, with StatusError saying why.
	Status      string    `json:"status,omitempty"`
	StatusError string    `json:"status_error,omitempty"`
	RevokedAt   time.Time `json:"revoked_at,omitempty"`
	DER         []byte    `json:"-"`
}

// List reads every certificate on every token of m (certificates are
// public objects: no PIN), newest first within a token.
func List(m *token.Module, now time.Time) ([]Cert, error) {
	ts, err := m.Tokens()
	if err != nil {
		return nil, err
	}
	var out []Cert
	for _, t := range ts {
		s, err := m.Open(t)
		if err != nil {
			continue // pulled between the list and the open
		}
		certs, err := s.Certificates()
		s.Close()
		if err != nil {
			continue
		}
		sort.Slice(certs, func(i, j int) bool { return certs[i].NotAfter.After(certs[j].NotAfter) })
		for _, c := range certs {
			out = append(out, Describe(c, t, now))
		}
	}
	return out, nil
}

// Describe is c as the certificate list shows it.
func Describe(c *x509.Certificate, t token.Token, now time.Time) Cert {
	s256, s1 := sha256.Sum256(c.Raw), sha1.Sum(c.Raw)
	left := 0
	if d := c.NotAfter.Sub(now); d > 0 {
		left = int((d + 24*time.Hour - 1) / (24 * time.Hour))
	}
	org, code := "", ""
	if len(c.Subject.Organization) > 0 {
		org = c.Subject.Organization[0]
	}
	for _, n := range c.Subject.Names {
		if n.Type.Equal(oidOrganizationIdentifier) {
			code, _ = n.Value.(string)
		}
	}
	return Cert{TokenSerial: t.Serial, TokenLabel: t.Label, Flags: t.Flags, Subject: c.Subject.String(), CommonName: c.Subject.CommonName,
		Org: org, OrgCode: code, Issuer: c.Issuer.String(), IssuerName: c.Issuer.CommonName, Serial: c.SerialNumber.Text(16), NotBefore: c.NotBefore, NotAfter: c.NotAfter, DaysLeft: left,
		KeyType: KeyType(c.PublicKey), SHA256: Fingerprint(s256[:]), SHA1: Fingerprint(s1[:]), DER: c.Raw}
}

// oidOrganizationIdentifier is X.520 organizationIdentifier (2.5.4.97),
// where the CA writes the 统一社会信用代码.
var oidOrganizationIdentifier = asn1.ObjectIdentifier{2, 5, 4, 97}

// Fingerprint is a digest as certificate viewers show it: AB:CD:….
func Fingerprint(sum []byte) string {
	var b strings.Builder
	for i, x := range sum {
		if i > 0 {
			b.WriteByte(':')
		}
		fmt.Fprintf(&b, "%02X", x)
	}
	return b.String()
}

// KeyType names a public key: "RSA 2048", "ECDSA P-256".
func KeyType(pub any) string {
	switch k := pub.(type) {
	case *rsa.PublicKey:
		return fmt.Sprintf("RSA %d", k.N.BitLen())
	case *ecdsa.PublicKey:
		return "ECDSA " + k.Curve.Params().Name
	case ed25519.PublicKey:
		return "Ed25519"
	}
	return "unknown"
}

// StatusSource is the CA's certificate status (the client's call).
type StatusSource interface {
	CertificateStatus(ctx context.Context, serial string) (*api.CertificateStatus, error)
}

// WithStatus asks the CA about each certificate; one that cannot be asked
// keeps Status "" and says why.
func WithStatus(ctx context.Context, src StatusSource, certs []Cert) []Cert {
	out := append([]Cert(nil), certs...)
	for i := range out {
		st, err := src.CertificateStatus(ctx, out[i].Serial)
		if err != nil {
			out[i].StatusError = err.Error()
			continue
		}
		out[i].Status, out[i].RevokedAt = st.Status, st.RevokedAt
	}
	return out
}

// Export is the certificate as a .cer file: DER, or PEM when pem is true.
func Export(c Cert, asPEM bool) []byte {
	if !asPEM {
		return bytes.Clone(c.DER)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.DER})
}

// ChangePIN checks the new PIN against the UKEY PIN rules, logs in with
// the old one (so the token's tries-left flags and the final-try rule
// apply) and changes it. Both PINs are cleared on every path.
func ChangePIN(m *token.Module, ref token.Ref, old, pin []byte, finalTry bool) error {
	defer clear(old)
	defer clear(pin)
	if err := token.CheckNewPIN(old, pin); err != nil {
		return err
	}
	s, err := m.OpenLoggedIn(ref, bytes.Clone(old), finalTry)
	if err != nil {
		return err
	}
	defer s.Close()
	return s.ChangePIN(bytes.Clone(old), bytes.Clone(pin))
}

// UnlockServer is the part of the CA a PIN unlock finishes with.
type UnlockServer interface {
	UnlockGrant(ctx context.Context, id string) (*api.UnlockGrant, error)
	UnlockDone(ctx context.Context, id string, req api.UnlockDoneRequest) (*api.Unlock, error)
}

// ErrSOPINUnknown is a UKEY none of the grant's SO PINs opens: it was
// initialised elsewhere, or its SO PIN was changed outside CertDesk.
var ErrSOPINUnknown = errors.New("none of the CA's SO PINs opens this UKEY")

// FinishUnlock takes the unlock's one-time grant, resets the user PIN of
// UKEY serial to newPIN (C_InitPIN as SO), rotates the SO PIN to the one
// the CA chose, and reports how far it got. newPIN is cleared.
func FinishUnlock(ctx context.Context, srv UnlockServer, m *token.Module, serial, unlockID string, newPIN []byte) error {
	defer clear(newPIN)
	if err := token.CheckNewPIN(nil, newPIN); err != nil {
		return err
	}
	t, err := m.Find(serial, "")
	if err != nil {
		return fmt.Errorf("find UKEY %s: %w", serial, err)
	}
	g, err := srv.UnlockGrant(ctx, unlockID)
	if err != nil {
		return fmt.Errorf("unlock grant: %w", err)
	}
	res, err := resetPIN(m, t, g, newPIN)
	// Reported even after a failure past the SO login: the CA must know
	// whether the token now holds the new SO PIN.
	if res.SOPINIndex >= 0 {
		if _, derr := srv.UnlockDone(ctx, unlockID, res); derr != nil && err == nil {
			err = fmt.Errorf("report the unlock: %w", derr)
		}
	}
	return err
}

func resetPIN(m *token.Module, t token.Token, g *api.UnlockGrant, newPIN []byte) (api.UnlockDoneRequest, error) {
	res := api.UnlockDoneRequest{SOPINIndex: -1}
	s, err := m.Open(t)
	if err != nil {
		return res, err
	}
	defer s.Close()
	for i, so := range g.SOPINs {
		err = s.LoginSO([]byte(so))
		if err == nil {
			res.SOPINIndex = i
			break
		}
		if !errors.Is(err, token.ErrWrongPIN) {
			return res, err
		}
	}
	if res.SOPINIndex < 0 {
		return res, ErrSOPINUnknown
	}
	// The SO login ends with the session anyway (Close below); logging
	// out first is tidiness, so its error changes nothing.
	defer func() { _ = s.Logout() }()
	if err := s.InitPIN(bytes.Clone(newPIN)); err != nil {
		return res, err
	}
	cur := g.SOPINs[res.SOPINIndex]
	switch {
	case g.NewSOPIN == "":
	case cur == g.NewSOPIN:
		res.Rotated = true // an earlier rotation reached the token
	default:
		// C_SetPIN as SO changes the SO PIN.
		if err := s.ChangePIN([]byte(cur), []byte(g.NewSOPIN)); err != nil {
			return res, fmt.Errorf("rotate the SO PIN: %w", err)
		}
		res.Rotated = true
	}
	return res, nil
}

// UnlockCertificate is the certificate an unlock names the UKEY by: the
// newest on it.
func UnlockCertificate(m *token.Module, serial string, now time.Time) (Cert, error) {
	certs, err := List(m, now)
	if err != nil {
		return Cert{}, err
	}
	for _, c := range certs {
		if c.TokenSerial == serial {
			return c, nil
		}
	}
	return Cert{}, fmt.Errorf("UKEY %s: %w", serial, ErrNoCertificate)
}

// ErrNoCertificate is a UKEY with no certificate on it.
var ErrNoCertificate = errors.New("no certificate on the UKEY")

// LoginServer is the CA's UKEY login: a challenge, then a session for it
// signed on the UKEY.
type LoginServer interface {
	LoginNonce(ctx context.Context) (*api.Nonce, error)
	UKEYLogin(ctx context.Context, req api.UKEYLoginRequest) (*api.Session, error)
}

// ErrCertNotOnUKEY is a login asked for with a certificate whose key is
// not on the UKEY.
var ErrCertNotOnUKEY = errors.New("the certificate's key is not on the UKEY")

// LoginWithUKEY logs in to the CA with the certificate certSerial (hex)
// on UKEY tokenSerial: the PIN opens the UKEY (cleared on every path) and
// its key signs the CA's challenge. Renewal needs a session opened with
// the very certificate it renews.
func LoginWithUKEY(ctx context.Context, srv LoginServer, m *token.Module, tokenSerial, certSerial string, pin []byte, finalTry bool) (*api.Session, error) {
	s, err := m.OpenLoggedIn(token.Ref{Serial: tokenSerial}, pin, finalTry)
	if err != nil {
		return nil, err
	}
	defer s.Close()
	pairs, err := s.Pairs()
	if err != nil {
		return nil, err
	}
	for _, p := range pairs {
		if p.Cert.SerialNumber.Text(16) == certSerial {
			return SignLogin(ctx, srv, p.Key, p.Cert)
		}
	}
	return nil, ErrCertNotOnUKEY
}

// SignLogin answers the CA's login challenge with key, whose certificate
// is cert.
func SignLogin(ctx context.Context, srv LoginServer, key crypto.Signer, cert *x509.Certificate) (*api.Session, error) {
	n, err := srv.LoginNonce(ctx)
	if err != nil {
		return nil, err
	}
	h := sha256.Sum256(api.LoginMessage(n.Nonce))
	sig, err := key.Sign(rand.Reader, h[:], crypto.SHA256)
	if err != nil {
		return nil, err
	}
	return srv.UKEYLogin(ctx, api.UKEYLoginRequest{Nonce: n.Nonce, Certificate: cert.Raw, Signature: sig})
}

// ErrBadSignature is a UKEY whose signature the certificate's key does not
// accept: the certificate is not for the key that signed.
var ErrBadSignature = errors.New("the UKEY's signature does not match the certificate")

// CheckSignature checks a SHA-256 signature over digest (ECDSA ASN.1 or
// RSA PKCS#1 v1.5, what the UKEY's key makes) with the certificate's key.
func CheckSignature(c *x509.Certificate, digest, sig []byte) error {
	switch pub := c.PublicKey.(type) {
	case *ecdsa.PublicKey:
		if !ecdsa.VerifyASN1(pub, digest, sig) {
			return ErrBadSignature
		}
		return nil
	case *rsa.PublicKey:
		if err := rsa.VerifyPKCS1v15(pub, crypto.SHA256, digest, sig); err != nil {
			return ErrBadSignature
		}
		return nil
	}
	return fmt.Errorf("unsupported key %T", c.PublicKey)
}
