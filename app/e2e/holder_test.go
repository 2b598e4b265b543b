package e2e

import (
	"archive/zip"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"certdesk/app/api"
	"certdesk/app/client"
	"certdesk/app/holder"
	"certdesk/app/server"
	"certdesk/token"
	"certdesk/token/softhsmtest"
)

// firstPIN is the user PIN `certdesk-server ukey init` sets (staffCmd's stdin).
const firstPIN = "Sh3nHe!2026"

// buildCertdesk builds the applicant's program for command-line runs.
func buildCertdesk(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "certdesk")
	if out, err := exec.Command("go", "build", "-tags", "no_emoji", "-o", bin, "certdesk/cmd/certdesk").CombinedOutput(); err != nil {
		t.Fatalf("build certdesk: %v\n%s", err, out)
	}
	return bin
}

// soOpens says whether so is the UKEY's SO PIN: pkcs11-tool logs in as SO
// only in a read-write session, so it sets the SO PIN to itself.
func soOpens(t *testing.T, tk *softhsmtest.Token, so []byte) error {
	t.Helper()
	return p11(t, tk, "--login", "--login-type", "so", "--so-pin", string(so), "--change-pin", "--new-pin", string(so))
}

// p11 runs pkcs11-tool on the test's SoftHSM2 and says whether it worked.
func p11(t *testing.T, tk *softhsmtest.Token, args ...string) error {
	t.Helper()
	out, err := exec.Command("pkcs11-tool", append([]string{"--module", tk.ModulePath, "--token-label", tk.Label}, args...)...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("%v: %s", err, out)
	}
	return nil
}

// initUKEY has the CA initialise the blank SoftHSM2 token and returns its serial.
func (w *world) initUKEY(tk *softhsmtest.Token, label string) (serial, said string) {
	w.t.Helper()
	tk.Label, tk.PIN = label, firstPIN
	out := w.staffCmd("ukey", "init", "--module", tk.ModulePath, "--label", label)
	var rows []struct{ Serial, Label string }
	if err := json.Unmarshal([]byte(w.staffCmd("ukey", "list", "--json")), &rows); err != nil || len(rows) == 0 {
		w.t.Fatalf("ukey list: %v %v", rows, err)
	}
	serial = rows[len(rows)-1].Serial
	if !strings.Contains(out, serial) {
		w.t.Fatalf("ukey init said %q, list says %s", out, serial)
	}
	return serial, out
}

// issuedOnUKEY takes a personal application to a certificate on the UKEY
// tk and closes the UKEY session, as the window does after the download.
func (w *world) issuedOnUKEY(ctx context.Context, tk *softhsmtest.Token, mobile, username string) *api.Application {
	w.t.Helper()
	a := w.approvedPersonal(ctx, mobile, username)
	onUKEY(w.t, tk, func(s *token.Session) { enrol(w.t, ctx, w.c, s, a.ID, w.codeFromOutbox(a.ID)) })
	return a
}

// onUKEY runs fn on a session logged in to tk with its PIN, closed after.
func onUKEY(t *testing.T, tk *softhsmtest.Token, fn func(*token.Session)) {
	t.Helper()
	s, done, err := token.OpenLoggedIn(tk.ModulePath, token.Ref{Label: tk.Label}, []byte(tk.PIN), false)
	if err != nil {
		t.Fatal(err)
	}
	defer done()
	fn(s)
}

// forgetPIN sets the user PIN to one nobody knows: the holder's state
// after a PIN lock (SoftHSM2 never locks a PIN).
func forgetPIN(t *testing.T, tk *softhsmtest.Token) {
	t.Helper()
	onUKEY(t, tk, func(s *token.Session) {
		if err := s.ChangePIN([]byte(tk.PIN), []byte(rand.Text()[:12])); err != nil {
			t.Fatal(err)
		}
	})
}

var reUnlockCode = regexp.MustCompile(`验证码:(\d{6})`)

