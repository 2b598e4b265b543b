package server

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"log/slog"
	"math/big"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"certdesk/app/api"
	"certdesk/app/apply"
	"certdesk/app/server/outbox"
	"certdesk/app/server/service"
)

// mailpit starts a real SMTP server (mailpit, built by the test command
// into bin/tools) on loopback with STARTTLS required and AUTH, and returns
// its SMTP port, its API's URL and the CA pool that trusts its certificate.
// mailpit starts a mailpit SMTP server (STARTTLS required, any AUTH) and
// returns its SMTP port, its API URL, and its certificate as a pool and as
// a PEM file.
func mailpit(t testing.TB) (int, string, *x509.CertPool, string) {
	t.Helper()
	bin, err := exec.LookPath("mailpit")
	if err != nil {
		bin, _ = filepath.Abs("../../bin/tools/mailpit")
		if _, err = os.Stat(bin); err != nil {
			if os.Getenv("CI") != "" {
				t.Fatal("mailpit is built into bin/tools by the test command")
			}
			t.Skip("no mailpit: GOBIN=$PWD/bin/tools go install github.com/axllent/mailpit@v1.33.1")
		}
	}
	dir := t.TempDir()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "127.0.0.1"}, NotBefore: time.Now().Add(-time.Hour),
		NotAfter: time.Now().Add(time.Hour), IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, KeyUsage: x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kder, _ := x509.MarshalECPrivateKey(key)
	certFile, keyFile := filepath.Join(dir, "c.pem"), filepath.Join(dir, "k.pem")
	_ = os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600)
	_ = os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder}), 0o600)
	cert, _ := x509.ParseCertificate(der)
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	port := func() int {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer l.Close()
		return l.Addr().(*net.TCPAddr).Port
	}
	smtpPort, httpPort := port(), port()
	cmd := exec.Command(bin, "--database", filepath.Join(dir, "mp.db"), "--smtp", fmt.Sprintf("127.0.0.1:%d", smtpPort),
		"--listen", fmt.Sprintf("127.0.0.1:%d", httpPort), "--smtp-tls-cert", certFile, "--smtp-tls-key", keyFile,
		"--smtp-require-starttls", "--smtp-auth-accept-any", "--smtp-disable-rdns", "--disable-version-check")
	cmd.Stdout, cmd.Stderr = io.Discard, io.Discard
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	api := fmt.Sprintf("http://127.0.0.1:%d/api/v1", httpPort)
	for i := 0; ; i++ {
		if res, err := http.Get(api + "/info"); err == nil {
			res.Body.Close()
			break
		}
		if i > 100 {
			t.Fatal("mailpit did not start")
		}
		time.Sleep(100 * time.Millisecond)
	}
	return smtpPort, api, pool, certFile
}

type mpMessage struct {
	ID          string
	Subject     string
	To          []struct{ Address string }
	Text        string
	Attachments []struct {
		PartID, FileName, ContentType string
	}
}

func mpGet(t *testing.T, url string, out any) []byte {
	t.Helper()
	res, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	if out != nil {
		if err := json.Unmarshal(b, out); err != nil {
			t.Fatalf("%s: %v: %.200s", url, err, b)
		}
	}
	return b
}

// TestMailThroughARealSMTPServer: the status notices and the e-invoice of a
// paid application reach a real SMTP server (STARTTLS, AUTH); the
// attached PDF's text holds the buyer, the amounts and the total in
// Chinese capitals.
func TestMailThroughARealSMTPServer(t *testing.T) {
	port, mp, pool, _ := mailpit(t)
	prov := outbox.Router{Email: outbox.SMTP{Config: outbox.SMTPConfig{Host: "127.0.0.1", Port: port, TLS: "starttls", Username: "certdesk",
		Password: "mail-secret", From: "noreply@ca.example.cn", FromName: "福建 CA", RootCAs: pool}},
		Fallback: outbox.Log{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}}
	s, err := Start(context.Background(), Config{DataDir: t.TempDir(), Log: slog.New(slog.NewTextHandler(io.Discard, nil)), Provider: prov,
		Service: service.Config{Params: fastParams, Invoice: service.InvoiceConfig{SellerName: "福建省数字证书认证中心", SellerTax: "91350000MA0000000X", TaxRateBP: 600}}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	ctx := context.Background()
	c, sc := applicant(t, s), staff(t, s)
	a := submitted(c, "mail01")
	for _, ev := range []apply.Event{apply.EvMaterialsComplete, apply.EvIdentityVerified} {
		if err := s.Service.SystemStep(ctx, a.ID, ev, "test"); err != nil {
			t.Fatal(err)
		}
	}
	c.ok(c.do("POST", "/applications/"+a.ID+"/payment", api.StartPaymentRequest{Method: api.PayBankTransfer}), nil)
	sc.ok(sc.do("POST", "/staff/applications/"+a.ID+"/events", api.EventRequest{Event: apply.EvConfirmPayment, Note: "工行 20261203"}), nil)

	var list struct {
		Messages []struct {
			ID, Subject string
			To          []struct{ Address string }
		}
	}
	deadline := time.Now().Add(20 * time.Second)
	var invoice *struct {
		ID, Subject string
		To          []struct{ Address string }
	}
	statuses := 0
	for invoice == nil || statuses < 4 {
		if time.Now().After(deadline) {
			t.Fatalf("mail not received: %d status mails, invoice %v", statuses, invoice != nil)
		}
		time.Sleep(200 * time.Millisecond)
		mpGet(t, mp+"/messages", &list)
		statuses, invoice = 0, nil
		for i, m := range list.Messages {
			if len(m.To) != 1 || m.To[0].Address != "wang@example.com" {
				t.Fatalf("mail to %+v", m.To)
			}
			switch {
			case strings.Contains(m.Subject, "申请状态"):
				statuses++
			case strings.Contains(m.Subject, "电子发票"):
				invoice = &list.Messages[i]
			}
		}
	}
	var full mpMessage
	mpGet(t, mp+"/message/"+invoice.ID, &full)
	if len(full.Attachments) != 1 || full.Attachments[0].ContentType != "application/pdf" || !strings.HasPrefix(full.Attachments[0].FileName, "电子发票-CD") {
		t.Fatalf("invoice attachments: %+v", full.Attachments)
	}
	if !strings.Contains(full.Text, "福州示例软件有限公司") {
		t.Fatalf("invoice mail body: %q", full.Text)
	}
	pdf := mpGet(t, mp+"/message/"+invoice.ID+"/part/"+full.Attachments[0].PartID, nil)
	p := filepath.Join(t.TempDir(), "invoice.pdf")
	_ = os.WriteFile(p, pdf, 0o600)
	out, err := exec.Command("pdftotext", "-layout", p, "-").Output()
	if err != nil {
		t.Fatalf("pdftotext: %v (%d bytes)", err, len(pdf))
	}
	q := a.Fee
	caps, _ := apply.Capitals(q.TotalFen)
	for _, want := range []string{"福州示例软件有限公司", "91350100M000100Y43", "福建省数字证书认证中心", apply.FormatFen(q.TotalFen), caps, "转账电汇 工行 20261203"} {
		if !strings.Contains(string(out), want) {
			t.Errorf("invoice PDF lacks %q:\n%s", want, out)
		}
	}
}
