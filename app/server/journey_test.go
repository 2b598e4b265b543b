package server

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"certdesk/app/api"
	"certdesk/app/apply"
	"certdesk/app/server/service"
)

// clock is a settable time source for expiry tests.
type clock struct {
	mu  sync.Mutex
	off time.Duration
}

func (c *clock) Now() time.Time      { c.mu.Lock(); defer c.mu.Unlock(); return time.Now().Add(c.off) }
func (c *clock) Add(d time.Duration) { c.mu.Lock(); c.off += d; c.mu.Unlock() }

func startDevServer(t *testing.T, dsn string, clk *clock) *Server {
	t.Helper()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	sc := service.Config{Params: fastParams}
	if clk != nil {
		sc.Now = clk.Now
	}
	s, err := Start(context.Background(), Config{DataDir: t.TempDir(), DSN: dsn, Log: log, Service: sc, DevProviders: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// browser is the tester's phone: it opens the QR addresses.
func browser(t *testing.T, method, u string, form url.Values) string {
	t.Helper()
	var res *http.Response
	var err error
	if method == "GET" {
		res, err = http.Get(u)
	} else {
		res, err = http.PostForm(u, form)
	}
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	if res.StatusCode != 200 {
		t.Fatalf("%s %s: %d %s", method, u, res.StatusCode, b)
	}
	return string(b)
}

func personalForm(username string) apply.Values {
	return apply.Values{apply.FUsername: username, apply.FApplicantName: "李喆", apply.FApplicantIDType: "resident",
		apply.FApplicantID: "11010519491231002X", apply.FApplicantMobile: "13900139000", apply.FApplicantEmail: "li@example.cn",
		apply.FOrgName: "福州示例软件有限公司", apply.FOrgCode: "91350100M000100Y43", apply.FHandlerSame: "true",
		apply.FSecurityQuestion: "您的出生地是?", apply.FSecurityAnswer: "福州",
		apply.FServiceSeal: "true", apply.FServiceSignature: "true", apply.FDelivery: "pickup"}
}

// journey runs one whole application over HTTP and returns it issued.
func journey(t *testing.T, s *Server, c, sc *client, kind apply.Kind, form apply.Values, online bool) (api.Application, *api.CertificateBundle, *ecdsa.PrivateKey) {
	t.Helper()
	doc, seal := scans()
	var a api.Application
	c.ok(c.do("POST", api.PathApplications, api.CreateApplicationRequest{Kind: kind, Agreement: agreement(c)}), &a)
	c.ok(c.do("PATCH", "/applications/"+a.ID, api.UpdateFormRequest{Form: form, Submit: true}), &a)
	var cl api.Checklist
	c.ok(c.do("GET", "/applications/"+a.ID+"/materials", nil), &cl)
	for _, it := range cl.Items {
		switch {
		case !it.Rule.Required || it.Satisfied:
		case it.Rule.SameAs != "":
		case it.Rule.MinDPI == apply.ImprintDPI:
			c.mustUpload(a.ID, it.Rule.Type, seal)
		default:
			c.mustUpload(a.ID, it.Rule.Type, doc)
		}
	}
	if a = c.app(a.ID); a.State != apply.StateMaterialsComplete {
		t.Fatalf("materials: %s", a.State)
	}
	// Identity through the development page, as the phone would.
	var is api.IdentitySession
	c.ok(c.do("POST", "/applications/"+a.ID+"/identity", nil), &is)
	if !strings.HasPrefix(is.VerifyQR, s.URL+"/dev/identity/s/") || is.AppQR == "" || is.Status != "pending" {
		t.Fatalf("identity session: %+v", is)
	}
	page := browser(t, "GET", is.VerifyQR, nil)
	name, id := form[apply.FHandlerName], form[apply.FHandlerID]
	if kind == apply.KindPersonal {
		name, id = form[apply.FApplicantName], form[apply.FApplicantID]
	}
	if !strings.Contains(page, name) {
		t.Fatalf("identity page does not name the person: %s", page)
	}
	browser(t, "POST", is.VerifyQR, url.Values{"result": {"pass"}, "name": {name}, "id_number": {id}})
	c.ok(c.do("GET", "/applications/"+a.ID+"/identity?wait=5", nil), &is)
	if is.Status != "passed" {
		t.Fatalf("identity: %+v", is)
	}
	// Payment.
	var pay api.Payment
	if online {
		c.ok(c.do("POST", "/applications/"+a.ID+"/payment", api.StartPaymentRequest{Method: api.PayOnline}), &pay)
		if pay.QR == "" || pay.Status != "pending" || pay.Quote.TotalFen <= 0 {
			t.Fatalf("online payment: %+v", pay)
		}
		if !strings.Contains(browser(t, "GET", pay.QR, nil), apply.FormatFen(pay.Quote.TotalFen)) {
			t.Fatal("sandbox page lacks the amount")
		}
		browser(t, "POST", pay.QR, nil) // pays; the sandbox sends the signed notify
	} else {
		c.ok(c.do("POST", "/applications/"+a.ID+"/payment", api.StartPaymentRequest{Method: api.PayBankTransfer}), &pay)
		if pay.Bank == nil || pay.Bank.Number == "" || !strings.Contains(pay.Bank.Comment, a.ID[:8]) {
			t.Fatalf("bank details: %+v", pay.Bank)
		}
		c.mustUpload(a.ID, apply.MatPaymentVoucher, doc) // 缴费凭证
		sc.ok(sc.do("POST", "/staff/applications/"+a.ID+"/events", api.EventRequest{Event: apply.EvConfirmPayment, Note: "工行回单 0042"}), nil)
	}
	if a = c.app(a.ID); a.State != apply.StatePaid {
		t.Fatalf("after payment: %s", a.State)
	}
	c.ok(c.do("GET", "/applications/"+a.ID+"/payment", nil), &pay)
	if pay.Status != "paid" {
		t.Fatalf("payment status: %+v", pay)
	}
	sc.ok(sc.do("POST", "/staff/applications/"+a.ID+"/review", api.ReviewRequest{Approve: true}), nil)
	code := codeFromOutbox(t, s, a.ID)
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	var b api.CertificateBundle
	c.ok(c.do("POST", "/applications/"+a.ID+"/certificate", api.DownloadRequest{CSR: makeCSR(t, key, ""), Code: code}), &b)
	return c.app(a.ID), &b, key
}

func verifyChain(t *testing.T, b *api.CertificateBundle) *x509.Certificate {
	t.Helper()
	cert, err := x509.ParseCertificate(b.Certificate)
	if err != nil {
		t.Fatal(err)
	}
	roots, inter := x509.NewCertPool(), x509.NewCertPool()
	issuer, _ := x509.ParseCertificate(b.Chain[0])
	root, _ := x509.ParseCertificate(b.Chain[1])
	roots.AddCert(root)
	inter.AddCert(issuer)
	if _, err := cert.Verify(x509.VerifyOptions{Roots: roots, Intermediates: inter, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}); err != nil {
		t.Fatalf("chain: %v", err)
	}
	return cert
}

func TestJourneys(t *testing.T) {
	s := startDevServer(t, "", nil)
	sc := staff(t, s)
	t.Run("organisation, online payment", func(t *testing.T) {
		c := applicant(t, s)
		a, b, key := journey(t, s, c, sc, apply.KindOrg, orgForm("jorg01"), true)
		cert := verifyChain(t, b)
		if a.State != apply.StateIssued || cert.Subject.CommonName != "福州示例软件有限公司" || cert.KeyUsage&x509.KeyUsageContentCommitment == 0 {
			t.Fatalf("issued: %s %s", a.State, cert.Subject)
		}
		msgs, _ := s.Store.Messages(context.Background(), a.ID, 100)
		invoice := false
		for _, m := range msgs {
			invoice = invoice || (m.Subject == "e-invoice" && m.Recipient == "wang@example.com" && m.Channel == "email")
		}
		if !invoice {
			t.Fatal("no e-invoice email after payment")
		}
		anon := newClient(t, s)
		anon.ok(ukeyLogin(anon, b.Certificate, key), nil)
		sc.ok(sc.do("POST", "/staff/applications/"+a.ID+"/revoke", api.RevokeRequest{Reason: 1}), nil)
		crl, err := x509.ParseRevocationList(anon.do("GET", api.PathCRL, nil).body)
		if err != nil || len(crl.RevokedCertificateEntries) == 0 {
			t.Fatalf("CRL: %v", err)
		}
		anon.wantErr(ukeyLogin(anon, b.Certificate, key), 401, api.CodeBadCredentials)
	})
	t.Run("organisation, bank transfer", func(t *testing.T) {
		c := applicant(t, s)
		a, b, key := journey(t, s, c, sc, apply.KindOrg, orgForm("jorg02"), false)
		verifyChain(t, b)
		if a.State != apply.StateIssued {
			t.Fatalf("state %s", a.State)
		}
		anon := newClient(t, s)
		anon.ok(ukeyLogin(anon, b.Certificate, key), nil)
	})
	t.Run("personal with seal and signature", func(t *testing.T) {
		c := applicant(t, s)
		a, b, _ := journey(t, s, c, sc, apply.KindPersonal, personalForm("jper01"), true)
		cert := verifyChain(t, b)
		if a.State != apply.StateIssued || cert.Subject.CommonName != "李喆" || cert.Subject.Organization[0] != "福州示例软件有限公司" {
			t.Fatalf("personal certificate: %s", cert.Subject)
		}
		// One ID image serves applicant and handler; both imprints are there.
		var types []string
		for _, m := range a.Materials {
			types = append(types, string(m.Type))
		}
		if strings.Join(types, ",") != "authorization,applicant_id,acceptance_form,seal_imprint,signature_imprint" {
			t.Fatalf("materials: %v", types)
		}
	})
}

// Forged and replayed notifies and callbacks change nothing; a lost notify
// is found by the query fallback; a payment after a cancel is flagged.
func TestProviderNegatives(t *testing.T) {
	clk := &clock{}
	s := startDevServer(t, "", clk)
	c := applicant(t, s)
	ctx := context.Background()
	toIdentity := func(username string) api.Application {
		a := submitted(c, username)
		if err := s.Service.SystemStep(ctx, a.ID, apply.EvMaterialsComplete, "test"); err != nil {
			t.Fatal(err)
		}
		return a
	}
	// A forged identity callback: right shape, wrong key.
	a := toIdentity("neg11")
	var is api.IdentitySession
	c.ok(c.do("POST", "/applications/"+a.ID+"/identity", nil), &is)
	sid, err := s.Service.ParseSessionRef(is.VerifyQR[strings.LastIndex(is.VerifyQR, "/")+1:])
	if err != nil {
		t.Fatal(err)
	}
	cb := service.IdentityCallback{CallbackID: "cb-1", SessionID: sid, Result: "pass", Name: "王堃", IDNumber: "11010519491231002X", Timestamp: clk.Now().Unix()}
	body, _ := json.Marshal(cb)
	post := func(body []byte, sig string) int {
		req, _ := http.NewRequest("POST", s.URL+api.Prefix+api.PathIdentityCallback, strings.NewReader(string(body)))
		req.Header.Set(api.HeaderSignature, sig)
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		return res.StatusCode
	}
	if st := post(body, service.SignIdentityCallback([]byte("not the provider key"), body)); st != 403 {
		t.Fatalf("forged callback: %d", st)
	}
	if got := c.app(a.ID); got.State != apply.StateMaterialsComplete {
		t.Fatalf("forged callback moved the application to %s", got.State)
	}
	// A signed callback for someone else fails the check; its replay is ignored.
	wrong := cb
	wrong.CallbackID, wrong.Name = "cb-2", "张三"
	wb, _ := json.Marshal(wrong)
	sig := service.SignIdentityCallback(s.Service.IdentityProviderKey(), wb)
	if st := post(wb, sig); st != 204 {
		t.Fatalf("mismatch callback: %d", st)
	}
	post(wb, sig) // replay
	c.ok(c.do("GET", "/applications/"+a.ID+"/identity", nil), &is)
	if is.Status != "pending" || is.Attempts != 1 || !strings.Contains(is.Reason, "不符") {
		t.Fatalf("after a mismatch and its replay: %+v", is)
	}
	// A stale timestamp is refused.
	old := cb
	old.CallbackID, old.Timestamp = "cb-3", clk.Now().Add(-time.Hour).Unix()
	ob, _ := json.Marshal(old)
	if st := post(ob, service.SignIdentityCallback(s.Service.IdentityProviderKey(), ob)); st != 403 {
		t.Fatalf("stale callback: %d", st)
	}

	// Payment: forged notify, replayed notify, lost notify.
	if err := s.Service.SystemStep(ctx, a.ID, apply.EvIdentityVerified, "test"); err != nil {
		t.Fatal(err)
	}
	var pay api.Payment
	c.ok(c.do("POST", "/applications/"+a.ID+"/payment", api.StartPaymentRequest{Method: api.PayOnline}), &pay)
	if err := s.Sandbox.Pay(ctx, pay.OrderID, false); err != nil { // paid, but the notify is lost
		t.Fatal(err)
	}
	params, _ := s.Sandbox.NotifyParams(pay.OrderID)
	forged := url.Values{}
	for k, v := range params {
		forged[k] = v
	}
	forged.Set("total_amount", "0.01")
	notify := func(p url.Values) string {
		res, err := http.PostForm(s.URL+api.Prefix+api.PathPayNotify, p)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		return strings.TrimSpace(string(b))
	}
	if r := notify(forged); r != "fail" {
		t.Fatalf("forged notify answered %q", r)
	}
	if got := c.app(a.ID); got.State != apply.StatePaymentPending {
		t.Fatalf("forged notify moved the application to %s", got.State)
	}
	// The lost notify is found by the query fallback once it is late.
	clk.Add(10 * time.Second)
	c.ok(c.do("GET", "/applications/"+a.ID+"/payment", nil), &pay)
	if pay.Status != "paid" || c.app(a.ID).State != apply.StatePaid {
		t.Fatalf("query fallback: %+v", pay)
	}
	// The real notify arriving late, twice, changes nothing.
	if r := notify(params); r != "success" {
		t.Fatalf("late notify answered %q", r)
	}
	notify(params)
	got := c.app(a.ID)
	n := 0
	for _, h := range got.History {
		if h.Event == apply.EvConfirmPayment {
			n++
		}
	}
	if n != 1 {
		t.Fatalf("payment confirmed %d times", n)
	}

	// A payment after a cancel is recorded and flagged for refund.
	b := toIdentity("neg12")
	s.Service.SystemStep(ctx, b.ID, apply.EvIdentityVerified, "test")
	c.ok(c.do("POST", "/applications/"+b.ID+"/payment", api.StartPaymentRequest{Method: api.PayOnline}), &pay)
	s.Sandbox.Pay(ctx, pay.OrderID, false)                // the buyer pays just as...
	c.ok(c.do("DELETE", "/applications/"+b.ID, nil), nil) // ...the applicant cancels
	late, _ := s.Sandbox.NotifyParams(pay.OrderID)
	if r := notify(late); r != "success" {
		t.Fatalf("notify after cancel answered %q", r)
	}
	if got := c.app(b.ID); got.State != apply.StateCancelled {
		t.Fatalf("cancelled application moved to %s", got.State)
	}
	p2, _ := s.Store.LatestPayment(ctx, b.ID)
	if p2.Status != "paid" || !p2.RefundNeeded {
		t.Fatalf("payment after cancel: %+v", p2)
	}

	// An unpaid online order times out and is closed.
	d := toIdentity("neg13")
	s.Service.SystemStep(ctx, d.ID, apply.EvIdentityVerified, "test")
	c.ok(c.do("POST", "/applications/"+d.ID+"/payment", api.StartPaymentRequest{Method: api.PayOnline}), &pay)
	clk.Add(service.PaymentTTL + time.Minute)
	c.ok(c.do("GET", "/applications/"+d.ID+"/payment", nil), &pay)
	if pay.Status != "closed" {
		t.Fatalf("timed-out order: %+v", pay)
	}
	if st, _, _, _ := s.Sandbox.Trade(pay.OrderID); st != "TRADE_CLOSED" {
		t.Fatalf("order not closed at the provider: %s", st)
	}

	// An expired nonce cannot log in.
	var nonce api.Nonce
	c.ok(c.do("POST", api.PathLoginNonce, nil), &nonce)
	clk.Add(service.NonceTTL + time.Second)
	c.wantErr(c.do("POST", api.PathUKEYLogin, api.UKEYLoginRequest{Nonce: nonce.Nonce, Certificate: []byte{1}, Signature: []byte{1}}), 401, api.CodeBadCredentials)
}

// 更新 and 补办: renewal needs the certificate's UKEY login and the answer,
// and revokes the old certificate when the new one is issued; replacement
// after a loss needs only the answer and revokes at once.
func TestRenewalAndReplacement(t *testing.T) {
	clk := &clock{}
	s := startDevServer(t, "", clk)
	c, sc := applicant(t, s), staff(t, s)
	a, b, key := journey(t, s, c, sc, apply.KindOrg, orgForm("renew01"), true)
	oldCert := verifyChain(t, b)
	// Not yet: renewal opens 90 days before the end.
	early := newClient(t, s)
	var es api.Session
	early.ok(ukeyLogin(early, b.Certificate, key), &es)
	early.token = es.Token
	early.wantErr(early.do("POST", "/applications/"+a.ID+"/renew", api.RenewRequest{SecurityAnswer: "福州"}), 409, api.CodeStateNotAllowed)
	clk.Add(300 * 24 * time.Hour)
	c, sc = relogin(t, s, c), relogin(t, s, sc)

	// A password session cannot renew; a wrong answer is refused.
	c.wantErr(c.do("POST", "/applications/"+a.ID+"/renew", api.RenewRequest{SecurityAnswer: "福州"}), 403, api.CodeForbidden)
	uk := newClient(t, s)
	var sess api.Session
	uk.ok(ukeyLogin(uk, b.Certificate, key), &sess)
	uk.token = sess.Token
	e := uk.wantErr(uk.do("POST", "/applications/"+a.ID+"/renew", api.RenewRequest{SecurityAnswer: "厦门"}), 401, api.CodeBadCredentials)
	if len(e.Fields) != 1 || e.Fields[0].Field != apply.FSecurityAnswer {
		t.Fatalf("wrong answer: %+v", e)
	}
	var n api.Application
	uk.ok(uk.do("POST", "/applications/"+a.ID+"/renew", api.RenewRequest{SecurityAnswer: "  福州 "}), &n)
	if n.State != apply.StateIdentityVerified || n.Form[apply.FOrgCode] != "91350100M000100Y43" || n.Form[apply.FUsername] != "renew01" || !strings.Contains(n.History[0].Note, "renewal of "+a.ID) {
		t.Fatalf("renewal: %+v", n)
	}
	// The renewal fee, not a new certificate's (no UKEY, no postage).
	if len(n.Fee.Items) != 2 || n.Fee.TotalFen != 20000+20000 || !strings.Contains(n.Fee.Items[0].Label.ZH, "更新") {
		t.Fatalf("renewal fee: %+v", n.Fee)
	}
	// Its data cannot change: it is approved without review.
	changed := orgForm("renew01")
	changed[apply.FOrgName] = "福州另一家软件有限公司"
	c.wantErr(c.do("PATCH", "/applications/"+n.ID, api.UpdateFormRequest{Form: changed}), 409, api.CodeStateNotAllowed)
	if got := c.app(n.ID); got.Form[apply.FOrgName] != "福州示例软件有限公司" || got.State != apply.StateIdentityVerified {
		t.Fatalf("a renewal's form changed: %s, %s", got.Form[apply.FOrgName], got.State)
	}
	// A second renewal while one is under way is refused (the username
	// went over to the first).
	uk.wantErr(uk.do("POST", "/applications/"+a.ID+"/renew", api.RenewRequest{SecurityAnswer: "福州"}), 409, api.CodeStateNotAllowed)
	// The old certificate still works until the new one is issued.
	anon := newClient(t, s)
	anon.ok(ukeyLogin(anon, b.Certificate, key), nil)
	// Paid (a transfer confirmed by staff): approved by the system, the
	// download code sent; no new materials, face check or review.
	sc.ok(sc.do("POST", "/staff/applications/"+n.ID+"/events", api.EventRequest{Event: apply.EvConfirmPayment}), nil)
	if got := c.app(n.ID); got.State != apply.StateApproved {
		t.Fatalf("paid renewal: %s", got.State)
	}
	key2, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	var nb api.CertificateBundle
	c.ok(c.do("POST", "/applications/"+n.ID+"/certificate", api.DownloadRequest{CSR: makeCSR(t, key2, ""), Code: codeFromOutbox(t, s, n.ID)}), &nb)
	if got := c.app(a.ID); got.State != apply.StateRevoked {
		t.Fatalf("renewed application: %s", got.State)
	}
	crl, _ := x509.ParseRevocationList(anon.do("GET", api.PathCRL, nil).body)
	found := false
	for _, r := range crl.RevokedCertificateEntries {
		found = found || (r.SerialNumber.Cmp(oldCert.SerialNumber) == 0 && r.ReasonCode == service.ReasonSuperseded)
	}
	if !found {
		t.Fatal("the superseded certificate is not on the CRL")
	}
	anon.wantErr(ukeyLogin(anon, b.Certificate, key), 401, api.CodeBadCredentials)
	anon.ok(ukeyLogin(anon, nb.Certificate, key2), nil)

	// 补办: the UKEY is lost; a password login and the answer revoke it at once.
	var r api.Application
	c.ok(c.do("POST", "/applications/"+n.ID+"/replace", api.RenewRequest{SecurityAnswer: "福州"}), &r)
	if got := c.app(n.ID); got.State != apply.StateRevoked {
		t.Fatalf("replaced application: %s", got.State)
	}
	anon.wantErr(ukeyLogin(anon, nb.Certificate, key2), 401, api.CodeBadCredentials)
	if r.State != apply.StateDraft || !strings.Contains(r.History[0].Note, "UKEY lost") {
		t.Fatalf("replacement draft: %+v", r.History)
	}
	checkRevocationInvariant(t, s, anon) // the holder's routes revoke for real too
}
