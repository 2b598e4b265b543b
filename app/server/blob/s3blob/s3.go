// Package s3blob keeps material files in an S3-compatible bucket
// (blob.Blobs), for several server instances. It is its own package so
// that the desktop client, which embeds the server on the local disk, does
// not link an S3 client (5 MiB of its idle memory, measured).
package s3blob

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/url"
	"os"
	"sort"
	"strconv"
	"strings"
	"time"

	"certdesk/app/server/blob"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"
)

// S3 keeps blobs and upload parts in an S3-compatible bucket, so that
// every instance of the server sees the same files and an upload begun on
// one continues on another.
//
// A blob is the object blobs/<2 hex>/<sha256>, written in one PUT once its
// content is checked. An upload's bytes are kept as parts: the bytes one
// request brought, the object parts/<id>/<offset>, stored before the
// request is answered (also when the connection dropped mid-way: what
// arrived is stored). The upload's size is the contiguous run of parts
// from offset 0, so two instances racing on one offset write the same key,
// and a part left by a lost race is ignored. S3 multipart uploads would
// not do here: their parts must be at least 5 MiB, and a material is at
// most 2 MB.
type S3 struct {
	c      *minio.Client
	bucket string
	prefix string
}

// Open is OpenS3 as a blob.Blobs, for server.Config.OpenS3.
func Open(ctx context.Context, rawURL, accessKey, secretKey string) (blob.Blobs, error) {
	return OpenS3(ctx, rawURL, accessKey, secretKey)
}

// OpenS3 opens the store named by a URL
//
//	s3://bucket[/prefix]?endpoint=host:port[&region=…][&secure=false]
//
// with the credentials in AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY
// (or the access and secret key given). The bucket must exist.
func OpenS3(ctx context.Context, rawURL, accessKey, secretKey string) (*S3, error) {
	u, err := url.Parse(rawURL)
	if err != nil || u.Scheme != "s3" || u.Host == "" {
		return nil, fmt.Errorf("blob store %q: want s3://bucket?endpoint=host:port", rawURL)
	}
	q := u.Query()
	endpoint := q.Get("endpoint")
	if endpoint == "" {
		return nil, fmt.Errorf("blob store %q: no endpoint=host:port", rawURL)
	}
	secure := true
	if v := q.Get("secure"); v != "" {
		if secure, err = strconv.ParseBool(v); err != nil {
			return nil, fmt.Errorf("blob store %q: secure=%q", rawURL, v)
		}
	}
	if accessKey == "" {
		accessKey, secretKey = os.Getenv("AWS_ACCESS_KEY_ID"), os.Getenv("AWS_SECRET_ACCESS_KEY")
	}
	if accessKey == "" || secretKey == "" {
		return nil, fmt.Errorf("blob store %q: no credentials (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY)", rawURL)
	}
	c, err := minio.New(endpoint, &minio.Options{
		Creds:  credentials.NewStaticV4(accessKey, secretKey, ""),
		Secure: secure,
		Region: q.Get("region"),
	})
	if err != nil {
		return nil, fmt.Errorf("blob store %q: %w", rawURL, err)
	}
	s := &S3{c: c, bucket: u.Host, prefix: strings.Trim(u.Path, "/")}
	if s.prefix != "" {
		s.prefix += "/"
	}
	ok, err := c.BucketExists(ctx, s.bucket)
	if err != nil {
		return nil, fmt.Errorf("blob store %q: %w", rawURL, err)
	}
	if !ok {
		return nil, fmt.Errorf("blob store %q: no bucket %q", rawURL, s.bucket)
	}
	if _, err := c.StatObject(ctx, s.bucket, s.prefix+"parts/.keep", minio.StatObjectOptions{}); err != nil {
		if err := s.put(ctx, s.prefix+"parts/.keep", nil); err != nil {
			return nil, fmt.Errorf("blob store %q: %w", rawURL, err)
		}
	}
	return s, nil
}

func (s *S3) blobKey(sum string) string { return s.prefix + "blobs/" + sum[:2] + "/" + sum }

// partDir is the prefix of an upload's parts: parts/<id>.<offset>, flat
// under parts/, which always holds the object parts/.keep. Object stores
// over a file system (versitygw's posix backend) remove a directory when
// its last object goes, and a PUT racing that removal fails ("Existing
// Object is a directory", seen under load): with flat names and the
// marker, no directory a part needs ever goes.
func (s *S3) partDir(id string) string { return s.prefix + "parts/" + id + "." }

// put stores b under key; the answer comes once the object is stored, and
// the body is checked by the server against its Content-MD5. minio-go
// retries what S3 calls retryable (5xx, throttling); a refusal is tried
// twice more after a pause, since the key is ours alone (a part) or its
// content is fixed by its name (a blob), so writing it again is safe.
func (s *S3) put(ctx context.Context, key string, b []byte) error {
	var err error
	for try := 0; try < 3; try++ {
		if try > 0 {
			select {
			case <-ctx.Done():
				return fmt.Errorf("put %s: %w", key, err)
			case <-time.After(time.Duration(try) * 50 * time.Millisecond):
			}
		}
		_, err = s.c.PutObject(ctx, s.bucket, key, bytes.NewReader(b), int64(len(b)),
			minio.PutObjectOptions{ContentType: "application/octet-stream", SendContentMd5: true, DisableMultipart: true})
		if err == nil {
			return nil
		}
	}
	return fmt.Errorf("put %s: %w", key, err)
}

