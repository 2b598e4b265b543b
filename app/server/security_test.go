package server

// The hostile review's findings (issue 14), each as the attacker or the CA
// auditor would try it: over HTTP, against a real server.

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"math/big"
	"net/http"
	"net/url"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"certdesk/app/api"
	"certdesk/app/apply"
	"certdesk/app/material"
	"certdesk/app/material/testimg"
	"certdesk/app/server/store"
)

// issued drives an application to a certificate on a (software) key.
func issued(t *testing.T, s *Server, c, sc *client, username string) (api.Application, *api.CertificateBundle, *ecdsa.PrivateKey) {
	t.Helper()
	a := approved(t, s, c, sc, username)
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	var b api.CertificateBundle
	c.ok(c.do("POST", "/applications/"+a.ID+"/certificate", api.DownloadRequest{CSR: makeCSR(t, key, ""), Code: codeFromOutbox(t, s, a.ID)}), &b)
	return c.app(a.ID), &b, key
}

func fetchCRL(t *testing.T, c *client) (*x509.RevocationList, []byte) {
	t.Helper()
	r := c.do("GET", api.PathCRL, nil)
	if r.status != 200 {
		t.Fatalf("CRL: %d %s", r.status, r.body)
	}
	crl, err := x509.ParseRevocationList(r.body)
	if err != nil {
		t.Fatalf("parse CRL: %v", err)
	}
	return crl, r.body
}

func onCRL(crl *x509.RevocationList, serial string) bool {
	sn, _ := new(big.Int).SetString(serial, 16)
	for _, e := range crl.RevokedCertificateEntries {
		if e.SerialNumber.Cmp(sn) == 0 {
			return true
		}
	}
	return false
}

// checkRevocationInvariant: no application says revoked while one of its
// certificates is missing from the CRL.
func checkRevocationInvariant(t *testing.T, s *Server, anon *client) {
	t.Helper()
	ctx := context.Background()
	crl, _ := fetchCRL(t, anon)
	as, err := s.Store.Applications(ctx, "", apply.StateRevoked)
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range as {
		cert, err := s.Store.CertificateOf(ctx, a.ID)
		if err != nil {
			continue // revoked before issuance: nothing to list
		}
		if cert.RevokedAt.IsZero() || !onCRL(crl, cert.Serial) {
			t.Fatalf("application %s is revoked but its certificate %s is not on the CRL", a.ID, cert.Serial)
		}
	}
}

// 1. Revocation without revoking: every event by every actor through the
// generic event routes leaves the invariant standing; only the revocation
// call revokes, and then the CRL lists the serial and UKEY login fails.
func TestRevocationOnlyThroughRevoke(t *testing.T) {
	s := startServer(t, "")
	c, sc, anon := applicant(t, s), staff(t, s), newClient(t, s)
	a, b, key := issued(t, s, c, sc, "rev01")
	cert, _ := x509.ParseCertificate(b.Certificate)
	var ukeySess api.Session
	anon.ok(ukeyLogin(anon, b.Certificate, key), &ukeySess)

	routes := []struct {
		who  *client
		path string
	}{
		{c, "/applications/" + a.ID + "/events"},
		{sc, "/applications/" + a.ID + "/events"},
		{sc, "/staff/applications/" + a.ID + "/events"},
	}
	for _, rt := range routes {
		for _, tr := range apply.Transitions() {
			r := rt.who.do("POST", rt.path, api.EventRequest{Event: tr.Event, Note: "probe"})
			if r.status/100 == 2 && tr.Event == apply.EvRevoke {
				t.Errorf("%s accepted a bare revoke event", rt.path)
			}
			checkRevocationInvariant(t, s, anon)
		}
	}
	if st := c.app(a.ID).State; st != apply.StateIssued {
		t.Fatalf("after the probes the application is %s, want issued", st)
	}
	// Staff text reaches the applicant's history and SMS: checked too; and
	// only an end-entity revocation's reasons.
	sc.wantErr(sc.do("POST", "/staff/applications/"+a.ID+"/revoke", api.RevokeRequest{Reason: 1, Note: "UKEY\u202elost"}), 422, api.CodeValidation)
	sc.wantErr(sc.do("POST", "/staff/applications/"+a.ID+"/revoke", api.RevokeRequest{Reason: 2, Note: "CA compromise"}), 422, api.CodeValidation)
	// The real revocation still works afterwards.
	sc.ok(sc.do("POST", "/staff/applications/"+a.ID+"/revoke", api.RevokeRequest{Reason: 1, Note: "UKEY lost"}), nil)
	crl, _ := fetchCRL(t, anon)
	if !onCRL(crl, cert.SerialNumber.Text(16)) {
		t.Fatal("revoked certificate not on the CRL")
	}
	anon.wantErr(ukeyLogin(anon, b.Certificate, key), 401, api.CodeBadCredentials)
	// A session opened with the certificate before it was revoked ends.
	old := newClient(t, s)
	old.token = ukeySess.Token
	old.wantErr(old.do("GET", api.PathMe, nil), 401, api.CodeUnauthenticated)
	checkRevocationInvariant(t, s, anon)

	// Revoking before download: the approved application's code dies with it.
	a2 := approved(t, s, c, sc, "rev02")
	sc.ok(sc.do("POST", "/staff/applications/"+a2.ID+"/revoke", api.RevokeRequest{Reason: 0, Note: "withdrawn"}), nil)
	key2, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	r := c.do("POST", "/applications/"+a2.ID+"/certificate", api.DownloadRequest{CSR: makeCSR(t, key2, ""), Code: codeFromOutbox(t, s, a2.ID)})
	if r.status/100 == 2 {
		t.Fatal("a revoked application's download code still issues a certificate")
	}
	checkRevocationInvariant(t, s, anon)
}

