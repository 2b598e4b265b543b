package ui

// The steps' logic through their interfaces: no server, no SoftHSM2 and
// no display (Fyne's test driver). What these fakes do that the real
// parts cannot be made to do in a test — a PIN that counts down and
// locks, a UKEY pulled in the middle of a call, a server that refuses a
// file it was sent — is what is tested here; the real implementations are
// covered end to end (journey_test.go, ukeylogin_test.go, app/sync).

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/big"
	"strings"
	"sync"
	"testing"
	"time"

	"fyne.io/fyne/v2/test"
	"fyne.io/fyne/v2/widget"

	"certdesk/app/api"
	"certdesk/app/apply"
	"certdesk/app/apply/applytest"
	"certdesk/app/client"
	"certdesk/app/material/testimg"
	appsync "certdesk/app/sync"
	"certdesk/token"
)

// fakeUKEY counts PIN tries the way a token does: flags after each wrong
// PIN, the final try refused unless chosen, locked at zero. pulled makes
// every call fail as a pulled key does.
type fakeUKEY struct {
	mu      sync.Mutex
	pin     string
	tries   int // left
	present bool
	pullOn  string // "install": the key is pulled during that call
	keys    map[string]*fakeKey
	made    int // keys generated
	pins    [][]byte
	certs   []*x509.Certificate
}

func newFakeUKEY(pin string, tries int) *fakeUKEY {
	return &fakeUKEY{pin: pin, tries: tries, present: true, keys: map[string]*fakeKey{}}
}

func (u *fakeUKEY) flags() token.Flags {
	return token.Flags{LoginRequired: true, PINLocked: u.tries == 0, PINFinalTry: u.tries == 1, PINCountLow: u.tries == 2}
}

func (u *fakeUKEY) Find(context.Context) (token.Token, error) {
	u.mu.Lock()
	defer u.mu.Unlock()
	if !u.present {
		return token.Token{}, token.ErrNoToken
	}
	return token.Token{Label: "测试UKEY", Serial: "F00D", Flags: u.flags()}, nil
}

func (u *fakeUKEY) Open(_ context.Context, pin []byte, finalTry bool) (UKEYSession, error) {
	u.mu.Lock()
	defer u.mu.Unlock()
	u.pins = append(u.pins, pin) // kept to check the caller cleared it
	switch f := u.flags(); {
	case !u.present:
		return nil, fmt.Errorf("find UKEY: %w", token.ErrNoToken)
	case f.PINLocked:
		return nil, fmt.Errorf("login: %w", token.ErrPINLocked)
	case f.PINFinalTry && !finalTry:
		return nil, fmt.Errorf("login: %w", token.ErrPINFinalTry)
	}
	if string(pin) != u.pin {
		u.tries--
		if u.tries == 0 {
			return nil, fmt.Errorf("login: %w", token.ErrPINLocked)
		}
		f := u.flags()
		return nil, &token.PINError{Err: token.ErrWrongPIN, CountLow: f.PINCountLow, FinalTry: f.PINFinalTry}
	}
	u.tries = 3
	return &fakeSession{u: u}, nil
}

func (u *fakeUKEY) plug(in bool) {
	u.mu.Lock()
	u.present = in
	u.mu.Unlock()
}

// pinsCleared says every PIN handed to Open was zeroed after its use.
func (u *fakeUKEY) pinsCleared() bool {
	u.mu.Lock()
	defer u.mu.Unlock()
	for _, p := range u.pins {
		for _, b := range p {
			if b != 0 {
				return false
			}
		}
	}
	return len(u.pins) > 0
}

type fakeSession struct{ u *fakeUKEY }

func (s *fakeSession) gone() error {
	if !s.u.present {
		return token.ErrTokenRemoved
	}
	return nil
}

func (s *fakeSession) KeyFor(appID string) (UKEYKey, error) {
	s.u.mu.Lock()
	defer s.u.mu.Unlock()
	if err := s.gone(); err != nil {
		return nil, err
	}
	if k := s.u.keys[appID]; k != nil {
		return k, nil
	}
	pk, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	k := &fakeKey{u: s.u, PrivateKey: pk}
	s.u.keys[appID] = k
	s.u.made++
	return k, nil
}

func (s *fakeSession) Certificates() ([]*x509.Certificate, error) {
	s.u.mu.Lock()
	defer s.u.mu.Unlock()
	return append([]*x509.Certificate(nil), s.u.certs...), s.gone()
}

