package blob

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"os"
	"path/filepath"
	"testing"
)

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
	n, err := s.Append(context.Background(), "upwholeabc", 0, int64(len(data)), bytes.NewReader(data), keep)
	if err != nil || n != int64(len(data)) {
		t.Fatalf("append: %d %v", n, err)
	}
	sum := sha256.Sum256(data)
	if _, err := s.Complete(context.Background(), "upwholeabc", hex.EncodeToString(sum[:]), keep.Bytes()); err != nil {
		t.Fatal(err)
	}
	if err := s.Keep(context.Background(), "upwholeabc", hex.EncodeToString(sum[:]), data); err != nil {
		t.Fatal(err)
	}
	f, err := s.Open(context.Background(), hex.EncodeToString(sum[:]))
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
