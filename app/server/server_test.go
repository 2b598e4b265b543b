package server

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"image"
	"image/png"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"certdesk/app/api"
	"certdesk/app/apply"
	"certdesk/app/material/testimg"
	"certdesk/app/server/service"
	"certdesk/app/server/store"
)

func TestAccountsLoginLogoutThrottle(t *testing.T) {
	for name, dsn := range engines(t) {
		t.Run(name, func(t *testing.T) {
			s := startServer(t, dsn)
			c := newClient(t, s)
			e := c.wantErr(c.do("POST", api.PathRegister, api.RegisterRequest{Mobile: "1380013800", Password: "short"}), 422, api.CodeValidation)
			if len(e.Fields) != 2 || e.Fields[0].Field != "mobile" || e.Fields[1].Field != "password" {
				t.Fatalf("fields: %+v", e.Fields)
			}
			c.wantErr(c.do("POST", api.PathRegister, api.RegisterRequest{Password: "Zh3ngShu!2026"}), 422, api.CodeValidation)
			var acc api.Account
			c.ok(c.do("POST", api.PathRegister, api.RegisterRequest{Mobile: "+86 139 0013 9000", Email: "Li@Example.cn", Password: "Zh3ngShu!2026"}), &acc)
			if acc.Mobile != "13900139000" || acc.Email != "li@example.cn" || acc.Role != api.RoleApplicant {
				t.Fatalf("account: %+v", acc)
			}
			c.wantErr(c.do("POST", api.PathRegister, api.RegisterRequest{Email: "li@example.cn", Password: "Zh3ngShu!2026"}), 409, api.CodeConflict)

			// Either login name works; wrong password and unknown account read alike.
			var sess api.Session
			c.ok(c.do("POST", api.PathLogin, api.LoginRequest{Login: "li@example.cn", Password: "Zh3ngShu!2026"}), &sess)
			wrong := c.wantErr(c.do("POST", api.PathLogin, api.LoginRequest{Login: "13900139000", Password: "nope"}), 401, api.CodeBadCredentials)
			unknown := c.wantErr(c.do("POST", api.PathLogin, api.LoginRequest{Login: "13700137000", Password: "nope"}), 401, api.CodeBadCredentials)
			if wrong.MessageZH != unknown.MessageZH {
				t.Fatalf("messages reveal which accounts exist: %q vs %q", wrong.MessageZH, unknown.MessageZH)
			}
			c.token = sess.Token
			var me api.Account
			c.ok(c.do("GET", api.PathMe, nil), &me)
			if me.ID != acc.ID {
				t.Fatalf("me: %+v", me)
			}
			if r := c.do("DELETE", api.PathLogout, nil); r.status != 204 {
				t.Fatalf("logout: %d", r.status)
			}
			c.wantErr(c.do("GET", api.PathMe, nil), 401, api.CodeUnauthenticated)
			c.token = "forged"
			c.wantErr(c.do("GET", api.PathApplications, nil), 401, api.CodeUnauthenticated)

			// Four more failures (five in all) lock the login name.
			c.token = ""
			for range 3 {
				c.wantErr(c.do("POST", api.PathLogin, api.LoginRequest{Login: "13900139000", Password: "nope"}), 401, api.CodeBadCredentials)
			}
			r := c.do("POST", api.PathLogin, api.LoginRequest{Login: "13900139000", Password: "nope"})
			e = c.wantErr(r, 429, api.CodeRateLimited)
			if r.header.Get("Retry-After") != "30" || e.RetryAfter != 30 || !strings.Contains(e.MessageZH, "30 秒后再试") {
				t.Fatalf("throttle: %s %s", r.header.Get("Retry-After"), r.body)
			}
			// Even the right password waits now.
			c.wantErr(c.do("POST", api.PathLogin, api.LoginRequest{Login: "13900139000", Password: "Zh3ngShu!2026"}), 429, api.CodeRateLimited)
		})
	}
}

