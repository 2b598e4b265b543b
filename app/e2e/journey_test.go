// Package e2e holds the headless end-to-end journeys: the applicant's side
// through app/client, app/sync, app/session and token on a SoftHSM2 UKEY,
// the CA staff's side through the certdesk-server command line, against
// the real server on loopback. Nothing here writes the server's store; it
// is read only for what no route shows (a UKEY's sealed SO PIN).
package e2e

import (
	"bytes"
	"certdesk/app/server/devprov"
	"context"
	"crypto"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"io"
	"log/slog"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"certdesk/app/api"
	"certdesk/app/apply"
	"certdesk/app/client"
	"certdesk/app/material"
	"certdesk/app/material/testimg"
	"certdesk/app/server"
	"certdesk/app/session"
	appsync "certdesk/app/sync"
	"certdesk/token"
	"certdesk/token/softhsmtest"
)

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

type world struct {
	t       *testing.T
	srv     *server.Server
	dataDir string
	staff   string // certdesk-server binary
	c       *client.Client
	local   *appsync.Store
	sess    session.Store
	logs    *syncBuffer // the server's log
	homeDir string      // the applicant's CertDesk data directory
}

// syncBuffer is a bytes.Buffer the server's goroutines may write to.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func newWorld(t *testing.T) *world { t.Helper(); return newWorldWith(t, nil) }

// newWorldWith is newWorld with the server's configuration changed by opt.
func newWorldWith(t *testing.T, opt func(*server.Config)) *world {
	t.Helper()
	w := &world{t: t, dataDir: t.TempDir(), logs: &syncBuffer{}}
	w.staff = filepath.Join(t.TempDir(), "certdesk-server")
	if out, err := exec.Command("go", "build", "-o", w.staff, "certdesk/cmd/certdesk-server").CombinedOutput(); err != nil {
		t.Fatalf("build certdesk-server: %v\n%s", err, out)
	}
	var err error
	cfg := server.Config{DataDir: w.dataDir, Log: slog.New(slog.NewTextHandler(w.logs, nil)), DevProviders: true}
	if opt != nil {
		opt(&cfg)
	}
	w.srv, err = server.Start(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { w.srv.Close() })
	w.c, err = client.New(client.Config{BaseURL: w.srv.URL, Log: quiet, RetryWait: 20 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	if w.local, err = appsync.Open(context.Background(), t.TempDir()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { w.local.Close() })
	w.sess = &session.File{Dir: t.TempDir()}
	return w
}

// staffCmd runs a CA staff command on the server's data directory and
// returns its standard output.
func (w *world) staffCmd(args ...string) string {
	w.t.Helper()
	cmd := exec.Command(w.staff, append(args, "--data", w.dataDir)...)
	cmd.Stdin = strings.NewReader("Sh3nHe!2026\n")
	var errOut bytes.Buffer
	cmd.Stderr = &errOut
	out, err := cmd.Output()
	if err != nil {
		w.t.Fatalf("certdesk-server %v: %v\n%s%s", args, err, out, errOut.String())
	}
	return string(out)
}

var reCode = regexp.MustCompile(`验证码:(\d{8})`)

func (w *world) codeFromOutbox(appID string) string {
	w.t.Helper()
	m := reCode.FindStringSubmatch(w.staffCmd("outbox", "--application", appID))
	if m == nil {
		w.t.Fatal("no download code in the outbox")
	}
	return m[1]
}

// phone opens a QR address as a tester's phone would.
func phone(t *testing.T, u string, form url.Values) {
	t.Helper()
	if err := devprov.Phone(u, form); err != nil {
		t.Fatalf("phone: %v", err)
	}
}

// fillAndUpload autosaves the form locally, queues every material (fixing
// those the client's own check refuses) and lets the sync loop send them.
func (w *world) materials(ctx context.Context, appID string, imprint []byte, doc []byte) {
	w.t.Helper()
	cl, err := w.c.Checklist(ctx, appID)
	if err != nil {
		w.t.Fatal(err)
	}
	for _, it := range cl.Items {
		if !it.Rule.Required || it.Rule.SameAs != "" {
			continue
		}
		data := doc
		if it.Rule.MinDPI == apply.ImprintDPI {
			data = imprint
		}
		if v := material.CheckBytes(data, it.Rule); !v.OK() {
			fixed, _, err := material.Repair(data, it.Rule)
			if err != nil {
				w.t.Fatalf("fix %s: %v", it.Rule.Type, err)
			}
			data = fixed
		}
		if err := w.local.Enqueue(ctx, appID+"-"+string(it.Rule.Type), appID, it.Rule.Type, string(it.Rule.Type)+".jpg", data, client.NewIdempotencyKey()); err != nil {
			w.t.Fatal(err)
		}
	}
	loop := &appsync.Loop{Store: w.local, Client: w.c, Log: quiet}
	if err := loop.Round(ctx); err != nil {
		w.t.Fatal(err)
	}
	qs, _ := w.local.Uploads(ctx)
	for _, q := range qs {
		if q.AppID == appID && q.State != "done" {
			w.t.Fatalf("upload %s: %s %s", q.Type, q.State, q.Error)
		}
	}
}

func (w *world) identity(ctx context.Context, appID, name, id string) {
	w.t.Helper()
	is, err := w.c.StartIdentity(ctx, appID)
	if err != nil {
		w.t.Fatal(err)
	}
	phone(w.t, is.VerifyQR, url.Values{"result": {"pass"}, "name": {name}, "id_number": {id}})
	if is, err = w.c.IdentityStatus(ctx, appID, 5*time.Second); err != nil || is.Status != "passed" {
		w.t.Fatalf("identity: %+v %v", is, err)
	}
}

// start accepts the agreement and opens a draft.
func (w *world) start(ctx context.Context, k apply.Kind) *api.Application {
	w.t.Helper()
	ag, err := w.c.Agreement(ctx)
	if err != nil {
		w.t.Fatal(err)
	}
	a, err := w.c.CreateApplication(ctx, api.CreateApplicationRequest{Kind: k, Agreement: api.AgreementAcceptance{Version: ag.Version, AcceptedAt: time.Now()}}, client.NewIdempotencyKey())
	if err != nil {
		w.t.Fatal(err)
	}
	return a
}

// ukey plugs in the applicant's UKEY: module loaded, session open, PIN entered.
func ukey(t *testing.T, tk *softhsmtest.Token) *token.Session {
	t.Helper()
	m, err := token.Load(tk.ModulePath)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close() })
	tok, err := m.Find("", tk.Label)
	if err != nil {
		t.Fatal(err)
	}
	ts, err := m.Open(tok)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ts.Close() })
	if err := ts.Login([]byte(tk.PIN), false); err != nil {
		t.Fatal(err)
	}
	return ts
}

