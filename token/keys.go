package token

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha1"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"errors"
	"fmt"
	"io"
	"math/big"

	"github.com/miekg/pkcs11"
)

// LabelPrefix marks CertDesk's objects; the label names the application.
const LabelPrefix = "certdesk:"

// KeyType is the kind of key generated on the token.
type KeyType string

const (
	KeyAuto  KeyType = ""     // ECDSA P-256 when the token can, else RSA-2048
	KeyEC256 KeyType = "p256" // ECDSA P-256
	KeyRSA   KeyType = "rsa2048"
)

var oidP256 = asn1.ObjectIdentifier{1, 2, 840, 10045, 3, 1, 7}

// Key is a private key on the token with its public half. It implements
// crypto.Signer through the session it was found or made in.
type Key struct {
	s      *Session
	priv   pkcs11.ObjectHandle
	pub    crypto.PublicKey
	ID     []byte
	Label  string
	public pkcs11.ObjectHandle
}

// Public returns the public key.
func (k *Key) Public() crypto.PublicKey { return k.pub }

func (s *Session) find(tmpl []*pkcs11.Attribute, max int) ([]pkcs11.ObjectHandle, error) {
	if err := s.m.ctx.FindObjectsInit(s.h, tmpl); err != nil {
		return nil, mapErr("find objects", err)
	}
	objs, _, err := s.m.ctx.FindObjects(s.h, max)
	if ferr := s.m.ctx.FindObjectsFinal(s.h); err == nil && ferr != nil {
		err = ferr
	}
	return objs, mapErr("find objects", err)
}

func (s *Session) attr(o pkcs11.ObjectHandle, types ...uint) ([]*pkcs11.Attribute, error) {
	tmpl := make([]*pkcs11.Attribute, len(types))
	for i, t := range types {
		tmpl[i] = pkcs11.NewAttribute(t, nil)
	}
	a, err := s.m.ctx.GetAttributeValue(s.h, o, tmpl)
	return a, mapErr("read attributes", err)
}

// GenerateKey makes a key pair for an application on the token: private
// key sensitive, never extractable, signing only; one CKA_ID shared by both
// halves and later the certificate (SHA-1 of the public key, as NSS does).
func (s *Session) GenerateKey(appID string, kt KeyType) (*Key, error) {
	if kt == KeyAuto {
		kt = KeyRSA
		if s.tok.has("EC_KEY_PAIR_GEN") && s.tok.has("ECDSA") {
			kt = KeyEC256
		}
	}
	label := LabelPrefix + appID
	tmpID := []byte("certdesk-pending")
	pub := keyTemplate(pkcs11.CKO_PUBLIC_KEY, false, label, tmpID,
		pkcs11.NewAttribute(pkcs11.CKA_VERIFY, true),
		pkcs11.NewAttribute(pkcs11.CKA_ENCRYPT, false),
		pkcs11.NewAttribute(pkcs11.CKA_WRAP, false),
		pkcs11.NewAttribute(pkcs11.CKA_DERIVE, false))
	priv := keyTemplate(pkcs11.CKO_PRIVATE_KEY, true, label, tmpID,
		pkcs11.NewAttribute(pkcs11.CKA_SENSITIVE, true),
		pkcs11.NewAttribute(pkcs11.CKA_EXTRACTABLE, false),
		pkcs11.NewAttribute(pkcs11.CKA_SIGN, true),
		// SoftHSM (and some tokens) default these to true: a signing key
		// must not decrypt, unwrap or derive.
		pkcs11.NewAttribute(pkcs11.CKA_DECRYPT, false),
		pkcs11.NewAttribute(pkcs11.CKA_UNWRAP, false),
		pkcs11.NewAttribute(pkcs11.CKA_DERIVE, false))
	var mech *pkcs11.Mechanism
	switch kt {
	case KeyEC256:
		params, _ := asn1.Marshal(oidP256)
		pub = append(pub, pkcs11.NewAttribute(pkcs11.CKA_KEY_TYPE, pkcs11.CKK_EC), pkcs11.NewAttribute(pkcs11.CKA_EC_PARAMS, params))
		priv = append(priv, pkcs11.NewAttribute(pkcs11.CKA_KEY_TYPE, pkcs11.CKK_EC))
		mech = pkcs11.NewMechanism(pkcs11.CKM_EC_KEY_PAIR_GEN, nil)
	case KeyRSA:
		pub = append(pub, pkcs11.NewAttribute(pkcs11.CKA_KEY_TYPE, pkcs11.CKK_RSA),
			pkcs11.NewAttribute(pkcs11.CKA_MODULUS_BITS, 2048), pkcs11.NewAttribute(pkcs11.CKA_PUBLIC_EXPONENT, []byte{1, 0, 1}))
		priv = append(priv, pkcs11.NewAttribute(pkcs11.CKA_KEY_TYPE, pkcs11.CKK_RSA))
		mech = pkcs11.NewMechanism(pkcs11.CKM_RSA_PKCS_KEY_PAIR_GEN, nil)
	default:
		return nil, fmt.Errorf("unknown key type %q", kt)
	}
	hpub, hpriv, err := s.m.ctx.GenerateKeyPair(s.h, []*pkcs11.Mechanism{mech}, pub, priv)
	if err != nil {
		return nil, mapErr("generate key pair", err)
	}
	k := &Key{s: s, priv: hpriv, public: hpub, Label: label}
	if k.pub, err = s.readPublic(hpub); err != nil {
		return nil, err
	}
	k.ID = KeyID(k.pub)
	idAttr := []*pkcs11.Attribute{pkcs11.NewAttribute(pkcs11.CKA_ID, k.ID)}
	for _, o := range []pkcs11.ObjectHandle{hpub, hpriv} {
		if err := s.m.ctx.SetAttributeValue(s.h, o, idAttr); err != nil {
			return nil, mapErr("set key id", err)
		}
	}
	return k, nil
}

