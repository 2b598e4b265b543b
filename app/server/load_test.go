package server

import (
	"bytes"
	"crypto/sha256"
	"encoding"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"certdesk/app/api"
	"certdesk/app/apply"
	"certdesk/app/material"
	"certdesk/app/material/testimg"
	"certdesk/app/server/auth"
)

// BenchmarkLoad drives the real server on loopback with a Go load
// generator, bounded in count and in time, on SQLite and PostgreSQL:
//
//	go test -run '^$' -bench Load -benchtime 1x ./app/server
//
// Reported per engine: authenticated status reads/s, application creates/s,
// and material uploads in MB/s (create + one PATCH, server-side SHA-256
// check, full JPEG inspection and content-addressed store included).
func BenchmarkLoad(b *testing.B) {
	for _, engine := range []string{"sqlite", "postgres"} {
		b.Run(engine, func(b *testing.B) {
			dsn := ""
			if engine == "postgres" {
				pgOnce.Do(startCluster)
				if pgErr != nil {
					b.Skip(pgErr)
				}
				var err error
				if dsn, err = pgCluster.NewDatabase(b.Context()); err != nil {
					b.Fatal(err)
				}
			}
			for range b.N {
				runLoad(b, dsn)
			}
		})
	}
}

const (
	loadWorkers = 16
	loadTime    = 5 * time.Second
)

// hammer runs op from loadWorkers goroutines until max operations or
// loadTime, and returns completed operations per second.
func hammer(b *testing.B, max int64, op func(w int, i int64) error) float64 {
	var n, started atomic.Int64
	var firstErr atomic.Value
	deadline := time.Now().Add(loadTime)
	start := time.Now()
	var wg sync.WaitGroup
	for w := range loadWorkers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for time.Now().Before(deadline) {
				i := started.Add(1)
				if i > max {
					return
				}
				if err := op(w, i); err != nil {
					firstErr.CompareAndSwap(nil, err)
					return
				}
				n.Add(1)
			}
		}()
	}
	wg.Wait()
	if e := firstErr.Load(); e != nil {
		b.Fatal(e)
	}
	return float64(n.Load()) / time.Since(start).Seconds()
}

