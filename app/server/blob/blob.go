// Package blob stores material files by the SHA-256 of their content, and
// the partial files of resumable uploads beside them: on the local disk
// (Store, the default) or in an S3-compatible bucket (package s3blob, for
// several instances). Either way a blob is complete before it has its name, and
// nothing is reported stored or received before it is durable.
package blob

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"unsafe"
)

// Blobs is what the service needs of a blob store. Every method is safe
// to call from several instances at once on a shared store: a part is
// named by the upload and offset it continues, a blob by its content.
type Blobs interface {
	// Open returns a blob's content.
	Open(ctx context.Context, sum string) (io.ReadSeekCloser, error)
	// PartSize is how many bytes of an upload are stored.
	PartSize(ctx context.Context, id string) (int64, error)
	// Append stores r as the continuation of upload id at offset (which
	// must be where the stored part ends), never past total, and returns
	// the new size: what was received and stored, even when the
	// connection dropped mid-way. When keep is not nil the bytes are
	// received into it.
	Append(ctx context.Context, id string, offset, total int64, r io.Reader, keep *bytes.Buffer) (int64, error)
	// Complete checks the complete upload against sum and returns its
	// bytes; b, when not nil, is its content as Append kept it. The part
	// stays a part until Keep or Discard.
	Complete(ctx context.Context, id, sum string, b []byte) ([]byte, error)
	// Keep stores the checked upload (content b) as blob sum and drops
	// its part.
	Keep(ctx context.Context, id, sum string, b []byte) error
	// Discard drops an upload's part.
	Discard(ctx context.Context, id string)
}

// ValidName reports whether sum can name a blob (64 lower-case hex digits).
func ValidName(sum string) bool { return reHex.MatchString(sum) }

// ValidUpload reports whether id can name an upload.
func ValidUpload(id string) bool { return reID.MatchString(id) }

// HasSum reports whether b's SHA-256 is sum.
func HasSum(b []byte, sum string) bool {
	got := sha256.Sum256(b)
	return hex.EncodeToString(got[:]) == sum
}

// Store is a directory of blobs and upload parts.
type Store struct {
	dir  string
	sync *groupSync
}

var (
	// ErrOffset: an append did not start where the part file ends.
	ErrOffset = errors.New("upload offset does not match")
	// ErrDigest: the assembled upload does not have the announced SHA-256.
	ErrDigest = errors.New("upload content does not match its SHA-256")
	// ErrTooLarge: an append would go past the announced length.
	ErrTooLarge = errors.New("upload longer than announced")

	reHex = regexp.MustCompile(`^[0-9a-f]{64}$`)
	reID  = regexp.MustCompile(`^[a-z0-9]{8,64}$`)
)

// Open creates the directories under dir.
func Open(dir string) (*Store, error) {
	for _, d := range []string{"blobs", "parts"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o700); err != nil {
			return nil, fmt.Errorf("blob store %s: %w", dir, err)
		}
	}
	return &Store{dir: dir, sync: newGroupSync(newFlush(dir))}, nil
}

func (s *Store) path(sum string) string {
	return filepath.Join(s.dir, "blobs", sum[:2], sum)
}

func (s *Store) part(id string) string { return filepath.Join(s.dir, "parts", id+".part") }

// Open returns a blob's content.
func (s *Store) Open(_ context.Context, sum string) (io.ReadSeekCloser, error) {
	if !reHex.MatchString(sum) {
		return nil, fmt.Errorf("bad blob name %q", sum)
	}
	return os.Open(s.path(sum))
}

