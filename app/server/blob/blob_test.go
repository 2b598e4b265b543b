package blob

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"testing"
)

type failingReader struct {
	data []byte
	cut  int
}

func (f *failingReader) Read(p []byte) (int, error) {
	if f.cut == 0 {
		return 0, errors.New("connection reset")
	}
	n := copy(p, f.data[:min(len(p), f.cut)])
	f.data, f.cut = f.data[n:], f.cut-n
	return n, nil
}

func TestResumeAfterCut(t *testing.T) {
	s, err := Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	data := bytes.Repeat([]byte("材料0123456789"), 50000)
	sum := sha256.Sum256(data)
	hexSum := hex.EncodeToString(sum[:])
	total := int64(len(data))
	n, err := s.Append("up1abcdefgh", 0, total, &failingReader{data: data, cut: 300000}, nil)
	if err == nil || n != 300000 {
		t.Fatalf("cut: n=%d err=%v", n, err)
	}
	if got, _ := s.PartSize("up1abcdefgh"); got != n {
		t.Fatalf("part size %d", got)
	}
	if _, err := s.Append("up1abcdefgh", 0, total, bytes.NewReader(data), nil); !errors.Is(err, ErrOffset) {
		t.Fatalf("wrong offset accepted: %v", err)
	}
	n, err = s.Append("up1abcdefgh", n, total, bytes.NewReader(data[n:]), nil)
	if err != nil || n != total {
		t.Fatalf("resume: %d %v", n, err)
	}
	b, err := s.Finish("up1abcdefgh", hexSum, nil)
	if err != nil || !bytes.Equal(b, data) {
		t.Fatalf("finish: %v", err)
	}
	f, err := s.Open(hexSum)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	stored, _ := io.ReadAll(f)
	if !bytes.Equal(stored, data) {
		t.Fatal("stored blob differs")
	}
}

func TestDigestAndLength(t *testing.T) {
	s, _ := Open(t.TempDir())
	if _, err := s.Append("up2abcdefgh", 0, 4, bytes.NewReader([]byte("abcdef")), nil); !errors.Is(err, ErrTooLarge) {
		t.Fatalf("overlong: %v", err)
	}
	s.Discard("up2abcdefgh")
	s.Append("up3abcdefgh", 0, 3, bytes.NewReader([]byte("abc")), nil)
	if _, err := s.Finish("up3abcdefgh", hex.EncodeToString(make([]byte, 32)), nil); !errors.Is(err, ErrDigest) {
		t.Fatalf("bad digest: %v", err)
	}
	if _, err := s.Open("../../etc/passwd"); err == nil {
		t.Fatal("path traversal")
	}
	if _, err := s.Append("../x", 0, 1, bytes.NewReader([]byte("a")), nil); err == nil {
		t.Fatal("bad id accepted")
	}
}
