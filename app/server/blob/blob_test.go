package blob

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"os"
	"path/filepath"
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
	b, err := s.Complete("up1abcdefgh", hexSum, nil)
	if err == nil {
		err = s.Keep("up1abcdefgh", hexSum)
	}
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
	if _, err := s.Complete("up3abcdefgh", hex.EncodeToString(make([]byte, 32)), nil); !errors.Is(err, ErrDigest) {
		t.Fatalf("bad digest: %v", err)
	}
	if _, err := s.Open("../../etc/passwd"); err == nil {
		t.Fatal("path traversal")
	}
	if _, err := s.Append("../x", 0, 1, bytes.NewReader([]byte("a")), nil); err == nil {
		t.Fatal("bad id accepted")
	}
}

// A file received whole into an aligned buffer is written with direct I/O
// (where the file system has it) and stored byte for byte; unaligned data
// takes the plain write.
func TestWriteDataDirect(t *testing.T) {
	data := make([]byte, 1<<20+1234)
	for i := range data {
		data[i] = byte(i*7 + i>>11)
	}
	s, err := Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	keep := NewBuffer(len(data) + bytes.MinRead)
	n, err := s.Append("upwholeabc", 0, int64(len(data)), bytes.NewReader(data), keep)
	if err != nil || n != int64(len(data)) {
		t.Fatalf("append: %d %v", n, err)
	}
	sum := sha256.Sum256(data)
	if _, err := s.Complete("upwholeabc", hex.EncodeToString(sum[:]), keep.Bytes()); err != nil {
		t.Fatal(err)
	}
	if err := s.Keep("upwholeabc", hex.EncodeToString(sum[:])); err != nil {
		t.Fatal(err)
	}
	f, err := s.Open(hex.EncodeToString(sum[:]))
	if err != nil {
		t.Fatal(err)
	}
	stored, _ := io.ReadAll(f)
	f.Close()
	if !bytes.Equal(stored, data) {
		t.Fatal("the stored blob differs from what was sent")
	}

	for _, tc := range []struct {
		name    string
		data    []byte
		aligned bool
	}{
		{"aligned", keep.Bytes(), true},
		{"unaligned", append(make([]byte, 1, len(data)+1), data...)[1:], false},
		{"shorter than a block", keep.Bytes()[:100], true},
	} {
		p := filepath.Join(t.TempDir(), "f")
		f, err := os.Create(p)
		if err != nil {
			t.Fatal(err)
		}
		direct, err := writeData(f, tc.data)
		f.Close()
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		got, _ := os.ReadFile(p)
		if !bytes.Equal(got, tc.data) {
			t.Fatalf("%s: file differs", tc.name)
		}
		if direct && (!tc.aligned || len(tc.data) < align) {
			t.Errorf("%s: direct I/O on data it cannot take", tc.name)
		}
		t.Logf("%s: direct I/O %v", tc.name, direct)
	}
}
