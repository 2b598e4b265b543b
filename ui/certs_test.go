package ui

import (
	"context"
	"crypto/x509"
	"encoding/pem"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/test"
	"fyne.io/fyne/v2/widget"

	"certdesk/app/api"
	"certdesk/app/apply"
	"certdesk/app/client"
	"certdesk/app/server"
	"certdesk/app/server/service"
	"certdesk/token"
	"certdesk/token/softhsmtest"
)

func labelSays(o fyne.CanvasObject, want string) bool {
	return find(o, func(l *widget.Label) bool { return strings.Contains(l.Text, want) }) != nil
}

// certsOn opens 我的证书 on the SoftHSM2 UKEY tk against srvURL with a
// client that is not logged in, as the start screen has it.
func certsOn(t *testing.T, url string, tk *softhsmtest.Token) (*Certs, *client.Client, fyne.Window) {
	t.Helper()
	fresh, _ := client.New(client.Config{BaseURL: url, Retries: 1})
	win := test.NewTempWindow(t, nil)
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	c := NewCerts(ctx, fresh, PKCS11Holder{Module: tk.ModulePath}, apply.ZH, win, fresh.LoggedIn)
	c.settled = make(chan struct{}, 16)
	asUser(func() {
		win.SetContent(c.Content())
		c.Show()
	})
	wait(t, c.settled) // the first reading
	return c, fresh, win
}

// The holder's loss, from the window: 我的证书 shows the certificate on
// the UKEY as valid, with its serial, validity and fingerprint; exports
// it as DER and PEM; 挂失 / 吊销 with the login, the answer and the
// confirmation revokes it; the CRL the server serves lists the serial and
// a UKEY login with the certificate is refused.
func TestCertsRevokeFromWindow(t *testing.T) {
	srv, log := uiServer(t)
	setup := loggedIn(t, srv.URL, log)
	tk := softhsmtest.New(t, "holder-ukey")
	issuedOn(t, srv, setup, tk, "holderui")

	c, _, _ := certsOn(t, srv.URL, tk)
	if len(c.certs) != 1 {
		t.Fatalf("certificates listed: %d (%s)", len(c.certs), c.status.Text)
	}
	x := c.certs[0]
	for _, want := range []string{"福州示例软件有限公司", "有效", x.Serial, "剩余", "holder-ukey", x.SHA256, "ECDSA P-256"} {
		if !labelSays(c.Content(), want) {
			t.Errorf("the card does not show %q", want)
		}
	}
	// Fingerprint and exports.
	test.Tap(findButton(c.Content(), "复制指纹"))
	if got := fyne.CurrentApp().Clipboard().Content(); got != x.SHA256 {
		t.Fatalf("clipboard %q, want the SHA-256 fingerprint", got)
	}
	dir := t.TempDir()
	for _, b := range []struct {
		button, file string
	}{{"导出 .cer(DER)", "c.cer"}, {"导出 .cer(PEM)", "c.pem.cer"}} {
		path := filepath.Join(dir, b.file)
		c.saveAs = func(_ string, done func(string)) { done(path) }
		test.Tap(findButton(c.Content(), b.button))
		wait(t, c.settled)
		data, err := os.ReadFile(path)
		if err != nil {
			t.Fatalf("%s: %v (%s)", b.button, err, c.status.Text)
		}
		if blk, _ := pem.Decode(data); blk != nil {
			data = blk.Bytes
		} else if strings.HasSuffix(b.file, ".pem.cer") {
			t.Fatal("the PEM export is not PEM")
		}
		if cert, err := x509.ParseCertificate(data); err != nil || cert.SerialNumber.Text(16) != x.Serial {
			t.Fatalf("%s: not the certificate: %v", b.button, err)
		}
	}

	// Revocation: refused without the confirmation, then done.
	test.Tap(findButton(c.Content(), "挂失 / 吊销"))
	f := c.tool
	if f == nil || !f.proof.needLogin {
		t.Fatal("the revoke form does not ask for the login of a window not logged in")
	}
	test.Type(f.proof.login.entry, "13800138000")
	test.Type(f.proof.password.entry, "Zh3ngShu!2026")
	test.Type(f.answer.entry, "福州")
	test.Tap(f.submit)
	if find(c.Content(), func(e *errText) bool { return strings.Contains(e.Text, "请勾选确认") }) == nil {
		t.Fatal("revoked without the confirmation, or said nothing")
	}
	// A wrong answer is said beside the answer.
	test.Tap(f.sure)
	f.answer.entry.SetText("厦门")
	test.Tap(f.submit)
	wait(t, c.settled)
	if !strings.Contains(f.answer.err.Text, "验证答案不正确") {
		t.Fatalf("wrong answer: %q / %q", f.answer.err.Text, f.proof.password.err.Text)
	}
	f.answer.entry.SetText("福州")
	test.Tap(f.submit)
	wait(t, c.settled) // the revocation
	if !strings.Contains(c.notice.Text, "证书已吊销") {
		t.Fatalf("after revoking: %q; answer %q; password %q", c.notice.Text, f.answer.err.Text, f.proof.password.err.Text)
	}
	wait(t, c.settled) // the list read again
	if len(c.certs) != 1 || c.certs[0].Status != api.CertRevoked || !labelSays(c.Content(), "已吊销") {
		t.Fatalf("after revoking the list says %+v", c.certs)
	}
	if findButton(c.Content(), "挂失 / 吊销") != nil {
		t.Fatal("a revoked certificate still offers revocation")
	}

	// The CRL served lists the serial.
	resp, err := http.Get(srv.URL + api.Prefix + api.PathCRL)
	if err != nil {
		t.Fatal(err)
	}
	der, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	crl, err := x509.ParseRevocationList(der)
	if err != nil {
		t.Fatal(err)
	}
	listed := false
	for _, e := range crl.RevokedCertificateEntries {
		listed = listed || e.SerialNumber.Text(16) == x.Serial
	}
	if !listed {
		t.Fatalf("the CRL (number %v) does not list %s", crl.Number, x.Serial)
	}
	// UKEY login with the revoked certificate is refused.
	anon, _ := client.New(client.Config{BaseURL: srv.URL, Retries: 1})
	var got *api.Session
	l := NewUKEYLogin(anon, apply.ZH, PKCS11UKEY{Module: tk.ModulePath}, func(s *api.Session) { got = s })
	l.finished = make(chan struct{}, 8)
	test.Type(l.pin, tk.PIN)
	test.Tap(l.btn)
	wait(t, l.finished)
	if got != nil || l.err.Text == "" {
		t.Fatalf("UKEY login with a revoked certificate: session %v, said %q", got != nil, l.err.Text)
	}
}

