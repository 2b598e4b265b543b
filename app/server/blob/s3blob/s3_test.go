package s3blob

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"sync"
	"testing"

	"certdesk/app/server/blob"
	"certdesk/app/server/blob/blobtest"
	"certdesk/app/server/blob/s3test"

	"github.com/minio/minio-go/v7"
)

func TestBehaviour(t *testing.T) {
	blobtest.Run(t, func(t *testing.T) blob.Blobs {
		srv := s3test.Start(t)
		s, err := OpenS3(context.Background(), srv.URL(), srv.Access, srv.Secret)
		if err != nil {
			t.Fatal(err)
		}
		return s
	})
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
	if n, err := a.Append(ctx, "upsharedab", 0, total, &blobtest.FailingReader{Data: data, Cut: 400000}, nil); err == nil || n != 400000 {
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
	if err := a.Keep(ctx, "upsharedab", hexSum, []byte("not it")); !errors.Is(err, blob.ErrDigest) {
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
