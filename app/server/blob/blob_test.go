package blob

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"certdesk/app/server/blob/s3test"

	"github.com/minio/minio-go/v7"
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

// stores are the blob stores under test: the local disk, and S3 on a real
// S3-compatible server (versitygw).
func stores(t *testing.T) map[string]func(t *testing.T) Blobs {
	return map[string]func(t *testing.T) Blobs{
		"disk": func(t *testing.T) Blobs {
			s, err := Open(t.TempDir())
			if err != nil {
				t.Fatal(err)
			}
			return s
		},
		"s3": func(t *testing.T) Blobs {
			srv := s3test.Start(t)
			s, err := OpenS3(context.Background(), srv.URL(), srv.Access, srv.Secret)
			if err != nil {
				t.Fatal(err)
			}
			return s
		},
	}
}

func TestResumeAfterCut(t *testing.T) {
	for name, open := range stores(t) {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			s := open(t)
			data := bytes.Repeat([]byte("材料0123456789"), 50000)
			sum := sha256.Sum256(data)
			hexSum := hex.EncodeToString(sum[:])
			total := int64(len(data))
			n, err := s.Append(ctx, "up1abcdefgh", 0, total, &failingReader{data: data, cut: 300000}, nil)
			if err == nil || n != 300000 {
				t.Fatalf("cut: n=%d err=%v", n, err)
			}
			if got, _ := s.PartSize(ctx, "up1abcdefgh"); got != n {
				t.Fatalf("part size %d", got)
			}
			if _, err := s.Append(ctx, "up1abcdefgh", 0, total, bytes.NewReader(data), nil); !errors.Is(err, ErrOffset) {
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
		})
	}
}

func TestDigestAndLength(t *testing.T) {
	for name, open := range stores(t) {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			s := open(t)
			if _, err := s.Append(ctx, "up2abcdefgh", 0, 4, bytes.NewReader([]byte("abcdef")), nil); !errors.Is(err, ErrTooLarge) {
				t.Fatalf("overlong: %v", err)
			}
			s.Discard(ctx, "up2abcdefgh")
			if _, err := s.Append(ctx, "up3abcdefgh", 0, 3, bytes.NewReader([]byte("abc")), nil); err != nil {
				t.Fatal(err)
			}
			if _, err := s.Complete(ctx, "up3abcdefgh", hex.EncodeToString(make([]byte, 32)), nil); !errors.Is(err, ErrDigest) {
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
		})
	}
}

// Two instances over one bucket: an upload begun on one continues on the
// other, two racing appends at one offset leave one consistent upload, and
// the blob is the object named by its SHA-256.
func TestS3SharedByInstances(t *testing.T) {
	ctx := context.Background()
	srv := s3test.Start(t)
	a, err := OpenS3(ctx, srv.URL(), srv.Access, srv.Secret)
	if err != nil {
		t.Fatal(err)
	}
	b, err := OpenS3(ctx, srv.URL(), srv.Access, srv.Secret)
	if err != nil {
		t.Fatal(err)
	}
	data := make([]byte, 1<<20)
	_, _ = rand.Read(data)
	sum := sha256.Sum256(data)
	hexSum := hex.EncodeToString(sum[:])
	total := int64(len(data))
	if n, err := a.Append(ctx, "upsharedab", 0, total, &failingReader{data: data, cut: 400000}, nil); err == nil || n != 400000 {
		t.Fatalf("cut on a: %d %v", n, err)
	}
	if n, _ := b.PartSize(ctx, "upsharedab"); n != 400000 {
		t.Fatalf("b sees %d bytes of the upload begun on a", n)
	}
	var wg sync.WaitGroup
	errs := make([]error, 2)
	for i, s := range []*S3{a, b} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, errs[i] = s.Append(ctx, "upsharedab", 400000, total, bytes.NewReader(data[400000:]), nil)
		}()
	}
	wg.Wait()
	t.Logf("racing appends: %v", errs)
	if errs[0] != nil && errs[1] != nil {
		t.Fatalf("both racing appends failed: %v", errs)
	}
	got, err := b.Complete(ctx, "upsharedab", hexSum, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := b.Keep(ctx, "upsharedab", hexSum, got); err != nil {
		t.Fatal(err)
	}
	if err := a.Keep(ctx, "upsharedab", hexSum, []byte("not it")); !errors.Is(err, ErrDigest) {
		t.Fatalf("a blob kept under a name that is not its SHA-256: %v", err)
	}
	o, err := srv.Client.GetObject(ctx, srv.Bucket, "blobs/"+hexSum[:2]+"/"+hexSum, minio.GetObjectOptions{})
	if err != nil {
		t.Fatal(err)
	}
	stored, err := io.ReadAll(o)
	o.Close()
	if err != nil {
		t.Fatal(err)
	}
	if s := sha256.Sum256(stored); hex.EncodeToString(s[:]) != hexSum {
		t.Fatal("the object does not have its name's SHA-256")
	}
	left := 0
	for o := range srv.Client.ListObjects(ctx, srv.Bucket, minio.ListObjectsOptions{Prefix: "parts/", Recursive: true}) {
		if o.Err == nil && o.Key != "parts/.keep" {
			left++
		}
	}
	if left != 0 {
		t.Fatalf("%d parts left after the blob was kept", left)
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