// pkcs11Login says whether pin opens tk, asked with pkcs11-tool (another
// program than ours).
func pkcs11Login(tk *softhsmtest.Token, pin string) bool {
	return exec.Command("pkcs11-tool", "--module", tk.ModulePath, "--token-label", tk.Label, "--login", "--pin", pin, "--list-objects").Run() == nil
}

// 修改 PIN in the window: each refusal beside its field, then the change,
// checked with pkcs11-tool.
func TestCertsChangePIN(t *testing.T) {
	srv, log := uiServer(t)
	tk := softhsmtest.New(t, "holder-ukey")
	issuedOn(t, srv, loggedIn(t, srv.URL, log), tk, "holderpin")
	c, _, _ := certsOn(t, srv.URL, tk)
	test.Tap(findButton(c.Content(), "修改 PIN"))
	f := c.tool
	cases := []struct {
		old, pin, again string
		beside          func() string
		want            string
		asks            bool // reaches the UKEY
	}{
		{"", "Nw8pin#26", "Nw8pin#26", func() string { return f.old.err.Text }, "请输入当前 PIN", false},
		{tk.PIN, "12345", "12345", func() string { return f.pair.pin.err.Text }, "6–16 位", false},
		{tk.PIN, "888888", "888888", func() string { return f.pair.pin.err.Text }, "同一个字符", false},
		{tk.PIN, tk.PIN, tk.PIN, func() string { return f.pair.pin.err.Text }, "不能与旧 PIN 相同", false},
		{tk.PIN, "新密码123456", "新密码123456", func() string { return f.pair.pin.err.Text }, "不能有空格或中文", false},
		{tk.PIN, "Nw8pin#26", "Nw8pin#27", func() string { return f.pair.again.err.Text }, "不一致", false},
		{"000000", "Nw8pin#26", "Nw8pin#26", func() string { return f.old.err.Text }, "PIN 码不正确", true},
	}
	for _, tc := range cases {
		f.old.entry.SetText(tc.old)
		f.pair.pin.entry.SetText(tc.pin)
		f.pair.again.entry.SetText(tc.again)
		test.Tap(f.submit)
		if tc.asks {
			wait(t, c.settled)
		}
		if got := tc.beside(); !strings.Contains(got, tc.want) {
			t.Errorf("old %q new %q/%q: beside the field %q, want %q", tc.old, tc.pin, tc.again, got, tc.want)
		}
	}
	f.old.entry.SetText(tk.PIN)
	f.pair.pin.entry.SetText("Nw8pin#26")
	f.pair.again.entry.SetText("Nw8pin#26")
	test.Tap(f.submit)
	wait(t, c.settled)
	if !strings.Contains(c.notice.Text, "PIN 已修改") {
		t.Fatalf("after the change: %q (old PIN field %q)", c.notice.Text, f.old.err.Text)
	}
	if !pkcs11Login(tk, "Nw8pin#26") || pkcs11Login(tk, tk.PIN) {
		t.Fatal("pkcs11-tool: the new PIN does not open the UKEY, or the old one still does")
	}
}

