package ca

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"errors"
	"fmt"
	"os"
	"sync"

	"golang.org/x/crypto/scrypt"
)

// The CA's key-encryption key (KEK) seals the secrets the CA must keep but
// never show, such as each UKEY's SO PIN. It is 32 random bytes, stored in
// the CA directory wrapped under the CA passphrase (scrypt, AES-256-GCM),
// so a copy of the database alone reveals no SO PIN, and a copy of the CA
// directory alone neither. It is made on first use.

const kekFile = "ukey-kek.key"

var kekMagic = []byte("CDKEK1")

// ErrUnseal is a sealed value that does not open: another CA's KEK, a wrong
// passphrase, or a value moved to another record.
var ErrUnseal = errors.New("sealed value does not open with this CA's key-encryption key")

type kekCache struct {
	mu  sync.Mutex
	key []byte
}

func (c *CA) kek() ([]byte, error) {
	c.keks.mu.Lock()
	defer c.keks.mu.Unlock()
	if c.keks.key != nil {
		return c.keks.key, nil
	}
	path := c.path(kekFile)
	b, err := os.ReadFile(path)
	switch {
	case errors.Is(err, os.ErrNotExist):
		key := make([]byte, 32)
		if _, err := rand.Read(key); err != nil {
			return nil, err
		}
		wrapped, err := wrapKEK(c.cfg.Passphrase, key)
		if err != nil {
			return nil, err
		}
		// O_EXCL: two processes making it at once keep the first one's.
		f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
		if errors.Is(err, os.ErrExist) {
			return c.kekReadLocked(path)
		}
		if err != nil {
			return nil, fmt.Errorf("write %s: %w", kekFile, err)
		}
		if _, err := f.Write(wrapped); err != nil {
			f.Close()
			return nil, fmt.Errorf("write %s: %w", kekFile, err)
		}
		if err := f.Close(); err != nil {
			return nil, fmt.Errorf("write %s: %w", kekFile, err)
		}
		c.keks.key = key
		return key, nil
	case err != nil:
		return nil, fmt.Errorf("read %s: %w", kekFile, err)
	}
	return c.unwrapLocked(b)
}

func (c *CA) kekReadLocked(path string) ([]byte, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", kekFile, err)
	}
	return c.unwrapLocked(b)
}

func (c *CA) unwrapLocked(b []byte) ([]byte, error) {
	key, err := unwrapKEK(c.cfg.Passphrase, b)
	if err != nil {
		return nil, fmt.Errorf("%s (wrong CA passphrase?): %w", kekFile, err)
	}
	c.keks.key = key
	return key, nil
}

func passKey(pass, salt []byte) ([]byte, error) {
	return scrypt.Key(pass, salt, 1<<15, 8, 1, 32)
}

func wrapKEK(pass, key []byte) ([]byte, error) {
	salt := make([]byte, 16)
	if _, err := rand.Read(salt); err != nil {
		return nil, err
	}
	pk, err := passKey(pass, salt)
	if err != nil {
		return nil, err
	}
	sealed, err := gcmSeal(pk, kekMagic, key)
	if err != nil {
		return nil, err
	}
	return append(append(append([]byte{}, kekMagic...), salt...), sealed...), nil
}

func unwrapKEK(pass, b []byte) ([]byte, error) {
	if len(b) < len(kekMagic)+16 || !bytes.Equal(b[:len(kekMagic)], kekMagic) {
		return nil, errors.New("not a CertDesk KEK file")
	}
	salt := b[len(kekMagic) : len(kekMagic)+16]
	pk, err := passKey(pass, salt)
	if err != nil {
		return nil, err
	}
	return gcmOpen(pk, kekMagic, b[len(kekMagic)+16:])
}

func gcmSeal(key, aad, plain []byte) ([]byte, error) {
	blk, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	g, err := cipher.NewGCM(blk)
	if err != nil {
		return nil, err
	}
	nonce := make([]byte, g.NonceSize())
	if _, err := rand.Read(nonce); err != nil {
		return nil, err
	}
	return g.Seal(nonce, nonce, plain, aad), nil
}

func gcmOpen(key, aad, sealed []byte) ([]byte, error) {
	blk, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	g, err := cipher.NewGCM(blk)
	if err != nil {
		return nil, err
	}
	if len(sealed) < g.NonceSize() {
		return nil, ErrUnseal
	}
	out, err := g.Open(nil, sealed[:g.NonceSize()], sealed[g.NonceSize():], aad)
	if err != nil {
		return nil, ErrUnseal
	}
	return out, nil
}

// Seal encrypts plain under the KEK, bound to context (for example
// "so-pin:" and the UKEY serial): a sealed value copied to another record
// does not open there.
func (c *CA) Seal(context string, plain []byte) ([]byte, error) {
	k, err := c.kek()
	if err != nil {
		return nil, err
	}
	return gcmSeal(k, []byte(context), plain)
}

// Unseal opens a value Seal made for the same context.
func (c *CA) Unseal(context string, sealed []byte) ([]byte, error) {
	k, err := c.kek()
	if err != nil {
		return nil, err
	}
	return gcmOpen(k, []byte(context), sealed)
}