func TestApplicationJourneyToReview(t *testing.T) {
	for name, dsn := range engines(t) {
		t.Run(name, func(t *testing.T) {
			s := startServer(t, dsn)
			c := applicant(t, s)
			doc, seal := scans()

			c.wantErr(c.do("POST", api.PathApplications, api.CreateApplicationRequest{Kind: apply.KindOrg}), 412, api.CodeAgreementRequired)
			var a api.Application
			c.ok(c.do("POST", api.PathApplications, api.CreateApplicationRequest{Kind: apply.KindOrg, Agreement: agreement(c)}), &a)
			if a.State != apply.StateDraft || len(a.History) != 1 || !strings.Contains(a.History[0].Note, "agreement") {
				t.Fatalf("draft: %+v", a)
			}
			// Autosave of a partial draft is fine; submitting it is not.
			c.ok(c.do("PATCH", "/applications/"+a.ID, api.UpdateFormRequest{Form: apply.Values{apply.FOrgName: "福州"}}), nil)
			bad := orgForm("zhsoft01")
			bad[apply.FOrgCode] = "91350100M000100Y44"
			e := c.wantErr(c.do("PATCH", "/applications/"+a.ID, api.UpdateFormRequest{Form: bad, Submit: true}), 422, api.CodeValidation)
			if len(e.Fields) != 1 || e.Fields[0].Field != apply.FOrgCode || e.Fields[0].Code != string(apply.CodeUSCCCheck) {
				t.Fatalf("field errors: %+v", e.Fields)
			}
			c.ok(c.do("PATCH", "/applications/"+a.ID, api.UpdateFormRequest{Form: orgForm("zhsoft01"), Submit: true}), &a)
			if a.State != apply.StateSubmitted || a.Form[apply.FSecurityAnswer] != "••••••" || strings.Contains(string(c.do("GET", "/applications/"+a.ID, nil).body), "福州\"") {
				t.Fatalf("submitted: %s %+v", a.State, a.Form)
			}
			// 一个用户名对应一个证书: another applicant cannot take the username.
			other := applicant(t, s)
			var b api.Application
			other.ok(other.do("POST", api.PathApplications, api.CreateApplicationRequest{Kind: apply.KindOrg, Agreement: agreement(other)}), &b)
			e = other.wantErr(other.do("PATCH", "/applications/"+b.ID, api.UpdateFormRequest{Form: orgForm("zhsoft01"), Submit: true}), 409, api.CodeUsernameTaken)
			if len(e.Fields) != 1 || e.Fields[0].Field != apply.FUsername {
				t.Fatalf("username error: %+v", e)
			}

			// Materials in the seed's order; each bad kind refused with its own code.
			var cl api.Checklist
			c.ok(c.do("GET", "/applications/"+a.ID+"/materials", nil), &cl)
			if len(cl.Items) != 6 || cl.Items[0].Rule.Type != apply.MatAcceptanceForm || len(cl.Missing) != 5 || cl.Complete || len(cl.Paper) == 0 {
				t.Fatalf("checklist: %+v", cl)
			}
			var pngBuf bytes.Buffer
			png.Encode(&pngBuf, image.NewGray(image.Rect(0, 0, 900, 1200)))
			lowDPI := testimg.JPEG(testimg.Scan(827, 1169, 3), 85, 72)
			for _, tc := range []struct {
				name string
				typ  apply.MaterialType
				data []byte
				code string
			}{
				{"png renamed", apply.MatOrgLicense, pngBuf.Bytes(), "format.not_jpeg"},
				{"truncated", apply.MatOrgLicense, doc[:len(doc)/2], "file.corrupt"},
				{"72 dpi", apply.MatOrgLicense, lowDPI, "dpi.low"},
				{"document as imprint", apply.MatSealImprint, doc, "dpi.low"},
			} {
				e := c.wantErr(c.upload(a.ID, tc.typ, tc.data), 422, api.CodeMaterialInvalid)
				if len(e.Fields) == 0 || e.Fields[0].Code != tc.code || e.Fields[0].Field != string(tc.typ) {
					t.Fatalf("%s: %+v", tc.name, e.Fields)
				}
			}
			c.wantErr(c.upload(a.ID, apply.MatApplicantID, doc), 422, api.CodeValidation) // not an org material
			r := c.do("POST", "/applications/"+a.ID+"/uploads", api.CreateUploadRequest{Type: apply.MatOrgLicense, Bytes: 3 << 20, SHA256: sha(doc)})
			c.wantErr(r, 413, api.CodeTooLarge)

			for _, mt := range []apply.MaterialType{apply.MatAcceptanceForm, apply.MatOrgLicense, apply.MatAuthorization} {
				c.mustUpload(a.ID, mt, doc)
			}
			// The handler's ID is cut mid-way, then resumed from the server's offset.
			var u api.Upload
			c.ok(c.do("POST", "/applications/"+a.ID+"/uploads", api.CreateUploadRequest{Type: apply.MatHandlerID, FileName: `C:\扫描\身份证.jpg`, Bytes: int64(len(doc)), SHA256: sha(doc)}), &u)
			cutUpload(t, s, c.token, u.ID, doc, len(doc)/3)
			var st api.Upload
			head := c.do("HEAD", "/uploads/"+u.ID, nil)
			if head.header.Get(api.HeaderUploadOff) != itoa(int64(len(doc)/3)) {
				t.Fatalf("offset after cut: %q", head.header.Get(api.HeaderUploadOff))
			}
			c.wantErr(c.do("PATCH", "/uploads/"+u.ID, doc, api.HeaderUploadOff, "0"), 409, api.CodeUploadOffset)
			c.ok(c.do("PATCH", "/uploads/"+u.ID, doc[len(doc)/3:], api.HeaderUploadOff, itoa(int64(len(doc)/3))), &st)
			if st.Material == nil || st.Material.SHA256 != sha(doc) {
				t.Fatalf("resumed upload: %+v", st)
			}
			got := c.do("GET", "/applications/"+a.ID+"/materials/"+st.Material.ID+"/data", nil)
			if !bytes.Equal(got.body, doc) || got.header.Get("Content-Type") != "image/jpeg" {
				t.Fatalf("resumed blob differs (%d vs %d bytes)", len(got.body), len(doc))
			}
			if a = c.app(a.ID); a.State != apply.StateSubmitted {
				t.Fatalf("complete too early: %s", a.State)
			}
			sealMat := c.mustUpload(a.ID, apply.MatSealImprint, seal)
			if a = c.app(a.ID); a.State != apply.StateMaterialsComplete {
				t.Fatalf("not complete after the last material: %s", a.State)
			}
			// Deleting a required material sends it back; replacing restores it.
			if r := c.do("DELETE", "/applications/"+a.ID+"/materials/"+sealMat.ID, nil); r.status != 204 {
				t.Fatalf("delete: %d %s", r.status, r.body)
			}
			if a = c.app(a.ID); a.State != apply.StateSubmitted {
				t.Fatalf("after delete: %s", a.State)
			}
			c.mustUpload(a.ID, apply.MatSealImprint, seal)

			// Identity and payment are the next issue's providers; their
			// system and staff steps drive the same service here.
			if err := s.Service.SystemStep(context.Background(), a.ID, apply.EvIdentityVerified, "test"); err != nil {
				t.Fatal(err)
			}
			c.wantErr(c.do("POST", "/applications/"+a.ID+"/events", api.EventRequest{Event: apply.EvApprove}), 409, api.CodeStateNotAllowed)
			c.wantErr(c.do("POST", "/applications/"+a.ID+"/events", api.EventRequest{Event: apply.EvResubmit}), 409, api.CodeStateNotAllowed)
			// start_payment has an effect (the payment record): only the
			// payment route takes it.
			c.wantErr(c.do("POST", "/applications/"+a.ID+"/events", api.EventRequest{Event: apply.EvStartPayment}), 409, api.CodeStateNotAllowed)
			c.ok(c.do("POST", "/applications/"+a.ID+"/payment", api.StartPaymentRequest{Method: api.PayBankTransfer}), nil)
			sc := staff(t, s)
			sc.ok(sc.do("POST", "/staff/applications/"+a.ID+"/events", api.EventRequest{Event: apply.EvConfirmPayment, Note: "bank transfer 2026-11-25"}), nil)

			// 已缴费审核的证书申请不能修改/取消.
			e = c.wantErr(c.do("PATCH", "/applications/"+a.ID, api.UpdateFormRequest{Form: orgForm("zhsoft01")}), 409, api.CodeStateNotAllowed)
			if !strings.Contains(e.MessageZH, "不能修改或取消") {
				t.Fatalf("modify after payment: %s", e.MessageZH)
			}
			c.wantErr(c.do("DELETE", "/applications/"+a.ID, nil), 409, api.CodeStateNotAllowed)

			// Review: rejected with a reason, materials replaced, resubmitted, approved.
			e = sc.wantErr(sc.do("POST", "/staff/applications/"+a.ID+"/review", api.ReviewRequest{Approve: false}), 422, api.CodeValidation)
			sc.ok(sc.do("POST", "/staff/applications/"+a.ID+"/review", api.ReviewRequest{Approve: false, Reason: "营业执照复印件未盖章"}), nil)
			a = c.app(a.ID)
			if a.State != apply.StateRejected || a.RejectReason != "营业执照复印件未盖章" {
				t.Fatalf("rejected: %s %q", a.State, a.RejectReason)
			}
			c.mustUpload(a.ID, apply.MatOrgLicense, testimg.JPEG(testimg.Scan(827, 1169, 9), 85, 150))
			c.ok(c.do("POST", "/applications/"+a.ID+"/events", api.EventRequest{Event: apply.EvResubmit}), &a)
			c.wantErr(c.upload(a.ID, apply.MatOrgLicense, doc), 409, api.CodeStateNotAllowed)
			sc.ok(sc.do("POST", "/staff/applications/"+a.ID+"/review", api.ReviewRequest{Approve: true}), &a)
			if a.State != apply.StateApproved {
				t.Fatalf("approved: %s", a.State)
			}
			steps := []apply.State{}
			for _, h := range a.History {
				steps = append(steps, h.To)
				if h.At.IsZero() || h.Actor == "" {
					t.Fatalf("history without actor or time: %+v", h)
				}
			}
			if len(steps) < 12 || steps[len(steps)-1] != apply.StateApproved {
				t.Fatalf("history: %v", steps)
			}
			// Every status change queued an SMS to the handler.
			msgs, _ := s.Store.Messages(context.Background(), a.ID, 100)
			sms, mails := 0, 0
			for _, m := range msgs {
				switch {
				case m.Channel == "sms" && m.Recipient == "13800138000" && strings.HasPrefix(m.Subject, "status:"):
					sms++
				case m.Channel == "email" && m.Recipient == "wang@example.com" && strings.HasPrefix(m.Subject, "status:"):
					mails++ // and the same notice by e-mail
				}
			}
			if sms < 9 || mails != sms {
				t.Fatalf("outbox: %d messages, %d SMS, %d status e-mails", len(msgs), sms, mails)
			}
		})
	}
}

