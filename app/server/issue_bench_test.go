package server

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"io"
	"log/slog"
	"math/big"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"certdesk/app/api"
	"certdesk/app/apply"
	"certdesk/app/server/service"
)

// BenchmarkIssuance compares end-to-end issuance through the service (CSR
// checks, download code check, the database transaction with history and
// outbox, signing) with bare x509.CreateCertificate using the same issuing
// key, in the same run (alternating slices of a hundred), for each issuing
// key type, both on every core:
//
//	go test -run '^$' -bench Issuance -benchtime 1x ./app/server
func BenchmarkIssuance(b *testing.B) {
	for _, kt := range []string{"rsa2048", "p256"} {
		b.Run(kt, func(b *testing.B) {
			for range b.N {
				benchIssuance(b, kt, 1000)
			}
		})
	}
}

func benchIssuance(b *testing.B, keyType string, n int) {
	ctx := context.Background()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	st, svc, err := Open(ctx, Config{DataDir: b.TempDir(), Log: log, CAKeyType: keyType, Service: service.Config{Params: fastParams}})
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	acc, err := svc.Register(ctx, api.RegisterRequest{Mobile: "13800138000", Password: "Zh3ngShu!2026"})
	if err != nil {
		b.Fatal(err)
	}
	p := service.Principal{AccountID: acc.ID, Role: api.RoleApplicant}
	ops := service.Operator("bench")
	type job struct {
		id, code string
		csr      []byte
	}
	jobs := make([]job, n)
	for i := range jobs {
		a, err := svc.CreateApplication(ctx, p, api.CreateApplicationRequest{Kind: apply.KindOrg, Agreement: api.AgreementAcceptance{Version: svc.Agreement().Version, AcceptedAt: time.Now()}}, "")
		if err != nil {
			b.Fatal(err)
		}
		f := orgForm(fmtName(i))
		delete(f, apply.FSecurityAnswer) // keep argon2 out of the setup
		f[apply.FSecurityAnswer] = "福州"
		if _, err := svc.UpdateForm(ctx, p, a.ID, api.UpdateFormRequest{Form: f, Submit: true}); err != nil {
			b.Fatal(err)
		}
		for _, ev := range []apply.Event{apply.EvMaterialsComplete, apply.EvIdentityVerified} {
			if err := svc.SystemStep(ctx, a.ID, ev, ""); err != nil {
				b.Fatal(err)
			}
		}
		if _, err := svc.ConfirmTransfer(ctx, ops, a.ID, ""); err != nil {
			b.Fatal(err)
		}
		if _, err := svc.Review(ctx, ops, a.ID, api.ReviewRequest{Approve: true}); err != nil {
			b.Fatal(err)
		}
		key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		csr, _ := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{}, key)
		msgs, _ := st.Messages(ctx, a.ID, 50)
		code := ""
		for _, m := range msgs {
			if mm := reCode.FindStringSubmatch(m.Body); mm != nil {
				code = mm[1]
			}
		}
		jobs[i] = job{a.ID, code, csr}
	}
	caCert, caKey := svc.CA().Issuer(), svc.CA().Key()
	pubs := make([]any, n)
	for i, j := range jobs {
		csr, _ := x509.ParseCertificateRequest(j.csr)
		pubs[i] = csr.PublicKey
	}
	issue := func(i int) error {
		_, err := svc.Download(ctx, p, jobs[i].id, api.DownloadRequest{CSR: jobs[i].csr, Code: jobs[i].code})
		return err
	}
	sign := func(i int) error {
		sn, _ := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
		tmpl := &x509.Certificate{SerialNumber: sn, Subject: pkix.Name{CommonName: "福州示例软件有限公司"}, NotBefore: time.Now(), NotAfter: time.Now().AddDate(1, 0, 0),
			KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}
		_, err := x509.CreateCertificate(rand.Reader, tmpl, caCert, pubs[i], caKey)
		return err
	}
	// Alternated in ten slices, so that a noisy neighbour or the machine's
	// warming up falls on both sides alike.
	var tOurs, tBare time.Duration
	const slices = 10
	for k := range slices {
		lo, hi := k*n/slices, (k+1)*n/slices
		tOurs += onCores(lo, hi, issue)
		tBare += onCores(lo, hi, sign)
	}
	ours, bare := float64(n)/tOurs.Seconds(), float64(n)/tBare.Seconds()
	b.ReportMetric(ours, "issued/s")
	b.ReportMetric(bare, "bare/s")
	b.ReportMetric(ours/bare, "ratio")
}

const issueCallers = 16

func fmtName(i int) string { return "b" + itoa(int64(i)) }

// onCores runs op(lo..hi-1) from 16 concurrent callers, as many as the
// load benchmark's clients, and returns the time taken. Both sides get the
// same callers: bare signing never waits, so more callers than cores cost
// it nothing, while a server request that waits for the database lets
// another sign.
func onCores(lo, hi int, op func(i int) error) time.Duration {
	var next atomic.Int64
	next.Store(int64(lo))
	var wg sync.WaitGroup
	var firstErr atomic.Value
	start := time.Now()
	for range issueCallers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1)) - 1
				if i >= hi {
					return
				}
				if err := op(i); err != nil {
					firstErr.CompareAndSwap(nil, err)
					return
				}
			}
		}()
	}
	wg.Wait()
	if e := firstErr.Load(); e != nil {
		panic(e)
	}
	return time.Since(start)
}