func (s *fakeSession) Pairs() ([]UKEYPair, error) {
	s.u.mu.Lock()
	defer s.u.mu.Unlock()
	var out []UKEYPair
	for _, c := range s.u.certs {
		for _, k := range s.u.keys {
			if k.PublicKey.Equal(c.PublicKey) {
				out = append(out, UKEYPair{Cert: c, Key: k})
			}
		}
	}
	return out, s.gone()
}

func (s *fakeSession) HasKey(appID string) (bool, error) {
	s.u.mu.Lock()
	defer s.u.mu.Unlock()
	return s.u.keys[appID] != nil, s.gone()
}

func (s *fakeSession) RemoveKeys(appID string) error {
	s.u.mu.Lock()
	defer s.u.mu.Unlock()
	if k := s.u.keys[appID]; k != nil {
		var keep []*x509.Certificate
		for _, c := range s.u.certs {
			if !k.PublicKey.Equal(c.PublicKey) {
				keep = append(keep, c)
			}
		}
		s.u.certs = keep
		delete(s.u.keys, appID)
	}
	return s.gone()
}

func (s *fakeSession) Close() {}

type fakeKey struct {
	u *fakeUKEY
	*ecdsa.PrivateKey
}

func (k *fakeKey) CSR(cn string) ([]byte, error) {
	return x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{Subject: pkix.Name{CommonName: cn}}, k.PrivateKey)
}

func (k *fakeKey) Install(der []byte) (*x509.Certificate, error) {
	k.u.mu.Lock()
	defer k.u.mu.Unlock()
	if k.u.pullOn == "install" {
		k.u.present, k.u.pullOn = false, ""
	}
	if !k.u.present {
		return nil, fmt.Errorf("install certificate: %w", token.ErrTokenRemoved)
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, err
	}
	k.u.certs = append(k.u.certs, c)
	return c, nil
}

func (k *fakeKey) Sign(r io.Reader, digest []byte, o crypto.SignerOpts) ([]byte, error) {
	return k.PrivateKey.Sign(r, digest, o)
}

// fakeCA answers downloads as the service does: the code checked, one
// certificate per key, the same one again for the same key.
type fakeCA struct {
	mu     sync.Mutex
	code   string
	key    *ecdsa.PrivateKey
	issued map[string]*x509.Certificate // by the key's DER
	calls  int
}

func newFakeCA(code string) *fakeCA {
	k, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	return &fakeCA{code: code, key: k, issued: map[string]*x509.Certificate{}}
}

func (f *fakeCA) Download(_ context.Context, appID string, req api.DownloadRequest) (*api.CertificateBundle, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls++
	if req.Code != f.code {
		return nil, api.NewError(api.CodeCodeInvalid)
	}
	csr, err := x509.ParseCertificateRequest(req.CSR)
	if err != nil {
		return nil, err
	}
	pub, _ := x509.MarshalPKIXPublicKey(csr.PublicKey)
	c := f.issued[string(pub)]
	if c == nil {
		tmpl := &x509.Certificate{SerialNumber: big.NewInt(int64(len(f.issued) + 0x51)), Subject: pkix.Name{CommonName: "福州示例软件有限公司", Organization: []string{"福州示例软件有限公司"}},
			Issuer: pkix.Name{CommonName: "Test CA"}, NotBefore: time.Now(), NotAfter: time.Now().AddDate(1, 0, 0), KeyUsage: x509.KeyUsageDigitalSignature}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, csr.PublicKey, f.key)
		if err != nil {
			return nil, err
		}
		c, _ = x509.ParseCertificate(der)
		f.issued[string(pub)] = c
	}
	return &api.CertificateBundle{Certificate: c.Raw, Serial: c.SerialNumber.Text(16)}, nil
}

// testEnv is a stepEnv for an approved organisation application with no
// journey behind it: moveOn and say are recorded.
type testEnv struct {
	mu     sync.Mutex
	said   []string
	moved  []string
	called chan struct{}
}