// cutUpload sends the first n bytes of data under a Content-Length for all
// of it, then drops the connection, as a flaky line does.
func cutUpload(t *testing.T, s *Server, token, uid string, data []byte, n int) {
	t.Helper()
	host := strings.TrimPrefix(s.URL, "http://")
	conn, err := net.Dial("tcp", host)
	if err != nil {
		t.Fatal(err)
	}
	req := "PATCH " + api.Prefix + "/uploads/" + uid + " HTTP/1.1\r\nHost: " + host + "\r\nAuthorization: Bearer " + token +
		"\r\n" + api.HeaderUploadOff + ": 0\r\nContent-Length: " + itoa(int64(len(data))) + "\r\n\r\n"
	conn.Write([]byte(req))
	conn.Write(data[:n])
	time.Sleep(200 * time.Millisecond)
	conn.Close()
	// Wait for the server to record what arrived.
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		u, err := s.Store.Upload(context.Background(), uid)
		if err == nil && u.Received == int64(n) {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	u, err := s.Store.Upload(context.Background(), uid)
	t.Fatalf("server did not record the %d bytes that arrived: %+v %v", n, u, err)
}

// Every route that takes an application, material or upload ID answers
// "not found" to another applicant, exactly as for an ID that does not
// exist.
func TestOneApplicantCannotReachAnother(t *testing.T) {
	s := startServer(t, "")
	owner := applicant(t, s)
	doc, _ := scans()
	a := submitted(owner, "owner01")
	m := owner.mustUpload(a.ID, apply.MatOrgLicense, doc)
	var u api.Upload
	owner.ok(owner.do("POST", "/applications/"+a.ID+"/uploads", api.CreateUploadRequest{Type: apply.MatAuthorization, Bytes: int64(len(doc)), SHA256: sha(doc)}), &u)

	// An unlock request of the owner's (made in the store: the owner has
	// no certificate on a CA UKEY here, and the routes' isolation is what
	// is tested).
	var me api.Account
	owner.ok(owner.do("GET", api.PathMe, nil), &me)
	now := time.Now()
	unl := &store.Unlock{ID: store.NewID(), Serial: "UKEY0001", AccountID: me.ID, ApplicationID: a.ID, State: api.UnlockGranted,
		CodeMAC: "x", Mobile: "13800138000", CreatedAt: now, ExpiresAt: now.Add(time.Hour), UpdatedAt: now}
	if err := s.Store.InTx(context.Background(), func(tx *store.Tx) error { return tx.AddUnlock(context.Background(), unl) }); err != nil {
		t.Fatal(err)
	}

	thief := applicant(t, s)
	routes := []struct {
		method, path string
		body         any
	}{
		{"GET", "/applications/" + a.ID, nil},
		{"PATCH", "/applications/" + a.ID, api.UpdateFormRequest{Form: orgForm("thief01")}},
		{"DELETE", "/applications/" + a.ID, nil},
		{"POST", "/applications/" + a.ID + "/similar", nil},
		{"POST", "/applications/" + a.ID + "/events", api.EventRequest{Event: apply.EvCancel}},
		{"GET", "/applications/" + a.ID + "/materials", nil},
		{"GET", "/applications/" + a.ID + "/materials/" + m.ID, nil},
		{"DELETE", "/applications/" + a.ID + "/materials/" + m.ID, nil},
		{"GET", "/applications/" + a.ID + "/materials/" + m.ID + "/data", nil},
		{"POST", "/applications/" + a.ID + "/uploads", api.CreateUploadRequest{Type: apply.MatAuthorization, Bytes: 10, SHA256: sha(doc)}},
		{"GET", "/uploads/" + u.ID, nil},
		{"PATCH", "/uploads/" + u.ID, doc},
		{"POST", "/applications/" + a.ID + "/certificate", api.DownloadRequest{CSR: []byte("x"), Code: "12345678"}},
		{"POST", "/applications/" + a.ID + "/identity", nil},
		{"GET", "/applications/" + a.ID + "/identity", nil},
		{"POST", "/applications/" + a.ID + "/payment", api.StartPaymentRequest{Method: api.PayBankTransfer}},
		{"GET", "/applications/" + a.ID + "/payment", nil},
		{"POST", "/applications/" + a.ID + "/renew", api.RenewRequest{SecurityAnswer: "福州"}},
		{"POST", "/applications/" + a.ID + "/replace", api.RenewRequest{SecurityAnswer: "福州"}},
		{"POST", "/applications/" + a.ID + "/revocation", api.HolderRevokeRequest{SecurityAnswer: "福州", Reason: "lost"}},
		{"POST", "/ukeys/UKEY0001/unlocks", api.StartUnlockRequest{Password: "x", Certificate: []byte("x")}},
		{"GET", "/unlocks/" + unl.ID, nil},
		{"POST", "/unlocks/" + unl.ID + "/code", api.UnlockCodeRequest{Code: "123456"}},
		{"POST", "/unlocks/" + unl.ID + "/grant", nil},
		{"POST", "/unlocks/" + unl.ID + "/done", api.UnlockDoneRequest{Rotated: true}},
	}
	covered := map[string]bool{}
	for _, rt := range routes {
		r := thief.do(rt.method, rt.path, rt.body, api.HeaderUploadOff, "0")
		thief.wantErr(r, 404, api.CodeNotFound)
		covered[rt.method+" "+rt.path] = true
	}
	if r := thief.do("HEAD", "/uploads/"+u.ID, nil); r.status != 404 {
		t.Fatalf("HEAD upload: %d", r.status)
	}
	// Staff routes refuse applicants outright.
	thief.wantErr(thief.do("GET", "/staff/applications", nil), 403, api.CodeForbidden)
	thief.wantErr(thief.do("POST", "/staff/applications/"+a.ID+"/review", api.ReviewRequest{Approve: true}), 403, api.CodeForbidden)
	thief.wantErr(thief.do("POST", "/staff/unlocks/"+unl.ID+"/approve", nil), 403, api.CodeForbidden)
	// Nothing changed for the owner.
	if got := owner.app(a.ID); got.State != apply.StateSubmitted || len(got.Materials) != 1 {
		t.Fatalf("owner's application changed: %s %d", got.State, len(got.Materials))
	}
	var list []api.Summary
	thief.ok(thief.do("GET", api.PathApplications, nil), &list)
	if len(list) != 0 {
		t.Fatalf("thief lists %d applications", len(list))
	}
	// Every applicant route with an ID is in the table above.
	for _, rt := range s.Handler.Routes() {
		if rt.Public || rt.Staff || !strings.Contains(rt.Path, "{") || rt.Method == "HEAD" {
			continue
		}
		key := rt.Method + " " + strings.NewReplacer(api.Prefix, "", "{id}", a.ID, "{mid}", m.ID, "{uid}", u.ID, "{serial}", "UKEY0001", "{unlock}", unl.ID).Replace(rt.Path)
		if !covered[key] {
			t.Errorf("route %s %s not tested for isolation", rt.Method, rt.Path)
		}
	}
}

func TestSimilarCancelAndIdempotency(t *testing.T) {
	s := startServer(t, "")
	c := applicant(t, s)
	a := submitted(c, "first01")

	// A retried POST with the same key creates one record.
	req := api.CreateApplicationRequest{Kind: apply.KindPersonal, Agreement: agreement(c)}
	var x, y api.Application
	c.ok(c.do("POST", api.PathApplications, req, api.HeaderIdempotency, "k-123"), &x)
	c.ok(c.do("POST", api.PathApplications, req, api.HeaderIdempotency, "k-123"), &y)
	if x.ID == "" || x.ID != y.ID {
		t.Fatalf("idempotent create made %q and %q", x.ID, y.ID)
	}
	req.Kind = apply.KindOrg
	c.wantErr(c.do("POST", api.PathApplications, req, api.HeaderIdempotency, "k-123"), 409, api.CodeIdempotency)
	// Concurrent retries also collapse into one.
	var wg sync.WaitGroup
	ids := make(chan string, 8)
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var z api.Application
			c.ok(c.do("POST", "/applications/"+a.ID+"/similar", nil, api.HeaderIdempotency, "sim-1"), &z)
			ids <- z.ID
		}()
	}
	wg.Wait()
	close(ids)
	var sim string
	for id := range ids {
		if sim != "" && id != sim {
			t.Fatalf("concurrent retries created %s and %s", sim, id)
		}
		sim = id
	}
	var list []api.Summary
	c.ok(c.do("GET", api.PathApplications, nil), &list)
	if len(list) != 3 {
		t.Fatalf("applications: %d, want 3", len(list))
	}
	// 类似申请: organisation and handler carried, username and answer not.
	sa := c.app(sim)
	if sa.State != apply.StateDraft || sa.Form[apply.FOrgName] != "福州示例软件有限公司" || sa.Form[apply.FHandlerMobile] != "13800138000" ||
		sa.Form[apply.FUsername] != "" || sa.Form[apply.FSecurityAnswer] != "" {
		t.Fatalf("similar: %+v", sa.Form)
	}
	// Cancel frees the username for the similar application.
	c.ok(c.do("DELETE", "/applications/"+a.ID, nil), nil)
	if got := c.app(a.ID); got.State != apply.StateCancelled {
		t.Fatalf("cancel: %s", got.State)
	}
	c.wantErr(c.do("DELETE", "/applications/"+a.ID, nil), 409, api.CodeStateNotAllowed)
	c.ok(c.do("PATCH", "/applications/"+sim, api.UpdateFormRequest{Form: orgForm("first01"), Submit: true}), nil)
}