// enrol makes the key on the UKEY, downloads and installs the certificate.
func enrol(t *testing.T, ctx context.Context, c *client.Client, s *token.Session, appID, code string) *token.Key {
	t.Helper()
	k, _, err := s.KeyFor(appID, token.KeyAuto)
	if err != nil {
		t.Fatal(err)
	}
	csr, err := k.CSR("")
	if err != nil {
		t.Fatal(err)
	}
	b, err := c.Download(ctx, appID, api.DownloadRequest{CSR: csr, Code: code, TokenSerial: s.Token().Serial})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := k.Install(b.Certificate); err != nil {
		t.Fatal(err)
	}
	return k
}

func TestOrganisationJourney(t *testing.T) {
	ctx := context.Background()
	w := newWorld(t)
	w.staffCmd("user", "add", "--staff", "--duties", "reviewer,finance", "--email", "ops@ca.example.cn")
	tk := softhsmtest.New(t, "org-ukey")

	// Register, log in; the token goes to the session store.
	if _, err := w.c.Register(ctx, api.RegisterRequest{Mobile: "13800138000", Email: "wang@example.com", Password: "Zh3ngShu!2026"}); err != nil {
		t.Fatal(err)
	}
	s, err := w.c.Login(ctx, api.LoginRequest{Login: "wang@example.com", Password: "Zh3ngShu!2026"})
	if err != nil {
		t.Fatal(err)
	}
	w.sess.Set(w.srv.URL, s.Token)

	// Agreement, then the form: a field error first, then fixed.
	a := w.start(ctx, apply.KindOrg)
	form := apply.Values{apply.FUsername: "e2eorg", apply.FOrgName: "福州示例软件有限公司", apply.FOrgCode: "91350100M000100Y44",
		apply.FOrgAddress: "福建省福州市鼓楼区五四路 100 号", apply.FHandlerName: "王堃", apply.FHandlerIDType: "resident",
		apply.FHandlerID: "11010519491231002X", apply.FHandlerMobile: "13800138000", apply.FHandlerEmail: "wang@example.com",
		apply.FSecurityQuestion: "您的出生地是?", apply.FSecurityAnswer: "福州", apply.FServiceSeal: "true", apply.FDelivery: "pickup"}
	w.local.SaveDraft(ctx, a.ID, apply.KindOrg, form) // autosaved as typed
	_, err = w.c.UpdateForm(ctx, a.ID, api.UpdateFormRequest{Form: form, Submit: true})
	var ae *api.Error
	if !errors.As(err, &ae) || ae.Fields[0].Field != apply.FOrgCode {
		t.Fatalf("expected the credit-code error: %v", err)
	}
	form[apply.FOrgCode] = "91350100M000100Y43"
	w.local.SaveDraft(ctx, a.ID, apply.KindOrg, form)
	if _, err := w.c.UpdateForm(ctx, a.ID, api.UpdateFormRequest{Form: form, Submit: true}); err != nil {
		t.Fatal(err)
	}

	// Materials: an oversized phone photo of the licence is repaired by
	// the client before upload; one upload is cut mid-way and resumed.
	photo := testimg.JPEG(testimg.Photo(3000, 2250, 9), 98, 72)
	if len(photo) <= apply.MaxMaterialBytes {
		t.Fatalf("test photo only %d bytes", len(photo))
	}
	imprint := testimg.JPEG(testimg.Scan(2480, 3508, 2), 50, 300)
	doc := testimg.JPEG(testimg.Scan(827, 1169, 1), 85, 100)
	rule, _ := apply.RuleFor(apply.KindOrg, apply.Options{Seal: true}, false, apply.MatOrgLicense)
	fixed, rep, err := material.Repair(photo, rule)
	if err != nil || !rep.After.OK() {
		t.Fatalf("fix: %v", err)
	}
	up, err := w.c.StartUpload(ctx, a.ID, apply.MatOrgLicense, "营业执照.jpg", fixed, "", client.NewIdempotencyKey())
	if err != nil {
		t.Fatal(err)
	}
	cut, cancel := context.WithCancel(ctx)
	w.c.Resume(cut, up, fixed, func(p client.Progress) {
		if p.Sent >= client.ChunkSize {
			cancel()
		}
	})
	if _, err := w.c.Resume(ctx, up, fixed, nil); err != nil {
		t.Fatal(err)
	}
	w.materials(ctx, a.ID, imprint, doc)
	if got, _ := w.c.Application(ctx, a.ID); got.State != apply.StateMaterialsComplete {
		t.Fatalf("materials: %s", got.State)
	}

	w.identity(ctx, a.ID, "王堃", "11010519491231002X")
	pay, err := w.c.StartPayment(ctx, a.ID, api.PayOnline)
	if err != nil {
		t.Fatal(err)
	}
	phone(t, pay.QR, nil) // the sandbox page "pays" and sends the signed notify
	if got, _ := w.c.Application(ctx, a.ID); got.State != apply.StatePaid {
		t.Fatalf("payment: %s", got.State)
	}
	w.staffCmd("review", "approve", a.ID)
	code := w.codeFromOutbox(a.ID)

	ts := ukey(t, tk)
	k := enrol(t, ctx, w.c, ts, a.ID, code)
	if got, _ := w.c.Application(ctx, a.ID); got.State != apply.StateIssued {
		t.Fatalf("after download: %s", got.State)
	}
	objs := tk.Tool(t, "--list-objects", "--type", "cert")
	if !strings.Contains(objs, "Certificate Object") || !strings.Contains(objs, "certdesk:"+a.ID) {
		t.Fatalf("pkcs11-tool does not see the certificate:\n%s", objs)
	}

	// Log out; log in again with the UKEY and its PIN.
	if err := w.c.Logout(ctx); err != nil {
		t.Fatal(err)
	}
	w.sess.Delete(w.srv.URL)
	pairs, err := ts.Pairs()
	if err != nil || len(pairs) != 1 || !pairs[0].Key.Public().(interface{ Equal(crypto.PublicKey) bool }).Equal(k.Public()) {
		t.Fatalf("pairs: %v", err)
	}
	n, _ := w.c.LoginNonce(ctx)
	h := sha256.Sum256(api.LoginMessage(n.Nonce))
	sig, err := pairs[0].Key.Sign(rand.Reader, h[:], crypto.SHA256)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.c.UKEYLogin(ctx, api.UKEYLoginRequest{Nonce: n.Nonce, Certificate: pairs[0].Cert.Raw, Signature: sig}); err != nil {
		t.Fatal(err)
	}
	// 类似申请: prefilled, then cancelled.
	sim, err := w.c.Similar(ctx, a.ID, client.NewIdempotencyKey())
	if err != nil || sim.Form[apply.FOrgName] != "福州示例软件有限公司" || sim.Form[apply.FHandlerMobile] != "13800138000" {
		t.Fatalf("similar: %v %+v", err, sim)
	}
	if got, err := w.c.Cancel(ctx, sim.ID); err != nil || got.State != apply.StateCancelled {
		t.Fatalf("cancel: %v", err)
	}
}