// 2. One trade pays two orders: an organisation name that carries a
// separator must not let one signed notify be re-split into another
// order's; one trade_no is recorded on one payment only.
func TestOneTradePaysOneOrder(t *testing.T) {
	s := startDevServer(t, "", nil)
	c := applicant(t, s)
	ctx := context.Background()
	toIdentityVerified := func(username, orgName string) api.Application {
		var a api.Application
		f := orgForm(username)
		f[apply.FOrgName] = orgName
		c.ok(c.do("POST", api.PathApplications, api.CreateApplicationRequest{Kind: apply.KindOrg, Agreement: agreement(c)}), &a)
		c.ok(c.do("PATCH", "/applications/"+a.ID, api.UpdateFormRequest{Form: f, Submit: true}), &a)
		for _, ev := range []apply.Event{apply.EvMaterialsComplete, apply.EvIdentityVerified} {
			if err := s.Service.SystemStep(ctx, a.ID, ev, "test"); err != nil {
				t.Fatal(err)
			}
		}
		return a
	}
	victim := toIdentityVerified("pay01", "福州示例软件有限公司")
	var pb api.Payment
	c.ok(c.do("POST", "/applications/"+victim.ID+"/payment", api.StartPaymentRequest{Method: api.PayOnline}), &pb)
	attacker := toIdentityVerified("pay02", "福州示例软件有限公司&out_trade_no="+pb.OrderID)
	var pa api.Payment
	c.ok(c.do("POST", "/applications/"+attacker.ID+"/payment", api.StartPaymentRequest{Method: api.PayOnline}), &pa)
	if pa.Quote.TotalFen != pb.Quote.TotalFen {
		t.Fatalf("fees differ: %d vs %d", pa.Quote.TotalFen, pb.Quote.TotalFen)
	}
	if err := s.Sandbox.Pay(ctx, pa.OrderID, false); err != nil {
		t.Fatal(err)
	}
	genuine, err := s.Sandbox.NotifyParams(pa.OrderID)
	if err != nil {
		t.Fatal(err)
	}
	notify := func(p url.Values) int {
		res, err := http.PostForm(s.URL+api.Prefix+api.PathPayNotify, p)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		return res.StatusCode
	}
	// Re-split: move "&out_trade_no=A&subject=…" into the value before it.
	forged := url.Values{}
	for k, v := range genuine {
		forged[k] = append([]string(nil), v...)
	}
	subj, _, _ := strings.Cut(genuine.Get("subject"), "&out_trade_no=")
	forged.Set("notify_type", genuine.Get("notify_type")+"&out_trade_no="+pa.OrderID+"&subject="+subj)
	forged.Del("subject")
	forged.Set("out_trade_no", pb.OrderID)
	notify(forged)
	if st := c.app(victim.ID).State; st == apply.StatePaid {
		t.Fatal("a notify for another order, re-split from a genuine one, paid the victim's application")
	}
	if code := notify(genuine); code != 200 {
		t.Fatalf("genuine notify: %d", code)
	}
	if st := c.app(attacker.ID).State; st != apply.StatePaid {
		t.Fatalf("attacker's paid order: %s", st)
	}
	// The provider signing a notify for the victim's order with the trade
	// number already recorded (a provider bug or a replay across orders).
	dup := url.Values{}
	for k, v := range genuine {
		dup[k] = append([]string(nil), v...)
	}
	dup.Set("out_trade_no", pb.OrderID)
	dup.Set("notify_id", "dup-1")
	if err := s.Sandbox.SignNotify(dup); err != nil {
		t.Fatal(err)
	}
	notify(dup)
	if st := c.app(victim.ID).State; st == apply.StatePaid {
		t.Fatal("one trade_no paid two orders")
	}
}