func TestBodyLimitsAndHealth(t *testing.T) {
	s := startServer(t, "")
	c := applicant(t, s)
	a := submitted(c, "limits01")
	doc, _ := scans()
	// A JSON body over the cap is refused from its length.
	huge := bytes.Repeat([]byte("x"), 200<<10)
	c.wantErr(c.do("POST", api.PathApplications, huge), 413, api.CodeTooLarge)
	// An upload body longer than announced is refused.
	var u api.Upload
	c.ok(c.do("POST", "/applications/"+a.ID+"/uploads", api.CreateUploadRequest{Type: apply.MatOrgLicense, Bytes: 1000, SHA256: sha(doc[:1000])}), &u)
	c.wantErr(c.do("PATCH", "/uploads/"+u.ID, doc, api.HeaderUploadOff, "0"), 413, api.CodeTooLarge)
	// A body over 2 MB is refused before it is read: the server answers
	// while the client is still sending.
	big := io.MultiReader(bytes.NewReader(make([]byte, 3<<20)))
	req, _ := http.NewRequest("PATCH", c.base+"/uploads/"+u.ID, big)
	req.ContentLength = 3 << 20
	req.Header.Set("Authorization", "Bearer "+c.token)
	req.Header.Set(api.HeaderUploadOff, "0")
	res, err := http.DefaultClient.Do(req)
	if err != nil && !errors.Is(err, io.ErrUnexpectedEOF) && !strings.Contains(err.Error(), "connection reset") && !strings.Contains(err.Error(), "broken pipe") {
		t.Fatal(err)
	}
	if res != nil {
		res.Body.Close()
		if res.StatusCode != 413 {
			t.Fatalf("3 MB body: %d", res.StatusCode)
		}
	}
	for _, p := range []string{"/healthz", "/readyz"} {
		r, err := http.Get(s.URL + p)
		if err != nil || r.StatusCode != 200 {
			t.Fatalf("%s: %v %v", p, err, r)
		}
		r.Body.Close()
	}
	if r := c.do("GET", "/no/such/route", nil); r.status != 404 || r.err() == nil || r.header.Get("X-Request-ID") == "" {
		t.Fatalf("unknown route: %d %s", r.status, r.body)
	}
}

