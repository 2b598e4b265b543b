package server

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"certdesk/app/api"
	"certdesk/app/apply"
	"certdesk/app/server/outbox"
	"certdesk/app/server/service"
)

// staffBrowser is an HTTP client that behaves as a staffBrowser does towards the
// console: a cookie jar, no redirects followed (the tests look at them).
type staffBrowser struct {
	t    testing.TB
	base string
	hc   *http.Client
}

func newStaffBrowser(t testing.TB, s *Server) *staffBrowser {
	jar, _ := cookiejar.New(nil)
	return &staffBrowser{t: t, base: s.URL, hc: &http.Client{Jar: jar, Timeout: 30 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

func (b *staffBrowser) do(method, path string, form url.Values, hdr ...string) resp {
	b.t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequest(method, b.base+path, body)
	if err != nil {
		b.t.Fatal(err)
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	res, err := b.hc.Do(req)
	if err != nil {
		b.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer res.Body.Close()
	raw, _ := io.ReadAll(res.Body)
	return resp{res.StatusCode, res.Header, raw}
}

var reCSRF = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

func csrfOf(t testing.TB, r resp) string {
	t.Helper()
	m := reCSRF.FindSubmatch(r.body)
	if m == nil {
		t.Fatalf("no CSRF token in the page (%d): %.300s", r.status, r.body)
	}
	return string(m[1])
}

// staffLogin is a staff account made as certdesk-server user add makes
// it, not yet logged in anywhere.
type staffLogin struct{ id, login, password, secret string }

func staffAccount(t testing.TB, s *Server, duties ...api.StaffRole) staffLogin {
	t.Helper()
	userSeq.Lock()
	userSeq.n++
	email := fmt.Sprintf("staff%d@ca.example.cn", userSeq.n)
	userSeq.Unlock()
	a, u, err := s.Service.CreateStaff(context.Background(), api.RegisterRequest{Email: email, Password: "Sh3nHe!2026"}, duties)
	if err != nil {
		t.Fatal(err)
	}
	return staffLogin{a.ID, email, "Sh3nHe!2026", totpSecret(t, u)}
}

// consoleLogin logs a staff member into the console through its login
// form and returns the staffBrowser with the session cookie.
func consoleLogin(t testing.TB, s *Server, sl staffLogin) *staffBrowser {
	t.Helper()
	b := newStaffBrowser(t, s)
	page := b.do("GET", "/staff/login", nil)
	r := b.do("POST", "/staff/login", url.Values{"csrf": {csrfOf(t, page)}, "login": {sl.login}, "password": {sl.password},
		"totp": {totpCode(t, sl.secret, s.Service.Now())}, "next": {"/staff/queue"}})
	if r.status != http.StatusSeeOther || r.header.Get("Location") != "/staff/queue" {
		t.Fatalf("console login: %d %s %.300s", r.status, r.header.Get("Location"), r.body)
	}
	ck := r.header.Get("Set-Cookie")
	for _, want := range []string{"certdesk_staff=", "HttpOnly", "SameSite=Strict", "Path=/staff/"} {
		if !strings.Contains(strings.Join(r.header.Values("Set-Cookie"), ";"), want) {
			t.Fatalf("session cookie lacks %s: %s", want, ck)
		}
	}
	return b
}

// reviewable is an organisation application with every material uploaded
// as a real JPEG, its identity checked and its bank transfer waiting.
func reviewable(t *testing.T, s *Server, c *client, username, orgName string) (api.Application, map[apply.MaterialType]api.MaterialInfo) {
	t.Helper()
	var a api.Application
	c.ok(c.do("POST", api.PathApplications, api.CreateApplicationRequest{Kind: apply.KindOrg, Agreement: agreement(c)}), &a)
	form := orgForm(username)
	form[apply.FOrgName] = orgName
	c.ok(c.do("PATCH", "/applications/"+a.ID, api.UpdateFormRequest{Form: form, Submit: true}), &a)
	doc, seal := scans()
	mats := map[apply.MaterialType]api.MaterialInfo{}
	for _, mt := range []apply.MaterialType{apply.MatAcceptanceForm, apply.MatOrgLicense, apply.MatAuthorization, apply.MatHandlerID} {
		mats[mt] = c.mustUpload(a.ID, mt, doc)
	}
	mats[apply.MatSealImprint] = c.mustUpload(a.ID, apply.MatSealImprint, seal)
	if err := s.Service.SystemStep(context.Background(), a.ID, apply.EvIdentityVerified, "test"); err != nil {
		t.Fatal(err)
	}
	c.ok(c.do("POST", "/applications/"+a.ID+"/payment", api.StartPaymentRequest{Method: api.PayBankTransfer}), nil)
	mats[apply.MatPaymentVoucher] = c.mustUpload(a.ID, apply.MatPaymentVoucher, doc)
	return c.app(a.ID), mats
}

// TestConsoleRefusesWhatItShould: every /staff/ route without a session,
// with an applicant's session, without the CSRF token or from another
// origin, and with a staff member who lacks the duty, is refused; scans go
// only to staff, as JPEG with nosniff and the console's CSP; applicant
// text is shown as text.
func TestConsoleRefusesWhatItShould(t *testing.T) {
	s := startServer(t, "")
	c := applicant(t, s)
	a, mats := reviewable(t, s, c, "xss01", `<script>alert("x")</script>福州示例有限公司`)
	fin := consoleLogin(t, s, staffAccount(t, s, api.StaffFinance))
	rev := consoleLogin(t, s, staffAccount(t, s, api.StaffReviewer))
	adm := consoleLogin(t, s, staffAccount(t, s, api.StaffAdmin))
	anon := newStaffBrowser(t, s)
	// An applicant's own session token, put where the console looks.
	appl := newStaffBrowser(t, s)
	u, _ := url.Parse(s.URL + "/staff/")
	appl.hc.Jar.SetCookies(u, []*http.Cookie{{Name: "certdesk_staff", Value: c.token, Path: "/staff/"}})

	pay, err := s.Store.LatestPayment(context.Background(), a.ID)
	if err != nil {
		t.Fatal(err)
	}
	fill := strings.NewReplacer("{id}", a.ID, "{mid}", mats[apply.MatOrgLicense].ID, "{page}", "1", "{pid}", pay.ID)
	routes := consoleRoutes(s)
	if len(routes) < 14 {
		t.Fatalf("only %d console routes", len(routes))
	}
	for _, rt := range routes {
		method, path, duty := rt[0], fill.Replace(rt[1]), api.StaffRole(rt[2])
		t.Run(method+" "+rt[1], func(t *testing.T) {
			var form url.Values
			if method == "POST" {
				form = url.Values{"note": {"x"}}
			}
			r := anon.do(method, path, form)
			if method == "GET" && (r.status != http.StatusSeeOther || !strings.HasPrefix(r.header.Get("Location"), "/staff/login")) ||
				method == "POST" && r.status != http.StatusUnauthorized {
				t.Fatalf("without a session: %d %s", r.status, r.header.Get("Location"))
			}
			if r := appl.do(method, path, form); r.status != http.StatusForbidden {
				t.Fatalf("with an applicant's session: %d", r.status)
			}
			// Someone with the duty, or any staff member when none is needed.
			who := map[api.StaffRole]*staffBrowser{"": rev, api.StaffReviewer: rev, api.StaffFinance: fin, api.StaffAdmin: adm}[duty]
			if method == "POST" {
				if r := who.do(method, path, form); r.status != http.StatusForbidden || !strings.Contains(string(r.body), "页面已过期") {
					t.Fatalf("without the CSRF token: %d", r.status)
				}
				tok := csrfOf(t, who.do("GET", "/staff/queue", nil))
				other := url.Values{"csrf": {csrfOf(t, rev.do("GET", "/staff/queue", nil))}, "note": {"x"}}
				if who != rev {
					if r := who.do(method, path, other); r.status != http.StatusForbidden {
						t.Fatalf("with another session's CSRF token: %d", r.status)
					}
				}
				if r := who.do(method, path, url.Values{"csrf": {tok}, "note": {"x"}}, "Origin", "https://evil.example"); r.status != http.StatusForbidden {
					t.Fatalf("from another origin: %d", r.status)
				}
			}
			if duty == "" {
				return
			}
			for d, b := range map[api.StaffRole]*staffBrowser{api.StaffReviewer: rev, api.StaffFinance: fin, api.StaffAdmin: adm} {
				if d == duty {
					continue
				}
				if method == "POST" {
					form = url.Values{"csrf": {csrfOf(t, b.do("GET", "/staff/queue", nil))}, "note": {"x"}}
				}
				if r := b.do(method, path, form); r.status != http.StatusForbidden || !strings.Contains(string(r.body), "职责") {
					t.Fatalf("%s without the %s duty: %d %.200s", d, duty, r.status, r.body)
				}
			}
		})
	}

	// The scan: staff only, a JPEG that cannot be read as anything else.
	img := rev.do("GET", "/staff/app/"+a.ID+"/material/"+mats[apply.MatOrgLicense].ID, nil)
	doc, _ := scans()
	if img.status != 200 || string(img.body) != string(doc) {
		t.Fatalf("scan: %d, %d bytes", img.status, len(img.body))
	}
	for k, want := range map[string]string{"Content-Type": "image/jpeg", "X-Content-Type-Options": "nosniff"} {
		if img.header.Get(k) != want {
			t.Fatalf("scan header %s = %q", k, img.header.Get(k))
		}
	}
	for _, want := range []string{"default-src 'none'", "script-src 'self'", "frame-ancestors 'none'"} {
		if !strings.Contains(img.header.Get("Content-Security-Policy"), want) {
			t.Fatalf("scan CSP lacks %s: %s", want, img.header.Get("Content-Security-Policy"))
		}
	}
	// Another application's ID with this material: not found.
	other, _ := reviewable(t, s, applicant(t, s), "xss02", "福州另一有限公司")
	if r := rev.do("GET", "/staff/app/"+other.ID+"/material/"+mats[apply.MatOrgLicense].ID, nil); r.status != 404 {
		t.Fatalf("material under another application: %d", r.status)
	}

	// Applicant text is text: in the queue and on the application page.
	for _, path := range []string{"/staff/queue", "/staff/app/" + a.ID} {
		page := rev.do("GET", path, nil)
		if page.status != 200 || strings.Contains(string(page.body), `<script>alert`) || !strings.Contains(string(page.body), `&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;福州示例有限公司`) {
			t.Fatalf("%s does not escape the company name (%d)", path, page.status)
		}
		if !strings.Contains(page.header.Get("Content-Security-Policy"), "script-src 'self'") || page.header.Get("X-Frame-Options") != "DENY" {
			t.Fatalf("%s headers: %v", path, page.header)
		}
	}
}

func consoleRoutes(s *Server) [][3]string { return s.Console.Routes() }

// TestConsoleIdleTimeout: a console session unused for the idle time is
// over; one in use is not.
func TestConsoleIdleTimeout(t *testing.T) {
	clk := &clock{}
	s := startDevServer(t, "", clk)
	sl := staffAccount(t, s, api.StaffReviewer)
	b := consoleLogin(t, s, sl)
	for i := 0; i < 4; i++ {
		clk.Add(10 * time.Minute) // 40 minutes in all, never 15 idle
		if r := b.do("GET", "/staff/queue", nil); r.status != 200 {
			t.Fatalf("in use after %d min: %d", (i+1)*10, r.status)
		}
	}
	clk.Add(16 * time.Minute)
	if r := b.do("GET", "/staff/queue", nil); r.status != http.StatusSeeOther {
		t.Fatalf("after 16 idle minutes: %d", r.status)
	}
}

// TestConsoleReview is the reviewer's whole job through the console's
// forms, on both engines: finance confirms the transfer; a reviewer
// returns one material with a reason, which the applicant sees beside it
// through the API; resubmission waits for the replacement; two reviewers
// approve (the same one twice is refused); the certificate is revoked and
// the CRL lists it; every action is in the audit chain.
func TestConsoleReview(t *testing.T) {
	for name, dsn := range engines(t) {
		t.Run(name, func(t *testing.T) {
			s := startServer(t, dsn)
			ctx := context.Background()
			if err := s.Service.SetApprovals(ctx, service.Operator("test"), 2); err != nil {
				t.Fatal(err)
			}
			c := applicant(t, s)
			a, mats := reviewable(t, s, c, "review01", "福州示例软件有限公司")
			fin := consoleLogin(t, s, staffAccount(t, s, api.StaffFinance))
			ra := staffAccount(t, s, api.StaffReviewer)
			revA, revB := consoleLogin(t, s, ra), consoleLogin(t, s, staffAccount(t, s, api.StaffReviewer))
			post := func(b *staffBrowser, path string, form url.Values) resp {
				t.Helper()
				form.Set("csrf", csrfOf(t, b.do("GET", "/staff/queue", nil)))
				return b.do("POST", path, form)
			}

			q := fin.do("GET", "/staff/queue?state=payment_pending", nil)
			if !strings.Contains(string(q.body), a.ID) {
				t.Fatalf("transfer not in the queue: %.500s", q.body)
			}
			if r := post(fin, "/staff/app/"+a.ID+"/confirm", url.Values{"note": {"工行流水 20261203001"}}); r.status != 303 {
				t.Fatalf("confirm: %d %.300s", r.status, r.body)
			}
			// A opens it: B's queue says A is on it.
			if r := revA.do("GET", "/staff/app/"+a.ID, nil); r.status != 200 || !strings.Contains(string(r.body), "/staff/app/"+a.ID+"/form/1") {
				t.Fatalf("application page: %d", r.status)
			}
			if r := revB.do("GET", "/staff/queue?name=福州示例", nil); !strings.Contains(string(r.body), ra.login) {
				t.Fatalf("B's queue does not show A's lock: %.800s", r.body)
			}
			if r := revB.do("GET", "/staff/app/"+a.ID, nil); !strings.Contains(string(r.body), `id="lock"`) {
				t.Fatal("B's page does not warn of A's lock")
			}
			lic := mats[apply.MatOrgLicense]
			r := post(revA, "/staff/app/"+a.ID+"/reject", url.Values{"reason": {""}, "return": {lic.ID}, "code_" + lic.ID: {"unsealed"}, "note_" + lic.ID: {"复印件右下角"}})
			if r.status != 303 {
				t.Fatalf("reject: %d %.300s", r.status, r.body)
			}
			got := c.app(a.ID)
			var back *api.MaterialRejection
			for _, m := range got.Materials {
				if m.ID == lic.ID {
					back = m.Rejection
				} else if m.Rejection != nil {
					t.Fatalf("%s returned too", m.Type)
				}
			}
			if got.State != apply.StateRejected || back == nil || back.Code != "unsealed" || back.Reason.ZH != "复印件未加盖单位公章" || back.Note != "复印件右下角" ||
				!strings.Contains(got.RejectReason, "单位有效证件:复印件未加盖单位公章") {
				t.Fatalf("applicant's view: %s %+v %q", got.State, back, got.RejectReason)
			}
			e := c.wantErr(c.do("POST", "/applications/"+a.ID+"/events", api.EventRequest{Event: apply.EvResubmit}), 409, api.CodeStateNotAllowed)
			if !strings.Contains(e.MessageZH, "尚未更换") {
				t.Fatalf("resubmit before replacing: %s", e.MessageZH)
			}
			if r := c.do("DELETE", "/applications/"+a.ID+"/materials/"+lic.ID, nil); r.status != 204 {
				t.Fatalf("delete: %d", r.status)
			}
			doc, _ := scans()
			c.mustUpload(a.ID, apply.MatOrgLicense, doc)
			c.ok(c.do("POST", "/applications/"+a.ID+"/events", api.EventRequest{Event: apply.EvResubmit}), nil)

			if r := post(revA, "/staff/app/"+a.ID+"/approve", url.Values{"note": {""}}); r.status != 303 || !strings.Contains(r.header.Get("Location"), "approved_first") {
				t.Fatalf("first approval: %d %s", r.status, r.header.Get("Location"))
			}
			if st := c.app(a.ID).State; st != apply.StateUnderReview {
				t.Fatalf("after one of two approvals: %s", st)
			}
			r = post(revA, "/staff/app/"+a.ID+"/approve", url.Values{"note": {""}})
			if r.status != 409 || !strings.Contains(string(r.body), "另一位审核员") {
				t.Fatalf("the same reviewer twice: %d %.300s", r.status, r.body)
			}
			if r := post(revB, "/staff/app/"+a.ID+"/approve", url.Values{"note": {""}}); r.status != 303 || !strings.Contains(r.header.Get("Location"), "done=approved") {
				t.Fatalf("second approval: %d %s", r.status, r.header.Get("Location"))
			}
			if st := c.app(a.ID).State; st != apply.StateApproved {
				t.Fatalf("after two approvals: %s", st)
			}

			key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
			var bundle api.CertificateBundle
			c.ok(c.do("POST", "/applications/"+a.ID+"/certificate", api.DownloadRequest{CSR: makeCSR(t, key, ""), Code: codeFromOutbox(t, s, a.ID)}), &bundle)
			found := revB.do("GET", "/staff/certs?q=福州示例", nil)
			if !strings.Contains(string(found.body), bundle.Serial) {
				t.Fatalf("certificate search: %.500s", found.body)
			}
			r = post(revB, "/staff/app/"+a.ID+"/revoke", url.Values{"reason": {"1"}, "note": {"UKEY 遗失"}})
			if r.status != 303 || !strings.Contains(r.header.Get("Location"), "crl=") {
				t.Fatalf("revoke: %d %s", r.status, r.header.Get("Location"))
			}
			crl, _ := fetchCRL(t, newClient(t, s))
			if !onCRL(crl, bundle.Serial) || !strings.Contains(r.header.Get("Location"), fmt.Sprintf("crl=%d", crl.Number)) {
				t.Fatalf("CRL #%v does not list %s (%s)", crl.Number, bundle.Serial, r.header.Get("Location"))
			}
			if n, err := s.Service.VerifyAudit(ctx); err != nil || n < 6 {
				t.Fatalf("audit: %d %v", n, err)
			}
		})
	}
}

// TestConsoleRefund: money that arrives for a cancelled application is on
// finance's page; "登记退款" refunds it through the provider's API
// (alipay.trade.refund, to the sandbox over HTTP) and records it, once.
func TestConsoleRefund(t *testing.T) {
	s := startDevServer(t, "", nil)
	ctx := context.Background()
	c := applicant(t, s)
	a := submitted(c, "refund01")
	for _, ev := range []apply.Event{apply.EvMaterialsComplete, apply.EvIdentityVerified} {
		if err := s.Service.SystemStep(ctx, a.ID, ev, "test"); err != nil {
			t.Fatal(err)
		}
	}
	var pay api.Payment
	c.ok(c.do("POST", "/applications/"+a.ID+"/payment", api.StartPaymentRequest{Method: api.PayOnline}), &pay)
	if err := s.Sandbox.Pay(ctx, pay.OrderID, false); err != nil { // the buyer pays just as...
		t.Fatal(err)
	}
	c.ok(c.do("DELETE", "/applications/"+a.ID, nil), nil) // ...the applicant cancels
	late, _ := s.Sandbox.NotifyParams(pay.OrderID)
	res, err := http.PostForm(s.URL+api.Prefix+api.PathPayNotify, late)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()

	fin := consoleLogin(t, s, staffAccount(t, s, api.StaffFinance))
	page := fin.do("GET", "/staff/finance", nil)
	if !strings.Contains(string(page.body), `data-payment="`+pay.OrderID+`"`) || !strings.Contains(string(page.body), "需退款") {
		t.Fatalf("finance page lacks the refund: %.600s", page.body)
	}
	tok := csrfOf(t, page)
	if r := fin.do("POST", "/staff/payments/"+pay.OrderID+"/refund", url.Values{"csrf": {tok}, "note": {""}}); r.status != 422 {
		t.Fatalf("refund without a reference: %d", r.status)
	}
	if r := fin.do("POST", "/staff/payments/"+pay.OrderID+"/refund", url.Values{"csrf": {tok}, "note": {"退款流水 R20261203"}}); r.status != 303 {
		t.Fatalf("refund: %d %.300s", r.status, r.body)
	}
	if r := fin.do("POST", "/staff/payments/"+pay.OrderID+"/refund", url.Values{"csrf": {tok}, "note": {"again"}}); r.status != 409 {
		t.Fatalf("second refund: %d", r.status)
	}
	p, _ := s.Store.LatestPayment(ctx, a.ID)
	if p.RefundedAt.IsZero() || !strings.HasPrefix(p.RefundNote, "原路退回") || !strings.HasSuffix(p.RefundNote, "退款流水 R20261203") {
		t.Fatalf("refund not recorded: %+v", p)
	}
	// Back the way it came: alipay.trade.refund at the sandbox, once.
	if st, fen, refunded, _ := s.Sandbox.Trade(pay.OrderID); st != "TRADE_SUCCESS" || refunded != fen {
		t.Fatalf("sandbox trade after the refund: %s, %d of %d refunded", st, refunded, fen)
	}
	if page := fin.do("GET", "/staff/finance", nil); !strings.Contains(string(page.body), "已退款") {
		t.Fatal("finance page does not show the refund as done")
	}
}

// TestConsoleShowsUndelivered: an SMS the gateway refuses stays in the
// outbox, retried, and administrators see it with the gateway's reason.
func TestConsoleShowsUndelivered(t *testing.T) {
	gw := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusOK)
		_, _ = io.WriteString(w, `{"Code":"isv.BUSINESS_LIMIT_CONTROL","Message":"触发号码天级流控","RequestId":"r1"}`)
	}))
	defer gw.Close()
	prov := outbox.Router{SMS: &outbox.AliyunSMS{Endpoint: gw.URL, AccessKeyID: "id", AccessKeySecret: "s", SignName: "证书助手",
		Templates: map[string]string{"status": "SMS_1"}}, Fallback: outbox.Log{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}}
	s, err := Start(context.Background(), Config{DataDir: t.TempDir(), Log: slog.New(slog.NewTextHandler(io.Discard, nil)), Provider: prov,
		Service: service.Config{Params: fastParams}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	submitted(applicant(t, s), "undeliv01") // a status SMS
	adm := consoleLogin(t, s, staffAccount(t, s, api.StaffAdmin))
	for i := 0; ; i++ {
		page := adm.do("GET", "/staff/outbox", nil)
		if strings.Contains(string(page.body), "isv.BUSINESS_LIMIT_CONTROL") && strings.Contains(string(page.body), "13800138000") {
			break
		}
		if i > 50 {
			t.Fatalf("the refused SMS is not on the page: %.800s", page.body)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