// 3. Text that reaches a certificate, a PDF or a console: format
// characters (bidi overrides, zero-width), private use, surrogates'
// stand-ins and unassigned code points are refused in every text field,
// beside the field, in drafts as in submissions.
func TestInvisibleCharactersRefusedInEveryField(t *testing.T) {
	s := startServer(t, "")
	c := applicant(t, s)
	forms := map[apply.Kind]apply.Values{apply.KindOrg: orgForm("inv01"), apply.KindPersonal: personalForm("inv02")}
	forms[apply.KindOrg][apply.FDelivery] = "mail"
	for k, f := range forms {
		f[apply.FDelivery] = "mail"
		f[apply.FMailRecipient], f[apply.FMailPhone], f[apply.FMailAddress], f[apply.FMailPostcode] = "王堃", "13800138000", "福建省福州市鼓楼区五四路 100 号", "350001"
		if k == apply.KindPersonal {
			f[apply.FHandlerSame] = ""
			f[apply.FHandlerName], f[apply.FHandlerIDType], f[apply.FHandlerID], f[apply.FHandlerMobile], f[apply.FHandlerEmail] = "王堃", "resident", "11010519491231002X", "13800138000", "wang@example.com"
		}
		if _, fes := apply.Validate(k, f, time.Now()); len(fes) > 0 {
			t.Fatalf("%s base form invalid: %v", k, fes)
		}
		var a api.Application
		c.ok(c.do("POST", api.PathApplications, api.CreateApplicationRequest{Kind: k, Agreement: agreement(c)}), &a)
		for _, fd := range apply.Schema(k) {
			if fd.Type != apply.TypeText && fd.Type != apply.TypeSecret {
				continue
			}
			for _, bad := range []rune{0x202E, 0x200B, 0x2066, 0xE000, 0x0378, 0x2028} {
				for _, submit := range []bool{false, true} {
					g := apply.Values{}
					for key, v := range f {
						g[key] = v
					}
					rs := []rune(g[fd.Key])
					g[fd.Key] = string(rs[:1]) + string(bad) + string(rs[1:])
					r := c.do("PATCH", "/applications/"+a.ID, api.UpdateFormRequest{Form: g, Submit: submit})
					e := r.err()
					if r.status != 422 || e == nil {
						t.Errorf("%s %s with U+%04X (submit %v): %d %s", k, fd.Key, bad, submit, r.status, r.body)
						continue
					}
					found := false
					for _, fe := range e.Fields {
						if fe.Field == fd.Key && fe.Code == string(apply.CodeInvisible) && strings.Contains(fe.MessageZH, fmt.Sprintf("U+%04X", bad)) && fe.MessageEN != "" {
							found = true
						}
					}
					if !found {
						t.Errorf("%s %s with U+%04X: no invisible-character error beside the field: %s", k, fd.Key, bad, r.body)
					}
				}
			}
		}
	}
}