// Over HTTP, every applicant event that the state machine does not allow
// in a state is refused with state_not_allowed and changes nothing.
func TestIllegalStepsOverHTTP(t *testing.T) {
	s := startServer(t, "")
	c := applicant(t, s)
	path := map[apply.State][]apply.Event{ // how to reach each state from submitted
		apply.StateSubmitted:         nil,
		apply.StateMaterialsComplete: {apply.EvMaterialsComplete},
		apply.StateIdentityVerified:  {apply.EvMaterialsComplete, apply.EvIdentityVerified},
		apply.StatePaid:              {apply.EvMaterialsComplete, apply.EvIdentityVerified, apply.EvConfirmPayment},
		apply.StateUnderReview:       {apply.EvMaterialsComplete, apply.EvIdentityVerified, apply.EvConfirmPayment, apply.EvStartReview},
	}
	n := 0
	for state, evs := range path {
		for _, ev := range []apply.Event{apply.EvSubmit, apply.EvMaterialsComplete, apply.EvIdentityVerified, apply.EvStartPayment,
			apply.EvConfirmPayment, apply.EvStartReview, apply.EvApprove, apply.EvReject, apply.EvResubmit, apply.EvIssue, apply.EvCancel, apply.EvRevoke} {
			n++
			a := submitted(c, "u"+itoa(int64(n)))
			for _, e := range evs {
				var err error
				if e == apply.EvConfirmPayment { // with its payment record, as staff
					_, err = s.Service.ConfirmTransfer(context.Background(), service.Operator("staff"), a.ID, "test")
				} else {
					err = s.Service.SystemStep(context.Background(), a.ID, e, "")
				}
				if err != nil {
					t.Fatalf("reach %s: %v", state, err)
				}
			}
			allowed := false
			for _, e := range apply.Allowed(state, apply.ActorApplicant) {
				allowed = allowed || e == ev
			}
			// The generic route takes only events without an effect
			// outside the state; start_payment has the payment route.
			allowed = allowed && (ev == apply.EvCancel || ev == apply.EvResubmit)
			r := c.do("POST", "/applications/"+a.ID+"/events", api.EventRequest{Event: ev, Note: "x"})
			if allowed {
				if r.status != 200 && !(ev == apply.EvResubmit) {
					t.Fatalf("%s in %s: allowed but %d %s", ev, state, r.status, r.body)
				}
				continue
			}
			c.wantErr(r, 409, api.CodeStateNotAllowed)
			if got := c.app(a.ID); got.State != state {
				t.Fatalf("%s in %s changed the state to %s", ev, state, got.State)
			}
		}
	}
}