// approvedPersonal registers mobile, applies for a personal certificate
// (username) and takes it to approval paying by bank transfer.
func (w *world) approvedPersonal(ctx context.Context, mobile, username string) *api.Application {
	t := w.t
	t.Helper()
	w.c.Register(ctx, api.RegisterRequest{Mobile: mobile, Password: "Zh3ngShu!2026"})
	if _, err := w.c.Login(ctx, api.LoginRequest{Login: mobile, Password: "Zh3ngShu!2026"}); err != nil {
		t.Fatal(err)
	}
	a := w.start(ctx, apply.KindPersonal)
	form := apply.Values{apply.FUsername: username, apply.FApplicantName: "李喆", apply.FApplicantIDType: "resident",
		apply.FApplicantID: "11010519491231002X", apply.FApplicantMobile: mobile, apply.FApplicantEmail: "li@example.cn",
		apply.FOrgName: "福州示例软件有限公司", apply.FOrgCode: "91350100M000100Y43", apply.FHandlerSame: "true",
		apply.FSecurityQuestion: "您的出生地是?", apply.FSecurityAnswer: "福州",
		apply.FServiceSeal: "true", apply.FServiceSignature: "true", apply.FDelivery: "mail", apply.FMailRecipient: "李喆",
		apply.FMailPhone: mobile, apply.FMailAddress: "福建省福州市鼓楼区五四路 100 号 8 楼", apply.FMailPostcode: "350001"}
	if _, err := w.c.UpdateForm(ctx, a.ID, api.UpdateFormRequest{Form: form, Submit: true}); err != nil {
		t.Fatal(err)
	}
	w.materials(ctx, a.ID, testimg.JPEG(testimg.Scan(2480, 3508, 3), 50, 300), testimg.JPEG(testimg.Scan(827, 1169, 4), 85, 100))
	w.identity(ctx, a.ID, "李喆", "11010519491231002X")
	pay, err := w.c.StartPayment(ctx, a.ID, api.PayBankTransfer)
	if err != nil || pay.Bank == nil || pay.Quote.TotalFen != 10000+20000+10000+2000 {
		t.Fatalf("bank transfer: %+v %v", pay, err)
	}
	voucher := testimg.JPEG(testimg.Scan(827, 1169, 6), 85, 100)
	if _, err := w.c.UploadMaterial(ctx, a.ID, apply.MatPaymentVoucher, "缴费凭证.jpg", voucher, nil); err != nil {
		t.Fatal(err)
	}
	w.staffCmd("payment", "confirm", a.ID, "--reason", "工行回单 0042")
	w.staffCmd("review", "approve", a.ID)
	return a
}

func TestPersonalJourneyByBankTransfer(t *testing.T) {
	ctx := context.Background()
	w := newWorld(t)
	tk := softhsmtest.New(t, "personal-ukey")
	a := w.approvedPersonal(ctx, "13900139000", "e2eper")
	ts := ukey(t, tk)
	enrol(t, ctx, w.c, ts, a.ID, w.codeFromOutbox(a.ID))
	got, _ := w.c.Application(ctx, a.ID)
	if got.State != apply.StateIssued {
		t.Fatalf("state %s", got.State)
	}
	certs, _ := ts.Certificates()
	if len(certs) != 1 || certs[0].Subject.CommonName != "李喆" || certs[0].KeyUsage&0x2 == 0 { // content commitment
		t.Fatalf("certificate on the UKEY: %+v", certs)
	}
	if _, err := os.Stat(w.dataDir); err != nil {
		t.Fatal(err)
	}
}