// 4. Throttles count an attempt before the expensive check: 20 wrong
// passwords and 20 wrong download codes at once get at most 5
// evaluations each, and the right answer afterwards waits.
func TestThrottlesHoldUnderConcurrency(t *testing.T) {
	for name, dsn := range engines(t) {
		t.Run(name, func(t *testing.T) {
			s := startServer(t, dsn)
			c, sc := applicant(t, s), staff(t, s)
			a := approved(t, s, c, sc, "thr01")
			code := codeFromOutbox(t, s, a.ID)
			var me api.Account
			c.ok(c.do("GET", api.PathMe, nil), &me)

			before := s.Service.Stats()
			var wg sync.WaitGroup
			for i := 0; i < 20; i++ {
				wg.Add(1)
				go func() {
					defer wg.Done()
					rawDo(newClient(t, s), "POST", api.PathLogin, api.LoginRequest{Login: me.Mobile, Password: "Wr0ng!pass"})
				}()
			}
			wg.Wait()
			if n := s.Service.Stats().PasswordChecks - before.PasswordChecks; n > 5 {
				t.Errorf("20 concurrent wrong passwords: %d evaluated, want ≤ 5", n)
			}
			anon := newClient(t, s)
			anon.wantErr(anon.do("POST", api.PathLogin, api.LoginRequest{Login: me.Mobile, Password: "Zh3ngShu!2026"}), 429, api.CodeRateLimited)

			key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
			csr := makeCSR(t, key, "")
			before = s.Service.Stats()
			var mu sync.Mutex
			outcomes := map[string]int{}
			for i := 0; i < 20; i++ {
				wg.Add(1)
				go func() {
					defer wg.Done()
					r, err := rawDo(c, "POST", "/applications/"+a.ID+"/certificate", api.DownloadRequest{CSR: csr, Code: fmt.Sprintf("%08d", i)})
					o := fmt.Sprint(err)
					if err == nil {
						o = fmt.Sprint(r.status)
						if e := r.err(); e != nil {
							o += " " + string(e.Code)
						}
					}
					mu.Lock()
					outcomes[o]++
					mu.Unlock()
				}()
			}
			wg.Wait()
			// Exactly five are compared: a guess is refused as busy only
			// while five are stored or in flight, never counted twice.
			for o := range outcomes {
				if o != "412 download_code_invalid" && o != "429 rate_limited" && o != "403 download_code_locked" {
					t.Errorf("20 concurrent wrong codes: %v; want only 412 invalid, 429 busy, 403 locked", outcomes)
					break
				}
			}
			if n := s.Service.Stats().CodeChecks - before.CodeChecks; n != 5 || outcomes["412 download_code_invalid"] != 5 {
				t.Errorf("20 concurrent wrong download codes: %d evaluated, outcomes %v; want exactly 5 compared and answered 412", n, outcomes)
			}
			if code < "00000020" {
				return // the right code was among the guesses (1 in 5 million)
			}
			c.wantErr(c.do("POST", "/applications/"+a.ID+"/certificate", api.DownloadRequest{CSR: csr, Code: code}), 403, api.CodeCodeLocked)
		})
	}
}

// 5. Registration of an existing login is an "is this mobile registered"
// oracle: it is throttled per address.
func TestRegistrationThrottled(t *testing.T) {
	s := startServer(t, "")
	c := newClient(t, s)
	c.ok(c.do("POST", api.PathRegister, api.RegisterRequest{Mobile: "13900139001", Password: "Zh3ngShu!2026"}), nil)
	conflicts, limited := 0, 0
	for i := 0; i < 40; i++ {
		r := c.do("POST", api.PathRegister, api.RegisterRequest{Mobile: "13900139001", Password: "Zh3ngShu!2026"})
		switch r.status {
		case 409:
			conflicts++
		case 429:
			limited++
			if r.header.Get("Retry-After") == "" {
				t.Fatal("429 without Retry-After")
			}
		default:
			t.Fatalf("registration %d: %d %s", i, r.status, r.body)
		}
	}
	if conflicts > 10 || limited == 0 {
		t.Fatalf("40 registrations of an existing login: %d answered 409, %d throttled", conflicts, limited)
	}
}