// The development TLS certificate is made once, kept, and pins: a client
// that trusts only it connects; one that does not, fails.
func TestDevTLS(t *testing.T) {
	dir := t.TempDir()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	s, err := Start(context.Background(), Config{DataDir: dir, DevTLS: true, Log: log, Service: service.Config{Params: fastParams}})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if !strings.HasPrefix(s.URL, "https://127.0.0.1:") || len(s.CertPEM) == 0 {
		t.Fatalf("url %s", s.URL)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(s.CertPEM)
	pinned := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	r, err := pinned.Get(s.URL + "/healthz")
	if err != nil || r.StatusCode != 200 {
		t.Fatalf("pinned client: %v", err)
	}
	r.Body.Close()
	if _, err := http.Get(s.URL + "/healthz"); err == nil {
		t.Fatal("a client without the pin accepted the self-signed certificate")
	}
}

// Logs carry request IDs and routes, never passwords, tokens or bodies.
func TestLogsHoldNoSecrets(t *testing.T) {
	var buf syncBuffer
	log := slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug}))
	s, err := Start(context.Background(), Config{DataDir: t.TempDir(), Log: log, Service: service.Config{Params: fastParams}})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	c := applicant(t, s)
	a := submitted(c, "secret01")
	c.do("GET", "/applications/"+a.ID, nil)
	c.do("POST", api.PathLogin, api.LoginRequest{Login: "13800009999", Password: "Wr0ng!pass"})
	out := buf.String()
	for _, secret := range []string{"Zh3ngShu!2026", "Wr0ng!pass", c.token, "11010519491231002X", "福州\""} {
		if strings.Contains(out, secret) {
			t.Errorf("log contains %q", secret)
		}
	}
	if !strings.Contains(out, "request_id=") || !strings.Contains(out, "route=\"GET /api/v1/applications/{id}\"") {
		t.Errorf("log lacks request IDs or routes:\n%s", out)
	}
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}
func (s *syncBuffer) String() string { s.mu.Lock(); defer s.mu.Unlock(); return s.b.String() }