func newTestEnv(t *testing.T, l apply.Lang, st apply.State) (stepEnv, *testEnv) {
	t.Helper()
	test.NewTempApp(t)
	_ = LoadTranslations()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	rec := &testEnv{called: make(chan struct{}, 256)}
	a := &api.Application{ID: "app0000000000001", Kind: apply.KindOrg, State: st, Form: applytest.OrgForm()}
	return stepEnv{ctx: ctx, app: a, lang: l, log: slog.New(slog.NewTextHandler(io.Discard, nil)), clock: systemClock{}, every: 20 * time.Millisecond,
		called: func() {
			select {
			case rec.called <- struct{}{}:
			default:
			}
		},
		say:    func(s string) { rec.mu.Lock(); rec.said = append(rec.said, s); rec.mu.Unlock() },
		moveOn: func(n string) { rec.mu.Lock(); rec.moved = append(rec.moved, n); rec.mu.Unlock() },
		show:   func(*api.Application) {},
		print:  func() {},
	}, rec
}

func text(l *widget.Label) string { return l.Text }

func TestDownloadStepUKEYStates(t *testing.T) {
	env, rec := newTestEnv(t, apply.ZH, apply.StateApproved)
	u := newFakeUKEY("12345678", 3)
	ca := newFakeCA("20261203")
	d := newDownloadStep(env, ca, u)
	try := func(pin, code string) {
		t.Helper()
		onUIWait(func() {
			d.pin.SetText(pin)
			d.code.SetText(code)
		})
		onUIWait(d.Start)
		until(t, rec.called, func() bool { return !d.btn.Disabled() })
	}
	until(t, rec.called, func() bool { return strings.Contains(d.info.Text, "测试UKEY") })

	// A wrong PIN: said once, without "many times"; the entry is emptied.
	try("00000000", "20261203")
	if got := d.err.Text; !strings.HasPrefix(got, T("ukey.wrongpin")) || !strings.Contains(got, T("ukey.countlow")) || d.pin.Text != "" {
		t.Fatalf("after one wrong PIN: %q (PIN entry %q)", got, d.pin.Text)
	}
	// Second wrong PIN leaves the final try: the tick appears.
	try("00000000", "20261203")
	if !strings.Contains(d.err.Text, T("ukey.finaltry")) || !d.final.Visible() {
		t.Fatalf("at the final try: %q, tick shown %v", d.err.Text, d.final.Visible())
	}
	// Without the tick the final try is not spent, whatever is typed.
	try("00000000", "20261203")
	if u.tries != 1 || d.err.Text != T("ukey.finaltry") {
		t.Fatalf("final try spent without the tick: tries %d, %q", u.tries, d.err.Text)
	}
	// Ticked and wrong: locked, and said so.
	onUIWait(func() { d.final.SetChecked(true) })
	try("00000000", "20261203")
	if d.err.Text != T("ukey.locked") || u.tries != 0 {
		t.Fatalf("locked: %q, tries %d", d.err.Text, u.tries)
	}
	// Detect now shows the lock before any PIN is typed.
	onUIWait(d.Detect)
	until(t, rec.called, func() bool { return strings.Contains(d.info.Text, T("ukey.locked")) })
	if ca.calls != 0 {
		t.Fatalf("the server was asked %d times with no UKEY logged in", ca.calls)
	}
	if !u.pinsCleared() {
		t.Fatal("a PIN handed to the UKEY was not cleared after use")
	}
	if len(rec.moved) != 0 {
		t.Fatalf("moved on: %v", rec.moved)
	}
}