// KeyID is the CKA_ID of a public key: SHA-1 of the EC point or the RSA
// modulus, as NSS and most CA tools compute it.
func KeyID(pub crypto.PublicKey) []byte {
	var b []byte
	switch k := pub.(type) {
	case *ecdsa.PublicKey:
		b = elliptic.Marshal(k.Curve, k.X, k.Y)
	case *rsa.PublicKey:
		b = k.N.Bytes()
	}
	s := sha1.Sum(b)
	return s[:]
}

func (s *Session) readPublic(o pkcs11.ObjectHandle) (crypto.PublicKey, error) {
	a, err := s.attr(o, pkcs11.CKA_KEY_TYPE)
	if err != nil {
		return nil, err
	}
	switch kt := bytesUint(a[0].Value); kt {
	case pkcs11.CKK_EC:
		a, err := s.attr(o, pkcs11.CKA_EC_PARAMS, pkcs11.CKA_EC_POINT)
		if err != nil {
			return nil, err
		}
		var oid asn1.ObjectIdentifier
		if _, err := asn1.Unmarshal(a[0].Value, &oid); err != nil || !oid.Equal(oidP256) {
			return nil, fmt.Errorf("EC key on an unsupported curve")
		}
		point := a[1].Value
		var inner []byte // CKA_EC_POINT is DER OCTET STRING-wrapped (some tokens send it bare)
		if rest, err := asn1.Unmarshal(point, &inner); err == nil && len(rest) == 0 {
			point = inner
		}
		x, y := elliptic.Unmarshal(elliptic.P256(), point)
		if x == nil {
			return nil, fmt.Errorf("bad EC point")
		}
		return &ecdsa.PublicKey{Curve: elliptic.P256(), X: x, Y: y}, nil
	case pkcs11.CKK_RSA:
		a, err := s.attr(o, pkcs11.CKA_MODULUS, pkcs11.CKA_PUBLIC_EXPONENT)
		if err != nil {
			return nil, err
		}
		return &rsa.PublicKey{N: new(big.Int).SetBytes(a[0].Value), E: int(new(big.Int).SetBytes(a[1].Value).Int64())}, nil
	default:
		return nil, fmt.Errorf("unsupported key type %d", kt)
	}
}

// bytesUint decodes a CK_ULONG attribute (native byte order, as miekg
// returns it).
func bytesUint(b []byte) uint {
	var v uint
	for i := len(b) - 1; i >= 0; i-- {
		v = v<<8 | uint(b[i])
	}
	return v
}