// 6. The CRL number is stored and increases with every new CRL; a CRL is
// made anew only when revocations change (or it nears its next update),
// and served from a cache otherwise.
func TestCRLNumberIncreases(t *testing.T) {
	dir := t.TempDir()
	s := startServerIn(t, dir)
	c, sc, anon := applicant(t, s), staff(t, s), newClient(t, s)
	a1, b1, _ := issued(t, s, c, sc, "crl01")
	a2, b2, _ := issued(t, s, c, sc, "crl02")
	crl0, der0 := fetchCRL(t, anon)
	if _, again := fetchCRL(t, anon); !bytes.Equal(again, der0) {
		t.Fatal("two fetches without a revocation between them returned different CRLs (signed anew per request)")
	}
	sc.ok(sc.do("POST", "/staff/applications/"+a1.ID+"/revoke", api.RevokeRequest{Reason: 1}), nil)
	crl1, _ := fetchCRL(t, anon)
	sc.ok(sc.do("POST", "/staff/applications/"+a2.ID+"/revoke", api.RevokeRequest{Reason: 1}), nil)
	crl2, _ := fetchCRL(t, anon) // within the same second as crl1, most likely
	c1, _ := x509.ParseCertificate(b1.Certificate)
	c2, _ := x509.ParseCertificate(b2.Certificate)
	if onCRL(crl0, c1.SerialNumber.Text(16)) || !onCRL(crl1, c1.SerialNumber.Text(16)) || onCRL(crl1, c2.SerialNumber.Text(16)) || !onCRL(crl2, c2.SerialNumber.Text(16)) {
		t.Fatal("CRL contents do not follow the revocations")
	}
	if !(crl0.Number.Cmp(crl1.Number) < 0 && crl1.Number.Cmp(crl2.Number) < 0) {
		t.Fatalf("CRL numbers %v, %v, %v: must strictly increase", crl0.Number, crl1.Number, crl2.Number)
	}
	// After a restart the number goes on from where it was.
	s.Close()
	s = startServerIn(t, dir)
	anon = newClient(t, s)
	crl3, _ := fetchCRL(t, anon)
	if crl3.Number.Cmp(crl2.Number) < 0 || !onCRL(crl3, c2.SerialNumber.Text(16)) {
		t.Fatalf("after restart: number %v (was %v)", crl3.Number, crl2.Number)
	}
}

// 7a. Unauthenticated nonce creation is limited per address.
func TestNonceCreationLimited(t *testing.T) {
	s := startServer(t, "")
	c := newClient(t, s)
	made, limited := 0, 0
	for i := 0; i < 400; i++ {
		r := c.do("POST", api.PathLoginNonce, nil)
		switch r.status {
		case 201:
			made++
		case 429:
			limited++
		default:
			t.Fatalf("nonce %d: %d %s", i, r.status, r.body)
		}
	}
	if made > 60 || limited == 0 {
		t.Fatalf("400 nonce requests from one address: %d made, %d refused", made, limited)
	}
}

// 7b. A JPEG with a ZIP appended after its end-of-image marker is not
// stored: the check names the extra bytes, and the repair cuts them.
func TestBytesAfterEOIRefused(t *testing.T) {
	dir := t.TempDir()
	s := startServerIn(t, dir)
	c := applicant(t, s)
	a := submitted(c, "eoi01")
	doc := testimg.JPEG(testimg.Scan(827, 1169, 1), 85, 100)
	zip := append([]byte("PK\x03\x04"), bytes.Repeat([]byte("secret payload "), 200)...)
	polyglot := append(append([]byte(nil), doc...), zip...)
	e := c.wantErr(c.upload(a.ID, apply.MatOrgLicense, polyglot), 422, api.CodeMaterialInvalid)
	if len(e.Fields) == 0 || e.Fields[0].Code != material.PTrailing {
		t.Fatalf("want %s: %+v", material.PTrailing, e.Fields)
	}
	// A refused file leaves nothing behind: no blob that no material
	// names, no part.
	if n := filesUnder(t, filepath.Join(dir, "files")); n != 0 {
		t.Fatalf("%d files stored after a refused upload", n)
	}
	rule, _ := apply.RuleFor(apply.KindOrg, apply.Options{Seal: true}, false, apply.MatOrgLicense)
	fixed, _, err := material.Repair(polyglot, rule)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(fixed, []byte("secret payload")) {
		t.Fatal("repair kept the appended data")
	}
	m := c.mustUpload(a.ID, apply.MatOrgLicense, fixed)
	if n := filesUnder(t, filepath.Join(dir, "files")); n != 1 {
		t.Fatalf("%d files stored for one accepted material", n)
	}
	r := c.do("GET", "/applications/"+a.ID+"/materials/"+m.ID+"/data", nil)
	if r.status != 200 || bytes.Contains(r.body, []byte("PK\x03\x04")) {
		t.Fatalf("served material: %d, %d bytes", r.status, len(r.body))
	}
}