func TestDownloadResumesAfterUKEYPulled(t *testing.T) {
	env, rec := newTestEnv(t, apply.ZH, apply.StateApproved)
	u := newFakeUKEY("12345678", 3)
	u.pullOn = "install"
	ca := newFakeCA("20261203")
	d := newDownloadStep(env, ca, u)
	start := func() {
		onUIWait(func() {
			d.pin.SetText("12345678")
			d.code.SetText(" 20261203 ") // pasted with spaces
		})
		onUIWait(d.Start)
		until(t, rec.called, func() bool { return !d.btn.Disabled() || d.Cert != nil })
	}
	start()
	if d.err.Text != T("dl.removed") || d.Cert != nil {
		t.Fatalf("pulled during install: %q, cert %v", d.err.Text, d.Cert)
	}
	for i, want := range []string{"✓", "✓", "✓", "…", "○"} {
		if !strings.HasPrefix(d.stages[i].Text, want) {
			t.Fatalf("stage %d after the pull: %q, want %s…", i, d.stages[i].Text, want)
		}
	}
	// Pressed again while still out: the same words, nothing sent.
	start()
	if d.err.Text != T("dl.removed") || ca.calls != 1 {
		t.Fatalf("still pulled: %q, %d downloads", d.err.Text, ca.calls)
	}
	// Plugged back: the same key, the same certificate, installed.
	u.plug(true)
	start()
	eventually(t, "the certificate installed", func() bool { return d.Cert != nil })
	if u.made != 1 || len(ca.issued) != 1 || ca.calls != 2 {
		t.Fatalf("%d keys made, %d certificates issued, %d downloads; want 1, 1, 2", u.made, len(ca.issued), ca.calls)
	}
	if !strings.Contains(d.result.Text, T("dl.done")) || !strings.Contains(d.result.Text, strings.ToUpper(d.Cert.SerialNumber.Text(16))) || !d.btn.Hidden {
		t.Fatalf("result: %q", d.result.Text)
	}
	if !u.pinsCleared() {
		t.Fatal("a PIN handed to the UKEY was not cleared after use")
	}
}

func TestDownloadWrongCodeKeepsKey(t *testing.T) {
	env, rec := newTestEnv(t, apply.EN, apply.StateApproved)
	u := newFakeUKEY("12345678", 3)
	d := newDownloadStep(env, newFakeCA("20261203"), u)
	onUIWait(func() {
		d.pin.SetText("12345678")
		d.code.SetText("11111111")
	})
	onUIWait(d.Start)
	until(t, rec.called, func() bool { return !d.btn.Disabled() })
	if d.err.Text != api.NewError(api.CodeCodeInvalid).MessageEN {
		t.Fatalf("wrong code in the English UI: %q", d.err.Text)
	}
	if u.made != 1 {
		t.Fatalf("%d keys", u.made)
	}
}

// ukeyLoginServer that counts what it is asked.
type fakeLoginServer struct{ nonces, logins int }

func (f *fakeLoginServer) LoginNonce(context.Context) (*api.Nonce, error) {
	f.nonces++
	return &api.Nonce{Nonce: "n0nce"}, nil
}

func (f *fakeLoginServer) UKEYLogin(_ context.Context, req api.UKEYLoginRequest) (*api.Session, error) {
	f.logins++
	return &api.Session{Token: "t"}, nil
}

func TestUKEYLoginStates(t *testing.T) {
	test.NewTempApp(t)
	_ = LoadTranslations()
	u := newFakeUKEY("12345678", 3)
	srv := &fakeLoginServer{}
	var got *api.Session
	s := NewUKEYLogin(srv, apply.ZH, u, func(sess *api.Session) { got = sess })
	s.finished = make(chan struct{}, 16)
	try := func(pin string) {
		onUIWait(func() { s.pin.SetText(pin) })
		onUIWait(s.login)
		<-s.finished
	}
	// No UKEY at all.
	u.plug(false)
	try("12345678")
	if s.err.Text != T("ukey.none") {
		t.Fatalf("no UKEY: %q", s.err.Text)
	}
	// A UKEY without a certificate: the PIN is right, nothing to sign with.
	u.plug(true)
	try("12345678")
	if s.err.Text != T("ukey.nocert") || srv.nonces != 0 || got != nil {
		t.Fatalf("no certificate: %q, %d nonces", s.err.Text, srv.nonces)
	}
	// Locked: shown by Detect before a PIN is typed, and on a try.
	u.tries = 0
	onUIWait(s.Detect)
	<-s.finished
	if !strings.Contains(s.info.Text, T("ukey.locked")) {
		t.Fatalf("locked UKEY detected as %q", s.info.Text)
	}
	try("12345678")
	if s.err.Text != T("ukey.locked") || srv.logins != 0 {
		t.Fatalf("locked: %q", s.err.Text)
	}
	if !u.pinsCleared() {
		t.Fatal("a PIN handed to the UKEY was not cleared after use")
	}
}

// fakeMaterials serves a checklist of one required material and records
// deletes; fakeSender answers sends with err.
type fakeMaterials struct {
	mu   sync.Mutex
	rule apply.MaterialRule
	have []api.MaterialInfo
}

func (f *fakeMaterials) Checklist(context.Context, string) (*api.Checklist, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	it := api.ChecklistItem{Rule: f.rule, Materials: f.have, Satisfied: len(f.have) > 0}
	return &api.Checklist{Items: []api.ChecklistItem{it}, Complete: it.Satisfied}, nil
}