// unlockCode is the newest SMS unlock code the application's handler got.
func (w *world) unlockCode(appID string) string {
	w.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		if m := reUnlockCode.FindStringSubmatch(w.staffCmd("outbox", "--application", appID, "--limit", "1")); m != nil {
			return m[1]
		}
		if time.Now().After(deadline) {
			w.t.Fatal("no unlock code in the outbox")
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// A locked PIN restored through `certdesk token unlock` with the SO PIN
// the server recorded at `ukey init`, which is rotated on the way; what an
// attacker would try around it is refused, and no SO PIN is in any output.
func TestUnlockRestoresALockedUKEY(t *testing.T) {
	ctx := context.Background()
	w := newWorld(t)
	certdesk := buildCertdesk(t)
	tk := softhsmtest.Blank(t)
	serial, initSaid := w.initUKEY(tk, "holder-ukey")
	oldSO, pending, err := w.srv.Service.SOPINForTest(ctx, serial)
	if err != nil || len(oldSO) < 16 || pending != nil {
		t.Fatalf("recorded SO PIN: %d chars, pending %v, %v", len(oldSO), pending, err)
	}
	if err := soOpens(t, tk, oldSO); err != nil {
		t.Fatalf("the recorded SO PIN does not open the UKEY: %v", err)
	}
	a := w.issuedOnUKEY(ctx, tk, "13700137000", "e2eholder")
	forgetPIN(t, tk)
	if p11(t, tk, "--login", "--pin", firstPIN, "--list-objects") == nil {
		t.Fatal("the old PIN still works: the test's lock did not take")
	}

	// Probes from another account: someone else's serial, with the
	// holder's certificate (readable from the UKEY by anyone holding it).
	holderCert := w.tokenCert(tk)
	b, err := client.New(client.Config{BaseURL: w.srv.URL, Log: quiet, Retries: 1})
	if err != nil {
		t.Fatal(err)
	}
	b.Register(ctx, api.RegisterRequest{Mobile: "13600136000", Password: "Zh3ngShu!2026"})
	if _, err := b.Login(ctx, api.LoginRequest{Login: "13600136000", Password: "Zh3ngShu!2026"}); err != nil {
		t.Fatal(err)
	}
	if _, err := b.StartUnlock(ctx, serial, api.StartUnlockRequest{Password: "Zh3ngShu!2026", Certificate: holderCert}); !isCode(err, api.CodeNotFound) {
		t.Fatalf("another account started an unlock of the holder's UKEY: %v", err)
	}
	// The holder with a wrong password: refused before any SMS.
	if _, err := w.c.StartUnlock(ctx, serial, api.StartUnlockRequest{Password: "wrong", Certificate: holderCert}); !isCode(err, api.CodeBadCredentials) {
		t.Fatalf("wrong password: %v", err)
	}
	// Five wrong codes void an unlock; the right one is then refused.
	u, err := w.c.StartUnlock(ctx, serial, api.StartUnlockRequest{SecurityAnswer: "福州", Certificate: holderCert})
	if err != nil {
		t.Fatal(err)
	}
	right := w.unlockCode(a.ID)
	if _, err := b.Unlock(ctx, u.ID); !isCode(err, api.CodeNotFound) {
		t.Fatalf("another account read the unlock: %v", err)
	}
	if _, err := b.UnlockCode(ctx, u.ID, right); !isCode(err, api.CodeNotFound) {
		t.Fatalf("another account sent the code: %v", err)
	}
	for i := 0; i < 5; i++ {
		wrong := fmt.Sprintf("%06d", (atoi(right)+1+i)%1_000_000)
		if _, err := w.c.UnlockCode(ctx, u.ID, wrong); err == nil {
			t.Fatal("a wrong code was accepted")
		}
	}
	if got, err := w.c.Unlock(ctx, u.ID); err != nil || got.State != api.UnlockLocked {
		t.Fatalf("after 5 wrong codes: %+v %v", got, err)
	}
	if _, err := w.c.UnlockCode(ctx, u.ID, right); !isCode(err, api.CodeStateNotAllowed) {
		t.Fatalf("the right code after the lock: %v", err)
	}
	if _, err := w.c.UnlockGrant(ctx, u.ID); !isCode(err, api.CodeStateNotAllowed) {
		t.Fatalf("a grant of a voided unlock: %v", err)
	}

	// The holder's unlock through the command line.
	home := t.TempDir()
	cmd := exec.Command(certdesk, "token", "unlock", "--module", tk.ModulePath, "--login", "13700137000")
	cmd.Env = append(os.Environ(), "CERTDESK_HOME="+home, "CERTDESK_SERVER="+w.srv.URL)
	in, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	io.WriteString(in, "Zh3ngShu!2026\n")
	code := w.waitNewCode(a.ID, right)
	newPIN := "Nw8pin#2026"
	io.WriteString(in, "000000\n"+code+"\n"+newPIN+"\n"+newPIN+"\n")
	in.Close()
	if err := cmd.Wait(); err != nil {
		t.Fatalf("certdesk token unlock: %v\nstdout: %s\nstderr: %s", err, stdout.String(), stderr.String())
	}
	if !strings.Contains(stdout.String(), "UKEY 已解锁") || !strings.Contains(stderr.String(), "还可再试 4 次") {
		t.Fatalf("certdesk token unlock said:\n%s\n%s", stdout.String(), stderr.String())
	}
	if err := p11(t, tk, "--login", "--pin", newPIN, "--list-objects"); err != nil {
		t.Fatalf("the new PIN does not open the UKEY: %v", err)
	}
	newSO, pending, err := w.srv.Service.SOPINForTest(ctx, serial)
	if err != nil || pending != nil || bytes.Equal(newSO, oldSO) {
		t.Fatalf("SO PIN after the unlock: changed %v, pending %v, %v", !bytes.Equal(newSO, oldSO), pending != nil, err)
	}
	if soOpens(t, tk, oldSO) == nil {
		t.Fatal("the old SO PIN still opens the UKEY")
	}
	if err := soOpens(t, tk, newSO); err != nil {
		t.Fatalf("the rotated SO PIN does not open the UKEY: %v", err)
	}
	// The grant was one-time, and the used code too.
	us := w.unlocksOf(ctx, serial)
	if _, err := w.c.UnlockGrant(ctx, us); !isCode(err, api.CodeStateNotAllowed) {
		t.Fatalf("a second grant: %v", err)
	}
	if _, err := w.c.UnlockCode(ctx, us, code); !isCode(err, api.CodeStateNotAllowed) {
		t.Fatalf("the used code again: %v", err)
	}

	// Unlocks started: the voided one and the command line's. Five an hour
	// (each sends a code to guess): three more, then refused.
	for i := 0; i < 3; i++ {
		if _, err := w.c.StartUnlock(ctx, serial, api.StartUnlockRequest{SecurityAnswer: "福州", Certificate: holderCert}); err != nil {
			t.Fatalf("unlock start %d: %v", i+3, err)
		}
	}
	// Asked once over plain HTTP: the client would wait out the Retry-After.
	body, _ := json.Marshal(api.StartUnlockRequest{SecurityAnswer: "福州", Certificate: holderCert})
	req, _ := http.NewRequest("POST", w.srv.URL+api.Prefix+"/ukeys/"+serial+"/unlocks", bytes.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+w.c.Token())
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusTooManyRequests || resp.Header.Get("Retry-After") == "" {
		t.Fatalf("a sixth unlock within the hour: %d", resp.StatusCode)
	}
	audit := w.staffCmd("user", "audit", "13700137000")
	for _, ev := range []string{"unlock_started", "unlock_code_wrong", "unlock_code_locked", "unlock_released", "unlock_done"} {
		if !strings.Contains(audit, ev) {
			t.Errorf("audit history lacks %s:\n%s", ev, audit)
		}
	}
	// A support bundle made now, and everything printed or logged.
	bundle := filepath.Join(t.TempDir(), "bundle.zip")
	diag := exec.Command(certdesk, "diag", "--bundle", bundle)
	diag.Env = cmd.Env
	diagOut, _ := diag.CombinedOutput()
	unlockView, _ := w.c.Unlock(ctx, us)
	auditView, _ := w.c.Audit(ctx)
	apiSaid, _ := json.Marshal([]any{unlockView, auditView})
	texts := map[string]string{"API responses (unlock, audit)": string(apiSaid), "unlock stdout": stdout.String(), "unlock stderr": stderr.String(), "audit": audit,
		"server log": w.logs.String(), "ukey init": initSaid, "diag": string(diagOut), "ukey list": w.staffCmd("ukey", "list", "--json")}
	if !strings.Contains(texts["server log"], "/unlocks/{unlock}/grant") {
		t.Fatal("the server log has no line of the grant: the check below would prove nothing")
	}
	zr, err := zip.OpenReader(bundle)
	if err != nil {
		t.Fatalf("support bundle: %v\n%s", err, diagOut)
	}
	for _, f := range zr.File {
		rc, _ := f.Open()
		b, _ := io.ReadAll(rc)
		rc.Close()
		texts["bundle "+f.Name] = string(b)
	}
	zr.Close()
	for name, text := range texts {
		for _, so := range [][]byte{oldSO, newSO} {
			if strings.Contains(text, string(so)) {
				t.Errorf("an SO PIN appears in the %s", name)
			}
		}
		if strings.Contains(text, newPIN) {
			t.Errorf("the new user PIN appears in the %s", name)
		}
	}
}

// tokenCert is the certificate on the UKEY, read without a PIN.
func (w *world) tokenCert(tk *softhsmtest.Token) []byte {
	w.t.Helper()
	m, err := token.Load(tk.ModulePath)
	if err != nil {
		w.t.Fatal(err)
	}
	defer m.Close()
	tok, err := m.Find("", tk.Label)
	if err != nil {
		w.t.Fatal(err)
	}
	s, err := m.Open(tok)
	if err != nil {
		w.t.Fatal(err)
	}
	defer s.Close()
	cs, err := s.Certificates()
	if err != nil || len(cs) != 1 {
		w.t.Fatalf("certificates on the UKEY: %d %v", len(cs), err)
	}
	return cs[0].Raw
}

// waitNewCode waits for an unlock code other than old.
func (w *world) waitNewCode(appID, old string) string {
	w.t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		if c := w.unlockCode(appID); c != old {
			return c
		}
		time.Sleep(200 * time.Millisecond)
	}
	w.t.Fatal("the command line's unlock sent no SMS code")
	return ""
}

// unlocksOf is the newest unlock of a UKEY: the command line does not
// print its ID, so it is read from the store.
func (w *world) unlocksOf(ctx context.Context, serial string) string {
	w.t.Helper()
	us, err := w.srv.Store.Unlocks(ctx, "")
	if err != nil {
		w.t.Fatal(err)
	}
	for _, u := range us {
		if u.Serial == serial {
			return u.ID
		}
	}
	w.t.Fatal("no unlock recorded")
	return ""
}

func isCode(err error, c api.Code) bool {
	var ae *api.Error
	return errors.As(err, &ae) && ae.Code == c
}

func atoi(s string) int {
	n := 0
	for _, r := range s {
		n = n*10 + int(r-'0')
	}
	return n
}

// runCertdesk runs the applicant's program against the world's server.
func (w *world) certdesk(bin string, stdin io.Reader, args ...string) (stdout, stderr string, err error) {
	cmd := exec.Command(bin, args...)
	cmd.Env = append(os.Environ(), "CERTDESK_HOME="+w.home(), "CERTDESK_SERVER="+w.srv.URL)
	cmd.Stdin = stdin
	var o, e bytes.Buffer
	cmd.Stdout, cmd.Stderr = &o, &e
	err = cmd.Run()
	return o.String(), e.String(), err
}

func (w *world) home() string {
	if w.homeDir == "" {
		w.homeDir = w.t.TempDir()
	}
	return w.homeDir
}

var reRenewal = regexp.MustCompile(`申请编号 (\w+)`)

// `certdesk token show` and `certdesk cert renew`: a certificate within 90
// days of its end shows as expiring; the renewal is interrupted after its
// key is made (a wrong download code: the key is on the UKEY, no
// certificate), run again it ends with one new key and one new
// certificate on the same UKEY, the old pair removed and the old
// certificate revoked as superseded.
func TestRenewAndShowFromTheCommandLine(t *testing.T) {
	ctx := context.Background()
	w := newWorldWith(t, func(c *server.Config) { c.CertValidity = 60 * 24 * time.Hour })
	bin := buildCertdesk(t)
	tk := softhsmtest.New(t, "renew-ukey")
	a := w.issuedOnUKEY(ctx, tk, "13500135000", "e2erenew")

	show := func() []holder.Cert {
		t.Helper()
		out, errOut, err := w.certdesk(bin, nil, "token", "show", "--json", "--module", tk.ModulePath)
		if err != nil {
			t.Fatalf("token show: %v\n%s", err, errOut)
		}
		var cs []holder.Cert
		if err := json.Unmarshal([]byte(out), &cs); err != nil {
			t.Fatalf("token show --json: %v\n%s", err, out)
		}
		return cs
	}
	before := show()
	if len(before) != 1 || before[0].Status != api.CertExpiring || before[0].DaysLeft > 60 || before[0].TokenLabel != "renew-ukey" {
		t.Fatalf("token show before the renewal: %+v", before)
	}
	if out, _, err := w.certdesk(bin, nil, "token", "show", "--module", tk.ModulePath); err != nil || !strings.Contains(out, "即将到期") || !strings.Contains(out, before[0].SHA256) {
		t.Fatalf("token show: %v\n%s", err, out)
	}

	renew := func(code func(renewal string) string) (string, string, error) {
		cmd := exec.Command(bin, "cert", "renew", "--module", tk.ModulePath, "--wait", "1m")
		cmd.Env = append(os.Environ(), "CERTDESK_HOME="+w.home(), "CERTDESK_SERVER="+w.srv.URL)
		in, _ := cmd.StdinPipe()
		var out bytes.Buffer
		errOut := &syncBuffer{}
		cmd.Stdout, cmd.Stderr = &out, errOut
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		io.WriteString(in, tk.PIN+"\n福州\n")
		deadline := time.Now().Add(30 * time.Second)
		var id string
		for id == "" && time.Now().Before(deadline) {
			if m := reRenewal.FindStringSubmatch(errOut.String()); m != nil {
				id = m[1]
			} else if strings.Contains(errOut.String(), "已核准") {
				id = "approved"
			}
			time.Sleep(50 * time.Millisecond)
		}
		if id == "" {
			cmd.Process.Kill()
			t.Fatalf("cert renew said no renewal:\n%s", errOut.String())
		}
		io.WriteString(in, code(id)+"\n")
		in.Close()
		err := cmd.Wait()
		return out.String(), errOut.String(), err
	}
	var renewal string
	// First run: paid by transfer, then a wrong code: cut after the key.
	_, errOut, err := renew(func(id string) string {
		renewal = id
		w.staffCmd("payment", "confirm", id, "--reason", "工行回单 0099")
		return "00000000"
	})
	if err == nil {
		t.Fatalf("a wrong code renewed:\n%s", errOut)
	}
	if n := w.keysOn(tk, renewal); n != 1 {
		t.Fatalf("after the cut: %d keys of the renewal (stderr: %s)", n, errOut)
	}
	// Second run: resumes the same renewal, the same key.
	out, errOut, err := renew(func(string) string { return w.codeFromOutbox(renewal) })
	if err != nil || !strings.Contains(out, "证书已更新") {
		t.Fatalf("cert renew: %v\n%s\n%s", err, out, errOut)
	}
	after := show()
	// (This CA issues for 60 days, so the new one is "expiring" too.)
	if len(after) != 1 || after[0].Serial == before[0].Serial || !after[0].NotAfter.After(before[0].NotAfter) || after[0].Status == api.CertRevoked {
		t.Fatalf("token show after the renewal: %+v", after)
	}
	if w.keysOn(tk, renewal) != 1 || w.keysOn(tk, a.ID) != 0 {
		t.Fatalf("keys after the renewal: %d new, %d old", w.keysOn(tk, renewal), w.keysOn(tk, a.ID))
	}
	if st, err := w.c.CertificateStatus(ctx, before[0].Serial); err != nil || st.Status != api.CertRevoked || st.RevokeReason != 4 {
		t.Fatalf("the renewed certificate: %+v %v", st, err)
	}
}

// keysOn counts appID's keys on the UKEY.
func (w *world) keysOn(tk *softhsmtest.Token, appID string) int {
	w.t.Helper()
	n := 0
	onUKEY(w.t, tk, func(s *token.Session) {
		ks, err := s.Keys(appID)
		if err != nil {
			w.t.Fatal(err)
		}
		n = len(ks)
	})
	return n
}