// 解锁 PIN in the window, on a UKEY the CA initialised, where the CA's
// policy asks for staff approval: a locked (here: unknown) PIN is reset
// with the SMS code, the approval and the CA's one-time grant.
func TestCertsUnlockFromWindow(t *testing.T) {
	srv, _, log := restartable(t, func(c *server.Config) { c.Service.UnlockApproval = true })
	t.Cleanup(func() { srv.Close() })
	ctx := context.Background()
	tk := softhsmtest.Blank(t)
	tk.Label, tk.PIN = "ca-ukey", "Fst8pin!"
	m, err := token.Load(tk.ModulePath)
	if err != nil {
		t.Fatal(err)
	}
	slots, _ := m.BlankSlots()
	so, _ := service.NewSOPIN()
	tok, err := m.InitToken(slots[0], tk.Label, append([]byte(nil), so...), []byte(tk.PIN))
	if err != nil {
		t.Fatal(err)
	}
	m.Close()
	if err := srv.Service.RecordUKEY(ctx, tok.Serial, tk.Label, "test", append([]byte(nil), so...)); err != nil {
		t.Fatal(err)
	}
	a := issuedOn(t, srv, loggedIn(t, srv.URL, log), tk, "holderunlock")
	if !pkcs11Login(tk, tk.PIN) {
		t.Fatal("the first PIN does not work")
	}
	if err := exec.Command("pkcs11-tool", "--module", tk.ModulePath, "--token-label", tk.Label, "--login", "--pin", tk.PIN, "--change-pin", "--new-pin", "Unknown#99").Run(); err != nil {
		t.Fatal(err)
	}

	c, fresh, _ := certsOn(t, srv.URL, tk)
	test.Tap(findButton(c.Content(), "解锁 PIN"))
	f := c.tool
	test.Tap(f.send)
	if f.proof.login.err.Text == "" || f.proof.password.err.Text == "" {
		t.Fatal("sent without a login and a password")
	}
	test.Type(f.proof.login.entry, "13800138000")
	test.Type(f.proof.password.entry, "Zh3ngShu!2026")
	test.Tap(f.send)
	wait(t, c.settled)
	if !fresh.LoggedIn() || !strings.Contains(f.stage.Text, "138****8000") {
		t.Fatalf("after send: %q / %q", f.stage.Text, f.proof.password.err.Text)
	}
	code := ""
	msgs, _ := srv.Store.Messages(ctx, a.ID, 5)
	for _, msg := range msgs {
		if msg.Subject == "unlock_code" && code == "" {
			i := strings.Index(msg.Body, "验证码:") + len("验证码:")
			code = msg.Body[i : i+6]
		}
	}
	test.Type(f.code.entry, "000000")
	test.Tap(f.verify)
	wait(t, c.settled)
	if !strings.Contains(f.code.err.Text, "还可再试 4 次") {
		t.Fatalf("wrong code: %q", f.code.err.Text)
	}
	c.every = 20 * time.Millisecond
	f.code.entry.SetText(code)
	test.Tap(f.verify)
	eventually(t, "waiting for the approval", func() bool { return strings.Contains(f.stage.Text, "等待 CA 工作人员核准") })
	pending, err := srv.Service.PendingUnlocks(ctx, service.Operator("staff"))
	if err != nil || len(pending) != 1 {
		t.Fatalf("pending unlocks: %+v %v", pending, err)
	}
	if _, err := srv.Service.ApproveUnlock(ctx, service.Operator("staff"), pending[0].ID); err != nil {
		t.Fatal(err)
	}
	wait(t, c.settled)
	if !strings.Contains(f.stage.Text, "身份已确认") {
		t.Fatalf("right code: %q / %q", f.stage.Text, f.code.err.Text)
	}
	f.pair.pin.entry.SetText("Nw8pin#26")
	f.pair.again.entry.SetText("Nw8pin#26")
	test.Tap(f.done)
	wait(t, c.settled)
	if !strings.Contains(c.notice.Text, "UKEY 已解锁") {
		t.Fatalf("after the unlock: %q / %q", c.notice.Text, f.pair.pin.err.Text)
	}
	if !pkcs11Login(tk, "Nw8pin#26") {
		t.Fatal("pkcs11-tool: the new PIN does not open the UKEY")
	}
	now, _, _ := srv.Service.SOPINForTest(ctx, tok.Serial)
	if string(now) == string(so) {
		t.Fatal("the SO PIN was not rotated")
	}
}