func (f *fakeMaterials) DeleteMaterial(context.Context, string, string) error { return nil }

type fakeSender struct {
	err  error
	sent int
	m    *fakeMaterials
}

func (s *fakeSender) Send(_ context.Context, _ string, t apply.MaterialType, name string, data []byte, progress func(client.Progress)) error {
	s.sent++
	if progress != nil {
		progress(client.Progress{Sent: int64(len(data)), Total: int64(len(data))})
	}
	if s.err == nil {
		s.m.mu.Lock()
		s.m.have = append(s.m.have, api.MaterialInfo{ID: "m1", Type: t, Bytes: int64(len(data))})
		s.m.mu.Unlock()
	}
	return s.err
}

func TestMaterialRefusedOrQueued(t *testing.T) {
	refusal := api.NewError(api.CodeMaterialInvalid).WithMessage(apply.Text{ZH: "图片中看不到证件号码,请重新扫描", EN: "The ID number is not readable; scan it again"})
	cases := []struct {
		name string
		lang apply.Lang
		err  error
		want string // beside the item
		next bool   // 下一步 enabled
	}{
		{"refused zh", apply.ZH, refusal, refusal.MessageZH, false},
		{"refused en", apply.EN, refusal, refusal.MessageEN, false},
		{"queued", apply.ZH, fmt.Errorf("%w: %w", appsync.ErrQueued, client.ErrNetwork), "mat.queued", false}, // a key: T once translations are loaded
		{"accepted", apply.ZH, nil, "", true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			env, rec := newTestEnv(t, tc.lang, apply.StateSubmitted)
			a := env.app
			rule, _ := apply.RuleFor(a.Kind, a.Form.Options(), a.Form.HandlerIsApplicant(a.Kind), apply.MatOrgLicense)
			fm := &fakeMaterials{rule: rule}
			snd := &fakeSender{err: tc.err, m: fm}
			m := newMaterialsStep(env, fm, snd)
			until(t, rec.called, func() bool { return m.item(apply.MatOrgLicense) != nil })
			m.Add(apply.MatOrgLicense, "营业执照.jpg", testimg.JPEG(testimg.Scan(827, 1169, 7), 85, 100))
			m.Wait()
			it := m.item(apply.MatOrgLicense)
			if snd.sent != 1 {
				t.Fatalf("%d sends of a file that passed the local check", snd.sent)
			}
			if strings.HasPrefix(tc.want, "mat.") {
				tc.want = T(tc.want)
			}
			if tc.want != "" && !strings.Contains(it.fixed.Text, tc.want) {
				t.Fatalf("beside the item: %q, want %q", it.fixed.Text, tc.want)
			}
			if tc.err == nil && !strings.Contains(it.verdict.Text, "营业执照.jpg") {
				t.Fatalf("accepted file: %q", it.verdict.Text)
			}
			if tc.err != nil && strings.HasPrefix(it.verdict.Text, "✓ "+T("mat.sent", map[string]any{"Name": "营业执照.jpg"})) {
				t.Fatalf("a file not on the server shown as sent: %q", it.verdict.Text)
			}
			if m.next.Disabled() == tc.next {
				t.Fatalf("next enabled %v, want %v", !m.next.Disabled(), tc.next)
			}
		})
	}
}

// A file refused after a background retry reaches the item in the
// window's language (the queue keeps both).
func TestBackgroundRefusalInWindowLanguage(t *testing.T) {
	env, rec := newTestEnv(t, apply.EN, apply.StateSubmitted)
	a := env.app
	rule, _ := apply.RuleFor(a.Kind, a.Form.Options(), a.Form.HandlerIsApplicant(a.Kind), apply.MatOrgLicense)
	fm := &fakeMaterials{rule: rule}
	m := newMaterialsStep(env, fm, &fakeSender{m: fm})
	until(t, rec.called, func() bool { return m.item(apply.MatOrgLicense) != nil })
	ae := api.NewError(api.CodeMaterialInvalid).WithMessage(apply.Text{ZH: "文件已损坏", EN: "The file is damaged"})
	onUIWait(func() {
		m.SyncEvent(appsync.Event{Kind: appsync.UploadFailed, AppID: a.ID, Type: apply.MatOrgLicense, Err: ae})
	})
	m.Wait()
	if got := m.item(apply.MatOrgLicense).fixed.Text; got != "✗ The file is damaged" {
		t.Fatalf("background refusal: %q", got)
	}
	// Another application's event is not this page's.
	onUIWait(func() {
		m.SyncEvent(appsync.Event{Kind: appsync.UploadDone, AppID: "other", Type: apply.MatOrgLicense})
	})
	if got := m.item(apply.MatOrgLicense).fixed.Text; got != "✗ The file is damaged" {
		t.Fatalf("after another application's event: %q", got)
	}
}