// PartSize is how many bytes of an upload are on disk.
func (s *Store) PartSize(_ context.Context, id string) (int64, error) {
	if !reID.MatchString(id) {
		return 0, fmt.Errorf("bad upload id")
	}
	fi, err := os.Stat(s.part(id))
	if errors.Is(err, os.ErrNotExist) {
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	return fi.Size(), nil
}

// Append writes r to the part file of upload id, which must hold exactly
// offset bytes, never going past total. It returns the new size: what was
// received and synced, even when the connection dropped mid-way, so the
// client resumes from there. When keep is not nil the bytes are received
// into it and written from there, so a file sent in one request is neither
// copied twice nor read back from disk.
func (s *Store) Append(_ context.Context, id string, offset, total int64, r io.Reader, keep *bytes.Buffer) (int64, error) {
	if !reID.MatchString(id) {
		return 0, fmt.Errorf("bad upload id")
	}
	f, err := os.OpenFile(s.part(id), os.O_CREATE|os.O_WRONLY, 0o600)
	if err != nil {
		return 0, fmt.Errorf("open part: %w", err)
	}
	defer f.Close()
	size, err := f.Seek(0, io.SeekEnd)
	if err != nil {
		return 0, err
	}
	if size != offset {
		return size, ErrOffset
	}
	var n int64
	var copyErr error
	if keep != nil {
		start := keep.Len()
		n, copyErr = keep.ReadFrom(io.LimitReader(r, total-offset))
		if _, err := writeData(f, keep.Bytes()[start:]); err != nil {
			return size, fmt.Errorf("write part: %w", err)
		}
	} else {
		n, copyErr = io.Copy(f, io.LimitReader(r, total-offset))
	}
	size += n
	// Whatever arrived is kept: that is what makes the upload resumable.
	// A complete part is made durable by Finish, once renamed.
	if size != total {
		if err := s.sync.Sync(s.part(id)); err != nil {
			return size, fmt.Errorf("sync part: %w", err)
		}
	}
	if copyErr != nil {
		return size, fmt.Errorf("receive: %w", copyErr)
	}
	if size == total {
		// Anything beyond the announced length is refused.
		var one [1]byte
		if k, _ := r.Read(one[:]); k > 0 {
			return size, ErrTooLarge
		}
	}
	return size, nil
}

// Complete reads the complete part and checks it against sum, returning
// its bytes for inspection; the part stays a part until Keep stores it or
// Discard drops it, so a file the inspection refuses never becomes a blob
// that nothing points at. b, when not nil, is the part's content as
// Append kept it.
func (s *Store) Complete(_ context.Context, id, sum string, b []byte) ([]byte, error) {
	if !reHex.MatchString(sum) {
		return nil, fmt.Errorf("bad SHA-256 %q", sum)
	}
	if b == nil {
		var err error
		if b, err = os.ReadFile(s.part(id)); err != nil {
			return nil, fmt.Errorf("read part: %w", err)
		}
	}
	if !HasSum(b, sum) {
		os.Remove(s.part(id))
		return nil, ErrDigest
	}
	return b, nil
}

// Keep moves a part checked by Complete into the blob store, or drops it
// when that content is stored already (the bytes are on disk already:
// b is not needed).
func (s *Store) Keep(_ context.Context, id, sum string, _ []byte) error {
	if !reHex.MatchString(sum) {
		return fmt.Errorf("bad SHA-256 %q", sum)
	}
	dst := s.path(sum)
	if err := os.MkdirAll(filepath.Dir(dst), 0o700); err != nil {
		return err
	}
	if _, err := os.Stat(dst); err == nil {
		os.Remove(s.part(id))
		return nil
	}
	if err := os.Rename(s.part(id), dst); err != nil {
		return fmt.Errorf("store blob: %w", err)
	}
	return s.sync.Sync(dst)
}

// Discard drops an upload's part file.
func (s *Store) Discard(_ context.Context, id string) {
	if reID.MatchString(id) {
		os.Remove(s.part(id))
	}
}

// align is the alignment direct I/O wants of memory, length and offset
// (the largest logical block size in use).
const align = 4096

// NewBuffer returns an empty buffer of capacity n whose memory starts on
// an align boundary, so that writeData can hand it to the disk as it is.
func NewBuffer(n int) *bytes.Buffer {
	raw := make([]byte, n+align)
	off := int(align-uintptr(unsafe.Pointer(&raw[0]))%align) % align
	return bytes.NewBuffer(raw[off : off : off+n])
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	_ = d.Sync() // not supported on Windows; the rename is still atomic there
	return nil
}