// 证书更新 from the window: the card of a certificate within 90 days of
// its end offers the renewal; a UKEY login with that certificate and the
// answer start it, a transfer confirmed approves it, and the journey's
// download puts the new certificate on the same UKEY. The first download
// is cut between the key's generation and the install (the server goes
// away: what a killed client leaves behind); run again, it ends with one
// new key and one new certificate, and the old pair removed.
func TestCertsRenewFromWindow(t *testing.T) {
	srv, cfg, log := restartable(t, func(c *server.Config) { c.CertValidity = 60 * 24 * time.Hour })
	ctx := context.Background()
	tk := softhsmtest.New(t, "holder-ukey")
	old := issuedOn(t, srv, loggedIn(t, srv.URL, log), tk, "holderrenew")

	c, fresh, win := certsOn(t, srv.URL, tk)
	x := c.certs[0]
	if x.Status != api.CertExpiring || !labelSays(c.Content(), "天后到期") {
		t.Fatalf("a certificate with %d days left: status %q", x.DaysLeft, x.Status)
	}
	var renewal string
	c.OnRenewed = func(id string) { renewal = id }
	test.Tap(findButton(c.Content(), "办理证书更新"))
	f := c.tool
	for _, try := range []struct {
		pin, answer string
		beside      *errText
		want        string
	}{
		{"000000", "福州", f.old.err, "PIN 码不正确"},
		{tk.PIN, "厦门", f.answer.err, "验证答案不正确"},
		{tk.PIN, "福州", nil, ""},
	} {
		f.old.entry.SetText(try.pin)
		f.answer.entry.SetText(try.answer)
		test.Tap(f.submit)
		wait(t, c.settled)
		if try.beside != nil && !strings.Contains(try.beside.Text, try.want) {
			t.Fatalf("PIN %q, answer %q: beside the field %q, want %q", try.pin, try.answer, try.beside.Text, try.want)
		}
	}
	if renewal == "" {
		t.Fatalf("no renewal: PIN %q, answer %q", f.old.err.Text, f.answer.err.Text)
	}
	if err := srv.DevStaff("test").ConfirmTransfer(ctx, renewal); err != nil {
		t.Fatal(err)
	}
	code, err := srv.DevStaff("test").Code(ctx, renewal)
	if err != nil {
		t.Fatal(err)
	}

	download := func(cl *client.Client) *DownloadStep {
		t.Helper()
		var j *Journey
		asUser(func() {
			j = NewJourney(JourneyDeps{Client: cl, Window: win, Lang: apply.ZH, Log: log, UKEY: PKCS11UKEY{Module: tk.ModulePath}, FormDir: t.TempDir()}, renewal, func() {})
			win.SetContent(j.Content())
		})
		eventually(t, "the download step", func() bool { return j.dl != nil })
		d := j.dl
		asUser(func() {
			d.pin.SetText(tk.PIN)
			d.code.SetText(code)
			test.Tap(d.btn)
		})
		eventually(t, "the download's end", func() bool { return d.Cert != nil || (d.err.Text != "" && !d.btn.Disabled()) })
		return d
	}
	// Cut: the server is gone once the key is made.
	addr := strings.TrimPrefix(srv.URL, "http://")
	quick, _ := client.New(client.Config{BaseURL: srv.URL, Retries: 1, RetryWait: 10 * time.Millisecond})
	quick.SetToken(fresh.Token())
	dl := func() *DownloadStep {
		var j *Journey
		asUser(func() {
			j = NewJourney(JourneyDeps{Client: quick, Window: win, Lang: apply.ZH, Log: log, UKEY: PKCS11UKEY{Module: tk.ModulePath}, FormDir: t.TempDir()}, renewal, func() {})
			win.SetContent(j.Content())
		})
		eventually(t, "the download step", func() bool { return j.dl != nil })
		return j.dl
	}()
	srv.Close()
	asUser(func() {
		dl.pin.SetText(tk.PIN)
		dl.code.SetText(code)
		test.Tap(dl.btn)
	})
	eventually(t, "the cut download's end", func() bool { return dl.err.Text != "" && !dl.btn.Disabled() })
	if dl.Cert != nil || !strings.HasPrefix(dl.stages[0].Text, "✓") {
		t.Fatalf("the cut download: cert %v, key stage %q, said %q", dl.Cert != nil, dl.stages[0].Text, dl.err.Text)
	}
	keysOf := func(appID string) int {
		s, done, err := token.OpenLoggedIn(tk.ModulePath, token.Ref{Label: tk.Label}, []byte(tk.PIN), false)
		if err != nil {
			t.Fatal(err)
		}
		defer done()
		ks, err := s.Keys(appID)
		if err != nil {
			t.Fatal(err)
		}
		return len(ks)
	}
	if keysOf(renewal) != 1 || keysOf(old.ID) != 1 {
		t.Fatalf("after the cut: %d new keys, %d old", keysOf(renewal), keysOf(old.ID))
	}

	// Run again, from a new client with the kept session.
	restartAt(t, cfg, addr)
	again, _ := client.New(client.Config{BaseURL: srv.URL, Retries: 1})
	again.SetToken(fresh.Token())
	d := download(again)
	if d.Cert == nil {
		t.Fatalf("the renewal's download: %s", d.err.Text)
	}
	if keysOf(renewal) != 1 || keysOf(old.ID) != 0 {
		t.Fatalf("after the renewal: %d new keys, %d old ones", keysOf(renewal), keysOf(old.ID))
	}
	certs, err := PKCS11Holder{Module: tk.ModulePath}.List(ctx)
	if err != nil || len(certs) != 1 || certs[0].Serial != d.Cert.SerialNumber.Text(16) || certs[0].Serial == x.Serial {
		t.Fatalf("certificates on the UKEY after the renewal: %+v %v", certs, err)
	}
	if a, _ := again.Application(ctx, old.ID); a.State != apply.StateRevoked {
		t.Fatalf("the renewed application: %s", a.State)
	}
}

