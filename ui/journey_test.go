package ui

import (
	"certdesk/app/server/devprov"
	appsync "certdesk/app/sync"
	"context"
	"io"
	"log/slog"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"
	"unicode"

	"fyne.io/fyne/v2/test"

	"certdesk/app/api"
	"certdesk/app/apply"
	"certdesk/app/client"
	"certdesk/app/material"
	"certdesk/app/material/testimg"
	"certdesk/app/server"
	"certdesk/app/server/auth"
	"certdesk/app/server/service"
	"certdesk/token/softhsmtest"
)

// devServer is the embedded server as CertDesk runs it for a trial: a CA,
// the development face-ID provider and payment sandbox.
func devServer(t *testing.T) (*server.Server, *slog.Logger) {
	t.Helper()
	test.NewTempApp(t)
	_ = LoadTranslations()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	srv, err := server.Start(context.Background(), server.Config{DataDir: t.TempDir(), Log: log, DevProviders: true,
		Service: service.Config{Params: auth.Params{MemoryKiB: 1024, Time: 1, Threads: 1}}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	return srv, log
}

// eventually polls cond until it holds. cond reads widgets, so it runs
// under the lock that background updates take (see onUI).
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	locked := func() bool {
		uiMu.Lock()
		defer uiMu.Unlock()
		return cond()
	}
	for !locked() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// phone is the applicant's phone: it opens a QR code's address and, for
// the face check, answers the development page's form.
func phone(t *testing.T, u string, form url.Values) {
	t.Helper()
	if err := devprov.Phone(u, form); err != nil {
		t.Fatalf("phone: %v", err)
	}
}

var reDownloadCode = regexp.MustCompile(`验证码:(\d{8})`)

func downloadCode(t *testing.T, srv *server.Server, appID string) string {
	t.Helper()
	msgs, err := srv.Store.Messages(context.Background(), appID, 50)
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range msgs {
		if mm := reDownloadCode.FindStringSubmatch(m.Body); mm != nil {
			return mm[1]
		}
	}
	t.Fatal("no download code in the outbox")
	return ""
}

// journeyCase is one applicant's way through the screens.
type journeyCase struct {
	kind    apply.Kind
	form    apply.Values
	name    string // as the identity check reads it
	idNum   string
	pay     api.PaymentMethod
	subject string
}

func TestJourneyOrganisationOnlinePayment(t *testing.T) {
	runJourney(t, journeyCase{kind: apply.KindOrg, pay: api.PayOnline, name: "王堃", idNum: "11010519491231002X", subject: "福州示例软件有限公司",
		form: apply.Values{apply.FUsername: "uiorg", apply.FOrgName: "福州示例软件有限公司", apply.FOrgCode: "91350100M000100Y43",
			apply.FOrgAddress: "福建省福州市鼓楼区五四路 100 号", apply.FHandlerName: "王堃", apply.FHandlerIDType: "resident",
			apply.FHandlerID: "11010519491231002X", apply.FHandlerMobile: "13800138000", apply.FHandlerEmail: "wang@example.com",
			apply.FSecurityQuestion: "您的出生地是?", apply.FSecurityAnswer: "福州", apply.FServiceSeal: "true", apply.FDelivery: "pickup"}})
}

// The same journey paid with WeChat Pay, chosen on the payment step's
// radio buttons, through the sandbox's API v3 over HTTP.
func TestJourneyOrganisationWeChatPay(t *testing.T) {
	runJourney(t, journeyCase{kind: apply.KindOrg, pay: api.PayWeChat, name: "王堃", idNum: "11010519491231002X", subject: "福州闽江数字科技有限公司",
		form: apply.Values{apply.FUsername: "uiwx", apply.FOrgName: "福州闽江数字科技有限公司", apply.FOrgCode: "91350100M000100Y43",
			apply.FOrgAddress: "福建省福州市鼓楼区五四路 100 号", apply.FHandlerName: "王堃", apply.FHandlerIDType: "resident",
			apply.FHandlerID: "11010519491231002X", apply.FHandlerMobile: "13800138000", apply.FHandlerEmail: "wang@example.com",
			apply.FSecurityQuestion: "您的出生地是?", apply.FSecurityAnswer: "福州", apply.FServiceSeal: "true", apply.FDelivery: "pickup"}})
}

func TestJourneyPersonalBankTransfer(t *testing.T) {
	runJourney(t, journeyCase{kind: apply.KindPersonal, pay: api.PayBankTransfer, name: "李喆", idNum: "11010519491231002X", subject: "李喆",
		form: apply.Values{apply.FUsername: "uiper", apply.FApplicantName: "李喆", apply.FApplicantIDType: "resident",
			apply.FApplicantID: "11010519491231002X", apply.FApplicantMobile: "13900139000", apply.FApplicantEmail: "li@example.cn",
			apply.FOrgName: "福州示例软件有限公司", apply.FOrgCode: "91350100M000100Y43", apply.FHandlerSame: "true",
			apply.FSecurityQuestion: "您的出生地是?", apply.FSecurityAnswer: "福州",
			apply.FServiceSeal: "true", apply.FServiceSignature: "true", apply.FDelivery: "mail", apply.FMailRecipient: "李喆",
			apply.FMailPhone: "13900139000", apply.FMailAddress: "福建省福州市鼓楼区五四路 100 号 8 楼", apply.FMailPostcode: "350001"}})
}

func runJourney(t *testing.T, jc journeyCase) {
	ctx := context.Background()
	srv, log := devServer(t)
	tk := softhsmtest.New(t, "ui-ukey")
	c, _ := client.New(client.Config{BaseURL: srv.URL, Log: log})
	mobile := jc.form[apply.FHandlerMobile] + jc.form[apply.FApplicantMobile]
	if _, err := c.Register(ctx, api.RegisterRequest{Mobile: mobile, Password: "Zh3ngShu!2026"}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Login(ctx, api.LoginRequest{Login: mobile, Password: "Zh3ngShu!2026"}); err != nil {
		t.Fatal(err)
	}
	win := test.NewTempWindow(t, nil)

	// Agreement and form through the wizard; the print step goes on to
	// the journey.
	w := NewApply(c, apply.ZH, jc.kind, t.TempDir(), nil, func(string) {})
	w.Render = testRender
	w.calls = make(chan struct{}, 256)
	var j *Journey
	// Materials go through the local queue, as in the app.
	local, err := appsync.Open(ctx, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer local.Close()
	queue := &appsync.Loop{Store: local, Client: c, Log: log}
	w.OnContinue = func(id string) {
		j = NewJourney(JourneyDeps{Client: c, Window: win, Lang: apply.ZH, Log: log, UKEY: PKCS11UKEY{Module: tk.ModulePath}, FormDir: t.TempDir(), Queue: queue}, id, func() {})
		j.PollEvery = 50 * time.Millisecond
		win.SetContent(j.Content())
	}
	until(t, w.calls, func() bool { return findButton(w.root, "同意并继续") != nil })
	asUser(func() {
		test.Tap(findCheck(w.root, "我已阅读并同意上述协议"))
		test.Tap(findButton(w.root, "同意并继续"))
	})
	until(t, w.calls, func() bool { return w.fields != nil })
	// A wrong mobile number is reported beside its field as the user leaves it.
	mobileKey := apply.FHandlerMobile
	if jc.kind == apply.KindPersonal {
		mobileKey = apply.FApplicantMobile
	}
	var errText string
	asUser(func() {
		w.fields[mobileKey].entry.SetText("1380013800")
		w.fields[mobileKey].entry.FocusLost()
		errText = w.fields[mobileKey].err.Text
	})
	if errText == "" {
		t.Fatal("no error beside a 10-digit mobile number")
	}
	asUser(func() {
		w.fill(jc.form)
		w.fields[mobileKey].entry.FocusLost()
		errText = w.fields[mobileKey].err.Text
	})
	if errText != "" {
		t.Fatalf("error stays after the fix: %q", errText)
	}
	asUser(func() { test.Tap(w.submit) })
	until(t, w.calls, func() bool { return w.PrintedPath != "" })
	asUser(func() { test.Tap(findButton(w.root, "下一步:上传材料")) })
	if j == nil {
		t.Fatal("the print step did not continue to the materials")
	}
	eventually(t, "the materials step", func() bool { return j.mat != nil && len(j.mat.items) > 0 })
	if j.State() != apply.StateSubmitted {
		t.Fatalf("state %s", j.State())
	}

	// Materials: a 72-DPI scan is refused with its reason, fixed with one
	// click and uploaded; the rest pass and upload at once.
	doc := testimg.JPEG(testimg.Scan(827, 1169, 4), 85, 100)
	imprint := testimg.JPEG(testimg.Scan(2480, 3508, 3), 50, 300)
	lowDPI := testimg.JPEG(testimg.Scan(827, 1169, 5), 85, 72)
	var types []apply.MaterialType
	for _, it := range j.mat.items {
		if it.rule.Required && it.rule.SameAs == "" {
			types = append(types, it.rule.Type)
		}
	}
	verdicts := make(chan material.Verdict, 16)
	j.mat.Verdict = func(_ apply.MaterialType, v material.Verdict) { verdicts <- v }
	first := types[0]
	asUser(func() { j.mat.Add(first, "扫描件.jpg", lowDPI) })
	v := <-verdicts
	var verdictText string
	var fixHidden bool
	asUser(func() { verdictText, fixHidden = j.mat.item(first).verdict.Text, j.mat.item(first).fix.Hidden })
	if v.OK() || !v.Fixable() || !strings.Contains(verdictText, "要求至少 100 DPI") {
		t.Fatalf("low-DPI verdict on screen: %q", verdictText)
	}
	if fixHidden {
		t.Fatal("no fix button for a fixable file")
	}
	asUser(func() { test.Tap(j.mat.item(first).fix) })
	if v := <-verdicts; !v.OK() {
		t.Fatalf("after the fix: %+v", v.Problems)
	}
	j.mat.Wait()
	if s := j.mat.item(first).fixed.Text; !strings.Contains(s, "72 DPI") || !strings.Contains(s, "100 DPI") {
		t.Fatalf("before/after not shown: %q", s)
	}
	for _, mt := range types[1:] {
		asUser(func() {
			data := doc
			if j.mat.item(mt).rule.MinDPI == apply.ImprintDPI {
				data = imprint
			}
			j.mat.Add(mt, string(mt)+".jpg", data)
		})
		<-verdicts
	}
	j.mat.Wait()
	eventually(t, "every material accepted", func() bool { return !j.mat.next.Disabled() })
	qs, _ := local.Uploads(ctx)
	for _, q := range qs {
		if q.State != "done" {
			t.Fatalf("queued upload %s: %s %s", q.Type, q.State, q.Error)
		}
	}
	if len(qs) != len(types) { // one per type: the refused file never left the PC, its fixed copy did
		t.Fatalf("%d uploads through the queue for %d types", len(qs), len(types))
	}
	asUser(func() { test.Tap(j.mat.next) })

	// Identity: the two QR codes; the phone passes the check; the screen follows.
	eventually(t, "the identity step", func() bool { return j.ident != nil && j.ident.Session != nil })
	if len(j.ident.qrs.Objects) != 2 {
		t.Fatalf("%d QR codes", len(j.ident.qrs.Objects))
	}
	phone(t, j.ident.Session.VerifyQR, url.Values{"result": {"pass"}, "name": {jc.name}, "id_number": {jc.idNum}})
	eventually(t, "the payment step", func() bool { return j.pay != nil && j.State() == apply.StateIdentityVerified })
	// The face check's result stays said over the next step.
	eventually(t, "the pass said", func() bool { return strings.Contains(j.status.Text, "身份识别已通过") })

	// Payment.
	ops := service.Operator("staff")
	if jc.pay == api.PayWeChat {
		// Chosen as the applicant chooses: the radio button, once the
		// server has said it takes WeChat Pay.
		eventually(t, "WeChat Pay offered", func() bool { return len(j.pay.method.Options) == 3 })
		onUIWait(func() { j.pay.method.SetSelected("微信扫码") })
	} else {
		asUser(func() { j.pay.Start(jc.pay) })
	}
	eventually(t, "the payment on screen", func() bool { return j.pay.Payment != nil })
	switch jc.pay {
	case api.PayOnline, api.PayWeChat:
		if j.pay.Payment.Method != jc.pay {
			t.Fatalf("paying by %s, want %s", j.pay.Payment.Method, jc.pay)
		}
		phone(t, j.pay.Payment.QR, nil) // the sandbox page pays and sends the signed notify
	case api.PayBankTransfer:
		if j.pay.Payment.Bank == nil || j.pay.Payment.Bank.Number == "" {
			t.Fatalf("no bank account: %+v", j.pay.Payment)
		}
		voucher := testimg.JPEG(testimg.Scan(827, 1169, 6), 85, 100)
		asUser(func() { j.pay.UploadVoucher("缴费凭证.jpg", voucher) })
		eventually(t, "the voucher sent", func() bool { return strings.Contains(j.pay.voucher.Text, "缴费凭证已上传") })
		if _, err := srv.Service.ConfirmTransfer(ctx, ops, j.appID, "工行回单 0042"); err != nil {
			t.Fatal(err)
		}
	}
	eventually(t, "the review step", func() bool { s := j.State(); return s == apply.StatePaid || s == apply.StateUnderReview })

	// Staff approve; the screen moves to the download by itself.
	if _, err := srv.Service.Review(ctx, ops, j.appID, api.ReviewRequest{Approve: true}); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the download step", func() bool { return j.dl != nil && j.State() == apply.StateApproved })

	// Download onto the SoftHSM UKEY: a wrong code first, then the right one.
	d := j.dl
	eventually(t, "the UKEY detected", func() bool { return strings.Contains(d.info.Text, "ui-ukey") })
	asUser(func() {
		d.pin.SetText(tk.PIN)
		d.code.SetText("00000000")
		test.Tap(d.btn)
	})
	eventually(t, "the wrong code refused", func() bool { return d.err.Text != "" })
	var pinLeft string
	asUser(func() { pinLeft = d.pin.Text })
	if pinLeft != "" {
		t.Fatal("the PIN stayed in the entry")
	}
	code := downloadCode(t, srv, j.appID)
	asUser(func() {
		d.pin.SetText(tk.PIN)
		d.code.SetText(code)
		test.Tap(d.btn)
	})
	eventually(t, "the certificate installed", func() bool { return d.Cert != nil || (d.err.Text != "" && !d.btn.Disabled()) })
	if d.Cert == nil {
		t.Fatalf("download failed: %s", d.err.Text)
	}
	if d.Cert.Subject.CommonName != jc.subject || !strings.Contains(d.result.Text, "SHA-256") {
		t.Fatalf("certificate %q, summary %q", d.Cert.Subject.CommonName, d.result.Text)
	}
	for i := range stageKeys {
		if !strings.HasPrefix(d.stages[i].Text, "✓") {
			t.Fatalf("stage %d: %q", i, d.stages[i].Text)
		}
	}
	if a, _ := c.Application(ctx, j.appID); a.State != apply.StateIssued {
		t.Fatalf("state after download: %s", a.State)
	}
}

// A material added while the server is unreachable is kept in the local
// queue (the screen says so) and sent by the sync loop once the server is
// back, without choosing the file again.
func TestMaterialQueuedWhileOfflineIsSentLater(t *testing.T) {
	ctx := context.Background()
	srv, cfg, log := restartable(t)
	c := loggedIn(t, srv.URL, log)
	a := newApp(t, c, nil, true)
	j, local, loop := queuedJourney(t, c, a.ID, apply.ZH, log, nil)

	addr := strings.TrimPrefix(srv.URL, "http://")
	srv.Close() // the connection drops
	asUser(func() {
		j.mat.Add(apply.MatOrgLicense, "营业执照.jpg", testimg.JPEG(testimg.Scan(827, 1169, 4), 85, 100))
	})
	j.mat.Wait()
	eventually(t, "the queued notice", func() bool {
		return strings.Contains(j.mat.item(apply.MatOrgLicense).fixed.Text, "联网后自动继续上传")
	})
	qs, _ := local.Uploads(ctx)
	if len(qs) != 1 || qs[0].State != "queued" {
		t.Fatalf("queue while offline: %+v", qs)
	}

	restartAt(t, cfg, addr) // the server comes back where it was
	if err := loop.Round(ctx); err != nil {
		t.Fatal(err)
	}
	if qs, _ := local.Uploads(ctx); qs[0].State != "done" {
		t.Fatalf("after reconnecting: %+v", qs[0])
	}
	cl, err := c.Checklist(ctx, a.ID)
	if err != nil {
		t.Fatal(err)
	}
	for _, it := range cl.Items {
		if it.Rule.Type == apply.MatOrgLicense && len(it.Materials) != 1 {
			t.Fatalf("licence on the server: %+v", it)
		}
	}
}

// A material queued while offline that the server then refuses (the
// application was cancelled meanwhile, from another PC) is said beside its
// item when the sync loop's background send is refused, in the window's
// language (English here; the queue kept the refusal in Chinese only and
// the page showed nothing).
func TestBackgroundRefusalShownInTheUsersLanguage(t *testing.T) {
	ctx := context.Background()
	srv, cfg, log := restartable(t)
	c := loggedIn(t, srv.URL, log)
	a := newApp(t, c, nil, true)
	events := make(chan appsync.Event, 64)
	j, local, loop := queuedJourney(t, c, a.ID, apply.EN, log, events)

	addr := strings.TrimPrefix(srv.URL, "http://")
	srv.Close()
	asUser(func() {
		j.mat.Add(apply.MatOrgLicense, "licence.jpg", testimg.JPEG(testimg.Scan(827, 1169, 4), 85, 100))
	})
	j.mat.Wait()
	restartAt(t, cfg, addr)
	if _, err := c.Cancel(ctx, a.ID); err != nil { // from another PC, say
		t.Fatal(err)
	}
	loop.Round(ctx)
	var failed *appsync.Event
	for failed == nil {
		select {
		case e := <-events:
			if e.Kind == appsync.UploadFailed {
				failed = &e
			}
		case <-time.After(10 * time.Second):
			t.Fatal("no UploadFailed event")
		}
	}
	if failed.Type != apply.MatOrgLicense {
		t.Fatalf("the event names %q", failed.Type)
	}
	asUser(func() { j.mat.SyncEvent(*failed) }) // as the Shell passes it on
	j.mat.Wait()                                // and the checklist reloaded after it keeps the message
	var msg string
	asUser(func() { msg = j.mat.item(apply.MatOrgLicense).fixed.Text })
	if !strings.HasPrefix(msg, "✗") || !strings.Contains(msg, "cancelled") || strings.IndexFunc(msg, func(r rune) bool { return unicode.Is(unicode.Han, r) }) >= 0 {
		t.Fatalf("the refusal beside the item: %q, want it in English", msg)
	}
	qs, _ := local.Uploads(ctx)
	if len(qs) != 1 || qs[0].State != "failed" || qs[0].ErrorEN == "" || qs[0].Error == qs[0].ErrorEN {
		t.Fatalf("the queue keeps %+v", qs)
	}
	t.Logf("shown: %s", msg)
}

// queuedJourney shows application id's journey at its materials step,
// with uploads going through a local queue and sync loop (events, when
// given, receives the loop's events).
func queuedJourney(t *testing.T, c *client.Client, id string, l apply.Lang, log *slog.Logger, events chan appsync.Event) (*Journey, *appsync.Store, *appsync.Loop) {
	t.Helper()
	local, err := appsync.Open(context.Background(), t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { local.Close() })
	loop := &appsync.Loop{Store: local, Client: c, Log: log, Events: events}
	win := test.NewTempWindow(t, nil)
	var j *Journey
	asUser(func() {
		j = NewJourney(JourneyDeps{Client: c, Window: win, Lang: l, Log: log, Queue: loop}, id, func() {})
		win.SetContent(j.Content())
	})
	eventually(t, "the checklist", func() bool { return j.mat != nil && len(j.mat.items) > 0 })
	return j, local, loop
}