// fakeForms is the form's server: it keeps the form as saved.
type fakeForms struct {
	mu   sync.Mutex
	form apply.Values
}

func (f *fakeForms) Application(_ context.Context, id string) (*api.Application, error) {
	return &api.Application{ID: id, Kind: apply.KindOrg, Form: f.form}, nil
}
func (f *fakeForms) Agreement(context.Context) (*api.Agreement, error) {
	return &api.Agreement{Version: "2026-11", Text: "协议"}, nil
}
func (f *fakeForms) CreateApplication(context.Context, api.CreateApplicationRequest, string) (*api.Application, error) {
	return nil, errors.New("not used")
}
func (f *fakeForms) UpdateForm(_ context.Context, id string, req api.UpdateFormRequest) (*api.Application, error) {
	return nil, api.StateError(&apply.StepError{State: apply.StatePaid, Event: apply.EvSubmit})
}

// fakeDrafts is the local store's draft table.
type fakeDrafts struct {
	mu sync.Mutex
	d  map[string]*appsync.Draft
}

func (f *fakeDrafts) SaveDraft(_ context.Context, id string, k apply.Kind, form apply.Values) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.d[id] = &appsync.Draft{AppID: id, Kind: k, Form: form, Dirty: true}
	return nil
}
func (f *fakeDrafts) Draft(_ context.Context, id string) (*appsync.Draft, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.d[id], nil
}
func (f *fakeDrafts) DropDraft(_ context.Context, id string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	delete(f.d, id)
	return nil
}

// An edit that conflicts with the server's state (paid meanwhile): the
// typed value stays, the changed field and only it says it was not saved
// and why, and the local copy is kept.
func TestConflictingEditKeepsTheValue(t *testing.T) {
	test.NewTempApp(t)
	_ = LoadTranslations()
	form := applytest.OrgForm()
	srv := &fakeForms{form: form}
	drafts := &fakeDrafts{d: map[string]*appsync.Draft{}}
	a := &api.Application{ID: "app0000000000002", Kind: apply.KindOrg, State: apply.StateSubmitted, Form: form}
	s := EditApply(srv, apply.ZH, a, t.TempDir(), drafts, func(string) {})
	f := s.fields[apply.FOrgAddress]
	onUIWait(func() { f.entry.SetText("福建省福州市鼓楼区五四路 88 号") })
	onUIWait(s.autosave)
	if d, _ := drafts.Draft(context.Background(), a.ID); d == nil || d.Form[apply.FOrgAddress] != "福建省福州市鼓楼区五四路 88 号" {
		t.Fatalf("the edit is not in the local store: %+v", d)
	}
	cerr := api.StateError(&apply.StepError{State: apply.StatePaid, Event: apply.EvSubmit})
	onUIWait(func() { s.SyncEvent(appsync.Event{Kind: appsync.Conflict, AppID: a.ID, Err: cerr}) })
	msg := explain(cerr, apply.ZH)
	if f.err.Text != msg || !f.refused {
		t.Fatalf("beside the changed field: %q, want %q", f.err.Text, msg)
	}
	if other := s.fields[apply.FOrgName]; other.err.Text != "" {
		t.Fatalf("an unchanged field says %q", other.err.Text)
	}
	if f.entry.Text != "福建省福州市鼓楼区五四路 88 号" || !strings.Contains(s.status.Text, msg) {
		t.Fatalf("value %q, status %q", f.entry.Text, s.status.Text)
	}
	if d, _ := drafts.Draft(context.Background(), a.ID); d == nil {
		t.Fatal("the local copy was dropped on a conflict")
	}
	// Submitting anyway: the refusal is shown, nothing dropped.
	onUIWait(s.doSubmit)
	eventually(t, "the refusal of the submit", func() bool { return !s.submit.Disabled() && strings.Contains(s.status.Text, msg) })
	if d, _ := drafts.Draft(context.Background(), a.ID); d == nil {
		t.Fatal("the local copy was dropped after a refused submit")
	}
}