// 我的证书 follows the UKEYs: a UKEY that comes in with a certificate
// appears without a click, and disappears when it goes (SoftHSM2 deletes
// the token: what a pulled UKEY looks like to the driver).
func TestCertsFollowTheUKEYs(t *testing.T) {
	srv, log := uiServer(t)
	tk := softhsmtest.Blank(t)
	c, _, _ := certsOn(t, srv.URL, tk)
	if len(c.certs) != 0 || !strings.Contains(c.status.Text, "没有检测到") {
		t.Fatalf("no UKEY: %d certificates, %q", len(c.certs), c.status.Text)
	}
	tk.Label, tk.PIN = "late-ukey", "Fst8pin!"
	if out, err := exec.Command("softhsm2-util", "--init-token", "--free", "--label", tk.Label, "--pin", tk.PIN, "--so-pin", "12345678").CombinedOutput(); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	issuedOn(t, srv, loggedIn(t, srv.URL, log), tk, "holderlive")
	eventually(t, "the inserted UKEY's certificate listed", func() bool { return len(c.certs) == 1 && labelSays(c.Content(), "late-ukey") })
	if out, err := exec.Command("softhsm2-util", "--delete-token", "--token", tk.Label).CombinedOutput(); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	eventually(t, "the pulled UKEY gone from the list", func() bool { return len(c.certs) == 0 })

	// Hidden (another tab chosen), it does not look: a UKEY coming in
	// makes no reading until it is shown again.
	onUIWait(c.Hide)
	for len(c.settled) > 0 {
		<-c.settled
	}
	if out, err := exec.Command("softhsm2-util", "--init-token", "--free", "--label", "third-ukey", "--pin", tk.PIN, "--so-pin", "12345678").CombinedOutput(); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	select {
	case <-c.settled:
		t.Fatal("the hidden list read the UKEYs")
	case <-time.After(5 * time.Second): // two and a half polls
	}
	onUIWait(c.Show)
	wait(t, c.settled)
}