// Keys lists CertDesk's private keys for an application ("" for all),
// with their public halves.
func (s *Session) Keys(appID string) ([]*Key, error) {
	tmpl := []*pkcs11.Attribute{pkcs11.NewAttribute(pkcs11.CKA_CLASS, pkcs11.CKO_PRIVATE_KEY)}
	if appID != "" {
		tmpl = append(tmpl, pkcs11.NewAttribute(pkcs11.CKA_LABEL, LabelPrefix+appID))
	}
	privs, err := s.find(tmpl, 64)
	if err != nil {
		return nil, err
	}
	var out []*Key
	for _, p := range privs {
		a, err := s.attr(p, pkcs11.CKA_ID, pkcs11.CKA_LABEL)
		if err != nil {
			return nil, err
		}
		pubs, err := s.find([]*pkcs11.Attribute{pkcs11.NewAttribute(pkcs11.CKA_CLASS, pkcs11.CKO_PUBLIC_KEY), pkcs11.NewAttribute(pkcs11.CKA_ID, a[0].Value)}, 1)
		if err != nil {
			return nil, err
		}
		if len(pubs) == 0 {
			continue // a half-made pair: no public object, not usable
		}
		pub, err := s.readPublic(pubs[0])
		if err != nil {
			return nil, err
		}
		out = append(out, &Key{s: s, priv: p, public: pubs[0], pub: pub, ID: a[0].Value, Label: string(a[1].Value)})
	}
	return out, nil
}

// digestInfo prefixes of PKCS#1 v1.5 signatures (RFC 8017 §9.2).
var digestInfo = map[crypto.Hash][]byte{
	crypto.SHA256: {0x30, 0x31, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x01, 0x05, 0x00, 0x04, 0x20},
	crypto.SHA384: {0x30, 0x41, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x02, 0x05, 0x00, 0x04, 0x30},
	crypto.SHA512: {0x30, 0x51, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x03, 0x05, 0x00, 0x04, 0x40},
}

// Sign signs a digest on the token: ECDSA returns ASN.1 DER (the token
// returns raw r||s), RSA is PKCS#1 v1.5 with the DigestInfo prefix.
func (k *Key) Sign(_ io.Reader, digest []byte, opts crypto.SignerOpts) ([]byte, error) {
	switch k.pub.(type) {
	case *ecdsa.PublicKey:
		raw, err := k.sign(pkcs11.CKM_ECDSA, digest)
		if err != nil {
			return nil, err
		}
		if len(raw)%2 != 0 || len(raw) == 0 {
			return nil, fmt.Errorf("token returned a %d-byte ECDSA signature", len(raw))
		}
		n := len(raw) / 2
		return asn1.Marshal(struct{ R, S *big.Int }{new(big.Int).SetBytes(raw[:n]), new(big.Int).SetBytes(raw[n:])})
	case *rsa.PublicKey:
		if _, pss := opts.(*rsa.PSSOptions); pss {
			return nil, errors.New("RSA-PSS is not supported by this signer")
		}
		prefix, ok := digestInfo[opts.HashFunc()]
		if !ok || len(digest) != opts.HashFunc().Size() {
			return nil, fmt.Errorf("unsupported hash %v for RSA", opts.HashFunc())
		}
		return k.sign(pkcs11.CKM_RSA_PKCS, append(append([]byte{}, prefix...), digest...))
	}
	return nil, errors.New("unsupported key")
}

func (k *Key) sign(mech uint, data []byte) ([]byte, error) {
	s := k.s
	s.m.mu.Lock() // one sign operation per session at a time
	defer s.m.mu.Unlock()
	if err := s.m.ctx.SignInit(s.h, []*pkcs11.Mechanism{pkcs11.NewMechanism(mech, nil)}, k.priv); err != nil {
		return nil, mapErr("sign init", err)
	}
	sig, err := s.m.ctx.Sign(s.h, data)
	return sig, mapErr("sign", err)
}

// CSR makes a certificate request signed on the token. The CA takes the
// subject from the approved application; cn is only a hint.
func (k *Key) CSR(cn string) ([]byte, error) {
	der, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{Subject: pkix.Name{CommonName: cn}}, k)
	if err != nil {
		return nil, fmt.Errorf("CSR: %w", err)
	}
	return der, nil
}

// keyTemplate is a token object of class with our label and id, plus
// what the key half needs.
func keyTemplate(class uint, private bool, label string, id []byte, extra ...*pkcs11.Attribute) []*pkcs11.Attribute {
	return append([]*pkcs11.Attribute{
		pkcs11.NewAttribute(pkcs11.CKA_CLASS, class),
		pkcs11.NewAttribute(pkcs11.CKA_TOKEN, true),
		pkcs11.NewAttribute(pkcs11.CKA_PRIVATE, private),
		pkcs11.NewAttribute(pkcs11.CKA_LABEL, label),
		pkcs11.NewAttribute(pkcs11.CKA_ID, id),
	}, extra...)
}