// gatedSender holds each send until the test lets it go.
type gatedSender struct {
	m     *fakeMaterials
	gates chan chan struct{}
}

func (g *gatedSender) Send(ctx context.Context, appID string, t apply.MaterialType, name string, data []byte, progress func(client.Progress)) error {
	gate := make(chan struct{})
	g.gates <- gate
	<-gate
	return (&fakeSender{m: g.m}).Send(ctx, appID, t, name, data, progress)
}

// Two files chosen one after the other for one item: the first one's
// upload ending does not say "✓ sent" over the second, still on its way.
func TestOlderUploadDoesNotOverwriteNewer(t *testing.T) {
	env, rec := newTestEnv(t, apply.ZH, apply.StateSubmitted)
	a := env.app
	rule, _ := apply.RuleFor(a.Kind, a.Form.Options(), a.Form.HandlerIsApplicant(a.Kind), apply.MatOrgLicense)
	fm := &fakeMaterials{rule: rule}
	g := &gatedSender{m: fm, gates: make(chan chan struct{}, 2)}
	m := newMaterialsStep(env, fm, g)
	until(t, rec.called, func() bool { return m.item(apply.MatOrgLicense) != nil })
	doc := testimg.JPEG(testimg.Scan(827, 1169, 8), 85, 100)
	onUIWait(func() { m.Add(apply.MatOrgLicense, "旧扫描.jpg", doc) })
	first := <-g.gates
	onUIWait(func() { m.Add(apply.MatOrgLicense, "新扫描.jpg", doc) })
	second := <-g.gates
	close(first)
	// The first upload's checklist reload is the sign it finished.
	until(t, rec.called, func() bool { return len(fm.have) == 1 })
	time.Sleep(50 * time.Millisecond)
	it := m.item(apply.MatOrgLicense)
	var line string
	onUIWait(func() { line = it.verdict.Text })
	if strings.Contains(line, "✓ "+T("mat.sent", map[string]any{"Name": "旧扫描.jpg"})) || !strings.Contains(line, "新扫描.jpg") {
		t.Fatalf("while the newer file is still sending: %q", line)
	}
	close(second)
	m.Wait()
	if got := it.verdict.Text; got != "✓ "+T("mat.sent", map[string]any{"Name": "新扫描.jpg"}) {
		t.Fatalf("after the newer file is sent: %q", got)
	}
}

// A material the reviewer returned shows the reason under that file, in
// the window's language (the frame of the sentence is the translation
// table's, which follows the process's language in tests).
func TestReturnedMaterialShowsItsReason(t *testing.T) {
	for _, tc := range []struct {
		lang apply.Lang
		want string
	}{
		{apply.ZH, "✗ 审核退回:复印件未加盖单位公章(右下角)。请删除此文件并上传新的文件,再重新提交"},
		{apply.EN, "The copy is not stamped(右下角)"},
	} {
		env, rec := newTestEnv(t, tc.lang, apply.StateRejected)
		a := env.app
		rule, _ := apply.RuleFor(a.Kind, a.Form.Options(), a.Form.HandlerIsApplicant(a.Kind), apply.MatOrgLicense)
		fm := &fakeMaterials{rule: rule, have: []api.MaterialInfo{{ID: "m1", Type: apply.MatOrgLicense, Width: 827, Height: 1169, DPI: 100, Bytes: 300 << 10,
			Rejection: &api.MaterialRejection{Code: "unsealed", Reason: apply.Text{ZH: "复印件未加盖单位公章", EN: "The copy is not stamped"}, Note: "右下角"}}}}
		m := newMaterialsStep(env, fm, &fakeSender{m: fm})
		until(t, rec.called, func() bool { it := m.item(apply.MatOrgLicense); return it != nil && len(it.have.Objects) == 2 })
		var got string
		onUIWait(func() { got = m.item(apply.MatOrgLicense).have.Objects[1].(*widget.Label).Text })
		if tc.lang == apply.ZH && got != tc.want || !strings.Contains(got, tc.want) {
			t.Fatalf("%s: %q", tc.lang, got)
		}
	}
}