// Open returns a blob's content.
func (s *S3) Open(ctx context.Context, sum string) (io.ReadSeekCloser, error) {
	if !blob.ValidName(sum) {
		return nil, fmt.Errorf("bad blob name %q", sum)
	}
	o, err := s.c.GetObject(ctx, s.bucket, s.blobKey(sum), minio.GetObjectOptions{})
	if err != nil {
		return nil, fmt.Errorf("get blob %s: %w", sum, err)
	}
	if _, err := o.Stat(); err != nil { // GetObject is lazy: a missing blob shows here
		_ = o.Close()
		return nil, fmt.Errorf("get blob %s: %w", sum, err)
	}
	return o, nil
}

type part struct {
	key        string
	off, bytes int64
}

// run lists an upload's parts and returns those that make the contiguous
// run from offset 0, with its size.
func (s *S3) run(ctx context.Context, id string) ([]part, []part, int64, error) {
	var all []part
	for o := range s.c.ListObjects(ctx, s.bucket, minio.ListObjectsOptions{Prefix: s.partDir(id), Recursive: true}) {
		if o.Err != nil {
			return nil, nil, 0, fmt.Errorf("list parts of %s: %w", id, o.Err)
		}
		off, err := strconv.ParseInt(strings.TrimPrefix(o.Key, s.partDir(id)), 10, 64)
		if err != nil {
			continue
		}
		all = append(all, part{key: o.Key, off: off, bytes: o.Size})
	}
	sort.Slice(all, func(i, j int) bool { return all[i].off < all[j].off })
	var size int64
	var run []part
	for _, p := range all {
		if p.off == size && p.bytes > 0 {
			run = append(run, p)
			size += p.bytes
		}
	}
	return run, all, size, nil
}

// PartSize is how many bytes of an upload are stored.
func (s *S3) PartSize(ctx context.Context, id string) (int64, error) {
	if !blob.ValidUpload(id) {
		return 0, fmt.Errorf("bad upload id")
	}
	_, _, n, err := s.run(ctx, id)
	return n, err
}

// Append receives r into memory (a material is at most a few MB) and
// stores what arrived as one part before answering.
func (s *S3) Append(ctx context.Context, id string, offset, total int64, r io.Reader, keep *bytes.Buffer) (int64, error) {
	if !blob.ValidUpload(id) {
		return 0, fmt.Errorf("bad upload id")
	}
	size, err := s.PartSize(ctx, id)
	if err != nil {
		return 0, err
	}
	if size != offset {
		return size, blob.ErrOffset
	}
	buf := keep
	if buf == nil {
		buf = new(bytes.Buffer)
	}
	start := buf.Len()
	n, copyErr := buf.ReadFrom(io.LimitReader(r, total-offset))
	tooLarge := false
	if copyErr == nil && offset+n == total {
		var one [1]byte
		k, _ := r.Read(one[:])
		tooLarge = k > 0
	}
	if tooLarge {
		return offset + n, blob.ErrTooLarge
	}
	if n > 0 {
		// Stored even when the client went away: that is what makes the
		// upload resumable.
		if err := s.put(context.WithoutCancel(ctx), fmt.Sprintf("%s%012d", s.partDir(id), offset), buf.Bytes()[start:]); err != nil {
			return offset, fmt.Errorf("store part: %w", err)
		}
	}
	if copyErr != nil {
		return offset + n, fmt.Errorf("receive: %w", copyErr)
	}
	return offset + n, nil
}

// Complete assembles the upload (unless b holds it) and checks its SHA-256.
func (s *S3) Complete(ctx context.Context, id, sum string, b []byte) ([]byte, error) {
	if !blob.ValidName(sum) {
		return nil, fmt.Errorf("bad SHA-256 %q", sum)
	}
	if b == nil {
		run, _, _, err := s.run(ctx, id)
		if err != nil {
			return nil, err
		}
		var buf bytes.Buffer
		for _, p := range run {
			o, err := s.c.GetObject(ctx, s.bucket, p.key, minio.GetObjectOptions{})
			if err != nil {
				return nil, fmt.Errorf("read part: %w", err)
			}
			_, err = buf.ReadFrom(o)
			_ = o.Close()
			if err != nil {
				return nil, fmt.Errorf("read part %s: %w", p.key, err)
			}
		}
		b = buf.Bytes()
	}
	if !blob.HasSum(b, sum) {
		s.Discard(ctx, id)
		return nil, blob.ErrDigest
	}
	return b, nil
}

// Keep stores b as blob sum unless that content is there already, then
// drops the parts.
func (s *S3) Keep(ctx context.Context, id, sum string, b []byte) error {
	if !blob.ValidName(sum) {
		return fmt.Errorf("bad SHA-256 %q", sum)
	}
	if !blob.HasSum(b, sum) {
		return blob.ErrDigest
	}
	_, err := s.c.StatObject(ctx, s.bucket, s.blobKey(sum), minio.StatObjectOptions{})
	if minio.ToErrorResponse(err).Code == minio.NoSuchKey {
		err = s.put(ctx, s.blobKey(sum), b)
	}
	if err != nil {
		return fmt.Errorf("store blob: %w", err)
	}
	s.Discard(ctx, id)
	return nil
}

// Discard drops an upload's parts.
func (s *S3) Discard(ctx context.Context, id string) {
	if !blob.ValidUpload(id) {
		return
	}
	ctx = context.WithoutCancel(ctx)
	_, all, _, err := s.run(ctx, id)
	if err != nil {
		return
	}
	for _, p := range all {
		// A part left behind is harmless (the upload is complete or gone)
		// and goes with the bucket's lifecycle rule for parts/.
		_ = s.c.RemoveObject(ctx, s.bucket, p.key, minio.RemoveObjectOptions{})
	}
}
