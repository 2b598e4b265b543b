package token

import (
	"bytes"
	"crypto"
	"crypto/x509"
	"encoding/asn1"
	"errors"
	"fmt"

	"github.com/miekg/pkcs11"
)

func samePublic(a, b crypto.PublicKey) bool {
	type equaler interface{ Equal(crypto.PublicKey) bool }
	e, ok := a.(equaler)
	return ok && e.Equal(b)
}

// Certificate returns the certificate installed under the key's CKA_ID,
// or nil when there is none.
func (k *Key) Certificate() (*x509.Certificate, error) {
	objs, err := k.s.find([]*pkcs11.Attribute{
		pkcs11.NewAttribute(pkcs11.CKA_CLASS, pkcs11.CKO_CERTIFICATE),
		pkcs11.NewAttribute(pkcs11.CKA_ID, k.ID),
	}, 4)
	if err != nil || len(objs) == 0 {
		return nil, err
	}
	a, err := k.s.attr(objs[0], pkcs11.CKA_VALUE)
	if err != nil {
		return nil, err
	}
	return x509.ParseCertificate(a[0].Value)
}

// Install writes the issued certificate to the token under the key's
// CKA_ID, with label, subject, issuer and serial, reads it back and
// compares it byte for byte. A certificate for another key is refused
// before anything is written; installing the same certificate twice is a
// no-op (resume after a crash).
func (k *Key) Install(der []byte) (*x509.Certificate, error) {
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, fmt.Errorf("install: %w", err)
	}
	if !samePublic(k.pub, cert.PublicKey) {
		return nil, fmt.Errorf("install: %w", ErrMismatch)
	}
	if have, err := k.Certificate(); err != nil {
		return nil, err
	} else if have != nil {
		if bytes.Equal(have.Raw, der) {
			return have, nil
		}
		return nil, fmt.Errorf("install: another certificate is already on the UKEY for this key")
	}
	serial, err := asn1.Marshal(cert.SerialNumber)
	if err != nil {
		return nil, err
	}
	o, err := k.s.m.ctx.CreateObject(k.s.h, []*pkcs11.Attribute{
		pkcs11.NewAttribute(pkcs11.CKA_CLASS, pkcs11.CKO_CERTIFICATE),
		pkcs11.NewAttribute(pkcs11.CKA_CERTIFICATE_TYPE, pkcs11.CKC_X_509),
		pkcs11.NewAttribute(pkcs11.CKA_TOKEN, true),
		pkcs11.NewAttribute(pkcs11.CKA_PRIVATE, false),
		pkcs11.NewAttribute(pkcs11.CKA_MODIFIABLE, false),
		pkcs11.NewAttribute(pkcs11.CKA_LABEL, k.Label),
		pkcs11.NewAttribute(pkcs11.CKA_ID, k.ID),
		pkcs11.NewAttribute(pkcs11.CKA_SUBJECT, cert.RawSubject),
		pkcs11.NewAttribute(pkcs11.CKA_ISSUER, cert.RawIssuer),
		pkcs11.NewAttribute(pkcs11.CKA_SERIAL_NUMBER, serial),
		pkcs11.NewAttribute(pkcs11.CKA_VALUE, der),
	})
	if err != nil {
		return nil, mapErr("write certificate", err)
	}
	a, err := k.s.attr(o, pkcs11.CKA_VALUE)
	if err != nil {
		return nil, err
	}
	if !bytes.Equal(a[0].Value, der) {
		return nil, errors.New("install: the certificate read back differs from the one written")
	}
	return cert, nil
}

// Pair is a certificate with its private key on the token, for UKEY login.
type Pair struct {
	Key  *Key
	Cert *x509.Certificate
}

// Pairs lists the certificate+key pairs on the token (needs a login: the
// private keys are private objects).
func (s *Session) Pairs() ([]Pair, error) {
	keys, err := s.Keys("")
	if err != nil {
		return nil, err
	}
	var out []Pair
	for _, k := range keys {
		c, err := k.Certificate()
		if err != nil {
			return nil, err
		}
		if c != nil && samePublic(k.pub, c.PublicKey) {
			out = append(out, Pair{Key: k, Cert: c})
		}
	}
	return out, nil
}

// Certificates lists every X.509 certificate on the token (no login
// needed: certificates are public objects), for `certdesk token list`.
func (s *Session) Certificates() ([]*x509.Certificate, error) {
	objs, err := s.find([]*pkcs11.Attribute{pkcs11.NewAttribute(pkcs11.CKA_CLASS, pkcs11.CKO_CERTIFICATE)}, 64)
	if err != nil {
		return nil, err
	}
	var out []*x509.Certificate
	for _, o := range objs {
		a, err := s.attr(o, pkcs11.CKA_VALUE)
		if err != nil {
			return nil, err
		}
		if c, err := x509.ParseCertificate(a[0].Value); err == nil {
			out = append(out, c)
		}
	}
	return out, nil
}

// KeyFor returns the application's key, generating it only when the token
// has none: an interrupted enrolment resumes with the same key pair, never
// a second one. created tells which happened.
func (s *Session) KeyFor(appID string, kt KeyType) (key *Key, created bool, err error) {
	keys, err := s.Keys(appID)
	if err != nil {
		return nil, false, err
	}
	if len(keys) > 0 {
		return keys[0], false, nil
	}
	k, err := s.GenerateKey(appID, kt)
	return k, err == nil, err
}

// Destroy removes the key pair and its certificate from the token (the
// self-test cleans up after itself; enrolment never calls it).
func (k *Key) Destroy() error {
	objs, err := k.s.find([]*pkcs11.Attribute{pkcs11.NewAttribute(pkcs11.CKA_ID, k.ID)}, 16)
	if err != nil {
		return err
	}
	for _, o := range objs {
		if err := k.s.m.ctx.DestroyObject(k.s.h, o); err != nil {
			return mapErr("destroy object", err)
		}
	}
	return nil
}
