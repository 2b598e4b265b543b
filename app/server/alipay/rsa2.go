// Package alipay holds the signature scheme of Alipay's open API, which
// CertDesk's online payment speaks: RSA2, that is SHA256withRSA (PKCS#1
// v1.5) over the request or notify parameters sorted by name, joined as
// k=v with &, leaving out sign, sign_type and empty values; the signature
// travels base64-encoded in "sign". Written here because it is ten lines
// and the vendor SDKs pull in a whole HTTP client.
package alipay

import (
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"net/url"
	"sort"
	"strings"
)

// SignContent is the string that is signed.
func SignContent(params url.Values) string {
	keys := make([]string, 0, len(params))
	for k := range params {
		if k == "sign" || k == "sign_type" || params.Get(k) == "" {
			continue
		}
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	for i, k := range keys {
		if i > 0 {
			b.WriteByte('&')
		}
		b.WriteString(k)
		b.WriteByte('=')
		b.WriteString(params.Get(k))
	}
	return b.String()
}

// Sign sets params' sign and sign_type with key.
func Sign(key *rsa.PrivateKey, params url.Values) error {
	h := sha256.Sum256([]byte(SignContent(params)))
	sig, err := rsa.SignPKCS1v15(rand.Reader, key, crypto.SHA256, h[:])
	if err != nil {
		return err
	}
	params.Set("sign_type", "RSA2")
	params.Set("sign", base64.StdEncoding.EncodeToString(sig))
	return nil
}

// ErrSignature: the parameters are not signed by the key's owner.
var ErrSignature = errors.New("RSA2 signature does not verify")

// ErrAmbiguous: the parameters could be split into k=v pairs in more than
// one way, so one signature would cover other parameters than these.
var ErrAmbiguous = errors.New("notify parameters are ambiguous in the signed content")

// Unambiguous refuses parameters whose sign content does not say which
// pairs it holds: a value with '&' (or a key outside [a-z0-9_], or one
// given twice) lets a genuine signature be re-split into other pairs —
// "subject=X&out_trade_no=B" signs for out_trade_no=B as well. Alipay's own
// notify values never hold '&'; the merchant's texts (subject, body) are
// ours and never hold one either.
func Unambiguous(params url.Values) error {
	for k, vs := range params {
		if k == "sign" || k == "sign_type" {
			continue
		}
		if len(vs) > 1 || k == "" {
			return ErrAmbiguous
		}
		for _, c := range k {
			if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '_') {
				return ErrAmbiguous
			}
		}
		if strings.ContainsRune(vs[0], '&') {
			return ErrAmbiguous
		}
	}
	return nil
}

// Verify checks params' RSA2 signature with the provider's public key,
// after checking that the signed content is unambiguous.
func Verify(pub *rsa.PublicKey, params url.Values) error {
	if err := Unambiguous(params); err != nil {
		return err
	}
	if params.Get("sign_type") != "RSA2" {
		return ErrSignature
	}
	sig, err := base64.StdEncoding.DecodeString(params.Get("sign"))
	if err != nil {
		return ErrSignature
	}
	h := sha256.Sum256([]byte(SignContent(params)))
	if rsa.VerifyPKCS1v15(pub, crypto.SHA256, h[:], sig) != nil {
		return ErrSignature
	}
	return nil
}
