// Package s3test starts a real S3-compatible server for tests: versitygw
// (Apache-2.0, built from the Go module proxy into bin/tools by the test
// command) over a throwaway directory, on a random loopback port.
package s3test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"
)

// Version is the versitygw release the test command builds.
const Version = "v1.8.0"

// Server is a running versitygw with one bucket.
type Server struct {
	Endpoint       string // host:port
	Bucket         string
	Access, Secret string
	Client         *minio.Client
}

// URL is the blob store URL naming the bucket (blob.OpenS3's form).
func (s *Server) URL() string {
	return fmt.Sprintf("s3://%s?endpoint=%s&secure=false&region=us-east-1", s.Bucket, s.Endpoint)
}

func binary(t testing.TB) string {
	if p, err := exec.LookPath("versitygw"); err == nil {
		return p
	}
	dir, _ := os.Getwd()
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			break
		}
		up := filepath.Dir(dir)
		if up == dir {
			t.Fatal("no go.mod above the test's directory")
		}
		dir = up
	}
	bin := filepath.Join(dir, "bin", "tools", "versitygw")
	if _, err := os.Stat(bin); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("versitygw is built into bin/tools by the test command")
		}
		t.Skip("no versitygw: GOBIN=$PWD/bin/tools go install github.com/versity/versitygw/cmd/versitygw@" + Version)
	}
	return bin
}

func freePort(t testing.TB) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// Start runs versitygw for the test's life and makes a bucket in it.
func Start(t testing.TB) *Server {
	t.Helper()
	bin := binary(t)
	root, logDir := t.TempDir(), t.TempDir()
	logName := filepath.Join(logDir, "versitygw.log")
	key := make([]byte, 16)
	_, _ = rand.Read(key)
	s := &Server{Bucket: "certdesk", Access: "certdesk-test", Secret: hex.EncodeToString(key)}
	var cmd *exec.Cmd
	for try := 0; ; try++ {
		s.Endpoint = freePort(t)
		cmd = exec.Command(bin, "--access", s.Access, "--secret", s.Secret, "--port", s.Endpoint, "--quiet", "posix", root)
		logf, err := os.Create(logName)
		if err != nil {
			t.Fatal(err)
		}
		cmd.Stdout, cmd.Stderr = logf, logf
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		exited := make(chan struct{})
		go func() { _ = cmd.Wait(); close(exited) }()
		c, err := minio.New(s.Endpoint, &minio.Options{Creds: credentials.NewStaticV4(s.Access, s.Secret, ""), Region: "us-east-1"})
		if err != nil {
			t.Fatal(err)
		}
		up := false
	wait:
		for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
			select {
			case <-exited:
				break wait
			default:
			}
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			_, err = c.ListBuckets(ctx)
			cancel()
			if up = err == nil; up {
				break
			}
		}
		if up {
			s.Client = c
			t.Cleanup(func() {
				_ = cmd.Process.Kill()
				<-exited
				_ = logf.Close()
			})
			break
		}
		_ = cmd.Process.Kill()
		<-exited
		_ = logf.Close()
		if try == 2 { // the port was taken meanwhile, twice: something else is wrong
			b, _ := os.ReadFile(logName)
			t.Fatalf("versitygw did not start: %s", b)
		}
	}
	if err := s.Client.MakeBucket(context.Background(), s.Bucket, minio.MakeBucketOptions{Region: "us-east-1"}); err != nil {
		t.Fatalf("make bucket: %v", err)
	}
	return s
}
