// Package session keeps the applicant's session token between runs: in the
// OS keyring through github.com/zalando/go-keyring (Windows Credential
// Manager, macOS Keychain, the Secret Service on Linux), or — where no
// keyring service exists — in an encrypted file, with a warning. A PIN is
// never stored: only the server's session token is.
package session

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sync"

	"github.com/zalando/go-keyring"

	"certdesk/app/atomicfile"
)

// Service is the keyring service name.
const Service = "CertDesk"

// ErrNone: no token is stored for that server.
var ErrNone = errors.New("no stored session")

// Store keeps one token per server URL.
type Store interface {
	Get(server string) (string, error)
	Set(server, token string) error
	Delete(server string) error
	// Kind says where tokens live, for `certdesk diag`.
	Kind() string
}

// Open returns the keyring store when a keyring service answers, else the
// encrypted-file store in dir (and logs why).
func Open(dir string, log *slog.Logger) Store {
	// A probe write and delete tells whether a keyring service is there.
	probe := "certdesk-probe"
	if err := keyring.Set(Service, probe, "x"); err == nil {
		_ = keyring.Delete(Service, probe)
		return Keyring{}
	} else if log != nil {
		log.Warn("no OS keyring: the session token is kept in an encrypted file; anyone logged in as this user can still read it", "err", err, "dir", dir)
	}
	return &File{Dir: dir}
}

// Keyring is the OS keyring.
type Keyring struct{}

func (Keyring) Kind() string { return "keyring" }

func (Keyring) Get(server string) (string, error) {
	t, err := keyring.Get(Service, server)
	if errors.Is(err, keyring.ErrNotFound) {
		return "", ErrNone
	}
	return t, err
}

func (Keyring) Set(server, token string) error { return keyring.Set(Service, server, token) }

func (Keyring) Delete(server string) error {
	if err := keyring.Delete(Service, server); err != nil && !errors.Is(err, keyring.ErrNotFound) {
		return err
	}
	return nil
}

// File keeps tokens encrypted (AES-256-GCM) in DIR/session.bin, the key in
// DIR/session.key (0600). It protects the token file when it is copied
// alone (a support bundle, a backup), not from the same user.
type File struct {
	Dir string
	mu  sync.Mutex
}

func (f *File) Kind() string { return "file" }

func (f *File) key() ([]byte, error) {
	p := filepath.Join(f.Dir, "session.key")
	k, err := os.ReadFile(p)
	if err == nil && len(k) == 32 {
		return k, nil
	}
	k = make([]byte, 32)
	if _, err := rand.Read(k); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(f.Dir, 0o700); err != nil {
		return nil, err
	}
	return k, atomicfile.WriteFile(p, k, 0o600)
}

func (f *File) load() (map[string]string, []byte, error) {
	k, err := f.key()
	if err != nil {
		return nil, nil, fmt.Errorf("session key: %w", err)
	}
	m := map[string]string{}
	b, err := os.ReadFile(filepath.Join(f.Dir, "session.bin"))
	if errors.Is(err, os.ErrNotExist) {
		return m, k, nil
	}
	if err != nil {
		return nil, nil, err
	}
	blk, _ := aes.NewCipher(k)
	gcm, _ := cipher.NewGCM(blk)
	if len(b) < gcm.NonceSize() {
		return m, k, nil // damaged: start afresh, the user logs in again
	}
	plain, err := gcm.Open(nil, b[:gcm.NonceSize()], b[gcm.NonceSize():], nil)
	if err != nil {
		return m, k, nil
	}
	_ = json.Unmarshal(plain, &m)
	return m, k, nil
}

func (f *File) save(m map[string]string, k []byte) error {
	plain, _ := json.Marshal(m)
	blk, _ := aes.NewCipher(k)
	gcm, _ := cipher.NewGCM(blk)
	nonce := make([]byte, gcm.NonceSize())
	if _, err := rand.Read(nonce); err != nil {
		return err
	}
	return atomicfile.WriteFile(filepath.Join(f.Dir, "session.bin"), gcm.Seal(nonce, nonce, plain, nil), 0o600)
}

func (f *File) Get(server string) (string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	m, _, err := f.load()
	if err != nil {
		return "", err
	}
	t, ok := m[server]
	if !ok {
		return "", ErrNone
	}
	return t, nil
}

func (f *File) Set(server, token string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	m, k, err := f.load()
	if err != nil {
		return err
	}
	m[server] = token
	return f.save(m, k)
}

func (f *File) Delete(server string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	m, k, err := f.load()
	if err != nil {
		return err
	}
	delete(m, server)
	return f.save(m, k)
}
