package server

import (
	"crypto"
	"errors"
	"fmt"
	"io"
	"sync"

	"certdesk/token"
)

// HSMConfig puts the issuing CA's key in a PKCS#11 HSM.
type HSMConfig struct {
	Module string // PKCS#11 module path
	Token  string // token label (or serial)
	PIN    []byte // the HSM user PIN, from the operator's configuration
	// KeyType of the issuing key when it is first made on the HSM.
	KeyType token.KeyType
}

// hsmLabel names the CA key on the HSM (token.LabelPrefix + this).
const hsmLabel = "ca-issuing"

// hsmSigner is the issuing key on the HSM. A session that dies (HSM
// restarted, network HSM reconnecting) is reopened and logged in again
// once, and the signature retried.
type hsmSigner struct {
	cfg  HSMConfig
	mod  *token.Module
	mu   sync.Mutex
	sess *token.Session
	key  *token.Key
}

func openHSM(cfg HSMConfig) (*hsmSigner, error) {
	m, err := token.Load(cfg.Module)
	if err != nil {
		return nil, fmt.Errorf("CA HSM: %w", err)
	}
	h := &hsmSigner{cfg: cfg, mod: m}
	if err := h.connect(true); err != nil {
		m.Close()
		return nil, err
	}
	return h, nil
}

// connect opens a session, logs in and finds (or, at first start,
// makes) the CA key.
func (h *hsmSigner) connect(create bool) error {
	// The token is named by label (or serial). OpenLoggedIn clears the PIN
	// it is given: pass a copy, keep the original for reconnecting.
	s, err := h.mod.OpenLoggedIn(token.Ref{Serial: h.cfg.Token, Label: h.cfg.Token}, append([]byte(nil), h.cfg.PIN...), true)
	if err != nil {
		return fmt.Errorf("CA HSM token %q: %w", h.cfg.Token, err)
	}
	var k *token.Key
	if create {
		k, _, err = s.KeyFor(hsmLabel, h.cfg.KeyType)
	} else {
		var ks []*token.Key
		if ks, err = s.Keys(hsmLabel); err == nil && len(ks) == 0 {
			err = errors.New("the CA key is no longer on the HSM")
		}
		if err == nil {
			k = ks[0]
		}
	}
	if err != nil {
		s.Close()
		return fmt.Errorf("CA HSM key: %w", err)
	}
	if h.sess != nil {
		h.sess.Close()
	}
	h.sess, h.key = s, k
	return nil
}

func (h *hsmSigner) Public() crypto.PublicKey {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.key.Public()
}

func (h *hsmSigner) Sign(r io.Reader, digest []byte, opts crypto.SignerOpts) ([]byte, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	sig, err := h.key.Sign(r, digest, opts)
	if errors.Is(err, token.ErrSessionGone) || errors.Is(err, token.ErrTokenRemoved) || errors.Is(err, token.ErrNotLoggedIn) {
		if cerr := h.connect(false); cerr != nil {
			return nil, fmt.Errorf("%w; reconnecting: %v", err, cerr)
		}
		sig, err = h.key.Sign(r, digest, opts)
	}
	return sig, err
}

func (h *hsmSigner) Close() error {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.sess != nil {
		h.sess.Close()
	}
	return h.mod.Close()
}