func runLoad(b *testing.B, dsn string) {
	s := startServerWith(b, dsn, auth.DefaultParams) // production hashing cost
	tr := &http.Transport{MaxIdleConnsPerHost: loadWorkers * 2}
	mk := func() *client {
		c := applicant(b, s)
		c.hc = &http.Client{Transport: tr, Timeout: 30 * time.Second}
		return c
	}
	clients := make([]*client, loadWorkers)
	for i := range clients {
		clients[i] = mk()
	}
	// Status reads: the user center polling one application.
	ids := make([]string, loadWorkers)
	for i, c := range clients {
		r, err := rawDo(c, "POST", api.PathApplications, api.CreateApplicationRequest{Kind: apply.KindOrg, Agreement: api.AgreementAcceptance{Version: "2026-11", AcceptedAt: time.Now()}, Form: orgForm("")})
		if err != nil || r.status != 201 {
			b.Fatalf("create: %v %d %s", err, r.status, r.body)
		}
		var a api.Application
		jsonUnmarshal(r.body, &a)
		ids[i] = a.ID
	}
	reads := hammer(b, 200_000, func(w int, _ int64) error {
		r, err := rawDo(clients[w], "GET", "/applications/"+ids[w], nil)
		if err == nil && r.status != 200 {
			err = fmt.Errorf("read: %d %s", r.status, r.body)
		}
		return err
	})
	// Creates as the client makes them: accepting the agreement opens the
	// draft; the form follows by autosave.
	creates := hammer(b, 20_000, func(w int, _ int64) error {
		r, err := rawDo(clients[w], "POST", api.PathApplications, api.CreateApplicationRequest{Kind: apply.KindOrg, Agreement: api.AgreementAcceptance{Version: "2026-11", AcceptedAt: time.Now()}})
		if err == nil && r.status != 201 {
			err = fmt.Errorf("create: %d %s", r.status, r.body)
		}
		return err
	})
	// Uploads: real A4 scans, taken in turn as the draft's four document
	// types (each replaces the previous one of its type). Every upload is
	// distinct content, so the blob store's deduplication never helps: a
	// numbered comment segment goes before the end marker of one of eight
	// scans. The generator shares the server's two cores, so what a real
	// client does on its own machine (hashing its file) is kept cheap: the
	// SHA-256 state after the common part is saved once per scan.
	docs := make([][]byte, 8)
	states := make([][]byte, len(docs))
	for i := range docs {
		d := testimg.JPEG(testimg.Scan(1654, 2339, uint64(100+i)), 80, 200) // A4 at 200 DPI
		docs[i] = d[:len(d)-2]                                              // without EOI
		h := sha256.New()
		h.Write(docs[i])
		states[i], _ = h.(encoding.BinaryMarshaler).MarshalBinary()
	}
	unique := func(i int64) (body io.Reader, size int64, sum string) {
		k := i % int64(len(docs))
		tail := fmt.Appendf(nil, "upload %08d", i)
		tail = append([]byte{0xFF, 0xFE, 0, byte(len(tail) + 2)}, append(tail, 0xFF, 0xD9)...)
		h := sha256.New()
		_ = h.(encoding.BinaryUnmarshaler).UnmarshalBinary(states[k])
		h.Write(tail)
		n := int64(len(docs[k]) + len(tail))
		return sized{io.MultiReader(bytes.NewReader(docs[k]), bytes.NewReader(tail)), n}, n, hex.EncodeToString(h.Sum(nil))
	}
	if body, n, sum := unique(0); true { // the construction is a valid, distinct scan
		all, _ := io.ReadAll(body)
		if int64(len(all)) != n || sha(all) != sum || !material.CheckBytes(all, apply.MaterialRule{MinDPI: 200}).OK() {
			b.Fatalf("unique scan: %d/%d bytes, %+v", len(all), n, material.CheckBytes(all, apply.MaterialRule{MinDPI: 200}).Problems)
		}
	}
	types := []apply.MaterialType{apply.MatAcceptanceForm, apply.MatOrgLicense, apply.MatAuthorization, apply.MatHandlerID}
	uploads := hammer(b, 5_000, func(w int, i int64) error {
		body, size, sum := unique(i)
		c := clients[w]
		r, err := rawDo(c, "POST", "/applications/"+ids[w]+"/uploads", api.CreateUploadRequest{Type: types[i%4], Bytes: size, SHA256: sum})
		if err != nil || r.status != 201 {
			return fmt.Errorf("create upload: %v %d %s", err, r.status, r.body)
		}
		var u api.Upload
		jsonUnmarshal(r.body, &u)
		r, err = rawDo(c, "PATCH", "/uploads/"+u.ID, body, api.HeaderUploadOff, "0")
		if err != nil || r.status != 200 {
			return fmt.Errorf("upload: %v %d %s", err, r.status, r.body)
		}
		return nil
	})
	mbps := uploads * float64(len(docs[0])) / 1e6
	// The byte path alone: 1 MB appended to open uploads and synced to disk,
	// without reaching the last byte that triggers the inspection.
	chunk := make([]byte, 1<<20)
	for i := range chunk {
		chunk[i] = byte(i * 7)
	}
	chunkSum := sha(chunk)
	streams := hammer(b, 5_000, func(w int, i int64) error {
		c := clients[w]
		r, err := rawDo(c, "POST", "/applications/"+ids[w]+"/uploads", api.CreateUploadRequest{Type: apply.MatSpare, Bytes: int64(len(chunk)) + 1, SHA256: chunkSum, Replace: ""})
		if err != nil || r.status != 201 {
			return fmt.Errorf("create upload: %v %d %s", err, r.status, r.body)
		}
		var u api.Upload
		jsonUnmarshal(r.body, &u)
		r, err = rawDo(c, "PATCH", "/uploads/"+u.ID, chunk, api.HeaderUploadOff, "0")
		if err != nil || r.status != 200 {
			return fmt.Errorf("stream: %v %d %s", err, r.status, r.body)
		}
		return nil
	})
	b.ReportMetric(streams*float64(len(chunk))/1e6, "stream-MB/s")
	b.ReportMetric(reads, "reads/s")
	b.ReportMetric(creates, "creates/s")
	b.ReportMetric(uploads, "uploads/s")
	b.ReportMetric(mbps, "upload-MB/s")
	b.ReportMetric(float64(len(docs[0]))/1e6, "file-MB")
}

// sized is a request body of known length, sent with Content-Length.
type sized struct {
	io.Reader
	n int64
}

func (s sized) Size() int64 { return s.n }
