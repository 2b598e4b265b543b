// Package blobtest is the behaviour every blob.Blobs must have, run by the
// tests of each store (the local disk, S3) on a real store.
package blobtest

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"testing"

	"certdesk/app/server/blob"
)

// FailingReader gives cut bytes of data, then a connection reset.
type FailingReader struct {
	Data []byte
	Cut  int
}

func (f *FailingReader) Read(p []byte) (int, error) {
	if f.Cut == 0 {
		return 0, errors.New("connection reset")
	}
	n := copy(p, f.Data[:min(len(p), f.Cut)])
	f.Data, f.Cut = f.Data[n:], f.Cut-n
	return n, nil
}

// Run runs the behaviour tests on stores made by open.
func Run(t *testing.T, open func(t *testing.T) blob.Blobs) {
	t.Run("ResumeAfterCut", func(t *testing.T) { resumeAfterCut(t, open) })
	t.Run("DigestAndLength", func(t *testing.T) { digestAndLength(t, open) })
}

func resumeAfterCut(t *testing.T, open func(t *testing.T) blob.Blobs) {
	{
		{
			ctx := context.Background()
			s := open(t)
			data := bytes.Repeat([]byte("材料0123456789"), 50000)
			sum := sha256.Sum256(data)
			hexSum := hex.EncodeToString(sum[:])
			total := int64(len(data))
			n, err := s.Append(ctx, "up1abcdefgh", 0, total, &FailingReader{Data: data, Cut: 300000}, nil)
			if err == nil || n != 300000 {
				t.Fatalf("cut: n=%d err=%v", n, err)
			}
			if got, _ := s.PartSize(ctx, "up1abcdefgh"); got != n {
				t.Fatalf("part size %d", got)
			}
			if _, err := s.Append(ctx, "up1abcdefgh", 0, total, bytes.NewReader(data), nil); !errors.Is(err, blob.ErrOffset) {
				t.Fatalf("wrong offset accepted: %v", err)
			}
			n, err = s.Append(ctx, "up1abcdefgh", n, total, bytes.NewReader(data[n:]), nil)
			if err != nil || n != total {
				t.Fatalf("resume: %d %v", n, err)
			}
			b, err := s.Complete(ctx, "up1abcdefgh", hexSum, nil)
			if err == nil {
				err = s.Keep(ctx, "up1abcdefgh", hexSum, b)
			}
			if err != nil || !bytes.Equal(b, data) {
				t.Fatalf("finish: %v", err)
			}
			if got, _ := s.PartSize(ctx, "up1abcdefgh"); got != 0 {
				t.Fatalf("the part outlived its blob: %d bytes", got)
			}
			f, err := s.Open(ctx, hexSum)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			stored, _ := io.ReadAll(f)
			if !bytes.Equal(stored, data) {
				t.Fatal("stored blob differs")
			}
			if _, err := s.Open(ctx, hex.EncodeToString(make([]byte, 32))); err == nil {
				t.Fatal("a blob never stored opened")
			}
		}
	}
}

func digestAndLength(t *testing.T, open func(t *testing.T) blob.Blobs) {
	{
		{
			ctx := context.Background()
			s := open(t)
			if _, err := s.Append(ctx, "up2abcdefgh", 0, 4, bytes.NewReader([]byte("abcdef")), nil); !errors.Is(err, blob.ErrTooLarge) {
				t.Fatalf("overlong: %v", err)
			}
			s.Discard(ctx, "up2abcdefgh")
			if _, err := s.Append(ctx, "up3abcdefgh", 0, 3, bytes.NewReader([]byte("abc")), nil); err != nil {
				t.Fatal(err)
			}
			if _, err := s.Complete(ctx, "up3abcdefgh", hex.EncodeToString(make([]byte, 32)), nil); !errors.Is(err, blob.ErrDigest) {
				t.Fatalf("bad digest: %v", err)
			}
			if n, _ := s.PartSize(ctx, "up3abcdefgh"); n != 0 {
				t.Fatalf("a part that failed its digest is kept: %d bytes", n)
			}
			if _, err := s.Open(ctx, "../../etc/passwd"); err == nil {
				t.Fatal("path traversal")
			}
			if _, err := s.Append(ctx, "../x", 0, 1, bytes.NewReader([]byte("a")), nil); err == nil {
				t.Fatal("bad id accepted")
			}
		}
	}
}