// filesUnder counts the regular files below dir.
func filesUnder(t *testing.T, dir string) int {
	t.Helper()
	n := 0
	err := filepath.WalkDir(dir, func(_ string, d fs.DirEntry, err error) error {
		if err == nil && d.Type().IsRegular() {
			n++
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// startServerIn starts a server on a data directory a test keeps, to
// start it again on the same data.
func startServerIn(t *testing.T, dir string) *Server {
	t.Helper()
	s, err := Start(context.Background(), Config{DataDir: dir, Log: slog.New(slog.NewTextHandler(io.Discard, nil)), Service: serviceConfig{Params: fastParams}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// Staff log in with the password and the authenticator's code: neither
// alone opens a session, a code works once, a wrong code answers exactly
// as a wrong password does (else it would confirm a guessed password),
// and both count against the login's throttle.
func TestStaffLoginNeedsTOTP(t *testing.T) {
	clk := &clock{}
	s := startDevServer(t, "", clk)
	_, url, err := s.Service.CreateStaff(context.Background(), api.RegisterRequest{Email: "rev@ca.example.cn", Password: "Sh3nHe!2026"}, []api.StaffRole{api.StaffReviewer})
	if err != nil || !strings.HasPrefix(url, "otpauth://totp/") {
		t.Fatalf("enrolment %q: %v", url, err)
	}
	secret := totpSecret(t, url)
	c := newClient(t, s)
	login := func(pw, code string) resp {
		return c.do("POST", api.PathLogin, api.LoginRequest{Login: "rev@ca.example.cn", Password: pw, TOTP: code})
	}
	wrongPW := login("Wr0ng!pass", totpCode(t, secret, clk.Now()))
	if wrongPW.status != 401 {
		t.Fatalf("wrong password: %d", wrongPW.status)
	}
	for name, r := range map[string]resp{
		"no code":    login("Sh3nHe!2026", ""),
		"wrong code": login("Sh3nHe!2026", "000000"),
		"old code":   login("Sh3nHe!2026", totpCode(t, secret, clk.Now().Add(-5*time.Minute))),
	} {
		if r.status != 401 || string(r.body) != string(wrongPW.body) {
			t.Fatalf("%s: %d %s, want the wrong password's answer %s", name, r.status, r.body, wrongPW.body)
		}
	}
	code := totpCode(t, secret, clk.Now())
	var sess api.Session
	c.ok(login("Sh3nHe!2026", code), &sess)
	if sess.Account.Role != api.RoleStaff {
		t.Fatalf("session %+v", sess)
	}
	if r := login("Sh3nHe!2026", code); r.status != 401 {
		t.Fatalf("the same code twice: %d", r.status)
	}
	clk.Add(30 * time.Second)
	c.ok(login("Sh3nHe!2026", totpCode(t, secret, clk.Now())), nil)
	// A new enrolment: the old secret stops working.
	acc, _ := s.Store.AccountByLogin(context.Background(), "rev@ca.example.cn")
	url2, err := s.Service.EnrolTOTP(context.Background(), acc.ID)
	if err != nil {
		t.Fatal(err)
	}
	clk.Add(30 * time.Second)
	if r := login("Sh3nHe!2026", totpCode(t, secret, clk.Now())); r.status != 401 {
		t.Fatalf("the replaced secret: %d", r.status)
	}
	c.ok(login("Sh3nHe!2026", totpCode(t, totpSecret(t, url2), clk.Now())), nil)
	// Wrong codes with the right password lock the login like wrong passwords.
	for i := 0; i < 5; i++ {
		login("Sh3nHe!2026", "000000")
	}
	// (the next step's code, which the clock's skew allows: a fresh one)
	c.wantErr(login("Sh3nHe!2026", totpCode(t, totpSecret(t, url2), clk.Now().Add(30*time.Second))), 429, api.CodeRateLimited)
}

// Staff duties are separate: a reviewer cannot confirm money, finance
// cannot approve or revoke, neither handles UKEY unlocks, and a staff
// member made with one duty is refused the others over HTTP.
func TestStaffRolesSeparateDuties(t *testing.T) {
	s := startServer(t, "")
	ctx := context.Background()
	member := func(email string, roles ...api.StaffRole) *client {
		_, url, err := s.Service.CreateStaff(ctx, api.RegisterRequest{Email: email, Password: "Sh3nHe!2026"}, roles)
		if err != nil {
			t.Fatal(err)
		}
		c := newClient(t, s)
		c.login, c.password, c.totp = email, "Sh3nHe!2026", totpSecret(t, url)
		return relogin(t, s, c)
	}
	reviewer, finance, admin := member("r@ca.example.cn", api.StaffReviewer), member("f@ca.example.cn", api.StaffFinance), member("a@ca.example.cn", api.StaffAdmin)
	if _, _, err := s.Service.CreateStaff(ctx, api.RegisterRequest{Email: "none@ca.example.cn", Password: "Sh3nHe!2026"}, nil); err == nil {
		t.Fatal("a staff account with no duty was made")
	}
	c := applicant(t, s)
	a := submitted(c, "roles01")
	for _, ev := range []apply.Event{apply.EvMaterialsComplete, apply.EvIdentityVerified} {
		if err := s.Service.SystemStep(ctx, a.ID, ev, "test"); err != nil {
			t.Fatal(err)
		}
	}
	confirm := api.EventRequest{Event: apply.EvConfirmPayment, Note: "工行回单 0042"}
	for _, who := range []*client{reviewer, admin} {
		who.wantErr(who.do("POST", "/staff/applications/"+a.ID+"/events", confirm), 403, api.CodeForbidden)
	}
	finance.ok(finance.do("POST", "/staff/applications/"+a.ID+"/events", confirm), nil)
	for _, who := range []*client{finance, admin} {
		who.wantErr(who.do("POST", "/staff/applications/"+a.ID+"/review", api.ReviewRequest{Approve: true}), 403, api.CodeForbidden)
	}
	reviewer.ok(reviewer.do("POST", "/staff/applications/"+a.ID+"/review", api.ReviewRequest{Approve: true}), nil)
	for _, who := range []*client{finance, admin} {
		who.wantErr(who.do("POST", "/staff/applications/"+a.ID+"/revoke", api.RevokeRequest{Reason: 1}), 403, api.CodeForbidden)
	}
	for _, who := range []*client{reviewer, finance} {
		who.wantErr(who.do("GET", api.PathStaffUnlocks, nil), 403, api.CodeForbidden)
	}
	admin.ok(admin.do("GET", api.PathStaffUnlocks, nil), nil)
	// Every staff member may read the queue.
	for _, who := range []*client{reviewer, finance, admin} {
		who.ok(who.do("GET", api.PathStaffReview, nil), nil)
	}
	// The actions taken are in the chained audit log, with who and from
	// where; the refused ones are not.
	var got []string
	if _, _, err := s.Store.StaffActions(ctx, func(x *store.StaffAction) error {
		got = append(got, x.Action+"@"+x.Addr)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	want := []string{"application.confirm_payment@127.0.0.1", "application.start_review@127.0.0.1", "application.approve@127.0.0.1"}
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Fatalf("audit log %v, want %v", got, want)
	}
	if n, err := s.Service.VerifyAudit(ctx); err != nil || n != 3 {
		t.Fatalf("verify: %d %v", n, err)
	}
}
