package ui

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/canvas"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"

	"certdesk/app/api"
	"certdesk/app/apply"
	"certdesk/app/holder"
	"certdesk/token"
)

// HolderUKEY is what the holder's screens do on the UKEYs: app/holder
// over the PKCS#11 driver (PKCS11Holder), or a fake in tests.
type HolderUKEY interface {
	// List reads every certificate on every inserted UKEY (no PIN).
	List(ctx context.Context) ([]holder.Cert, error)
	// Watch signals each insertion or removal until ctx ends.
	Watch(ctx context.Context) <-chan struct{}
	// ChangePIN checks the new PIN's rules, then changes it; both PINs
	// are cleared.
	ChangePIN(ctx context.Context, serial string, old, pin []byte, finalTry bool) error
	// FinishUnlock resets the locked PIN with the CA's one-time grant.
	FinishUnlock(ctx context.Context, srv holder.UnlockServer, serial, unlockID string, pin []byte) error
	// Login logs in to the CA with certificate certSerial on UKEY
	// tokenSerial; pin is cleared.
	Login(ctx context.Context, srv holder.LoginServer, tokenSerial, certSerial string, pin []byte, finalTry bool) (*api.Session, error)
}

// PKCS11Holder is HolderUKEY on the driver at Module.
type PKCS11Holder struct{ Module string }

func (p PKCS11Holder) load() (*token.Module, error) {
	if p.Module == "" {
		return nil, errNoDriver
	}
	return token.Load(p.Module)
}

// List implements HolderUKEY.
func (p PKCS11Holder) List(ctx context.Context) ([]holder.Cert, error) {
	m, err := p.load()
	if err != nil {
		return nil, err
	}
	defer m.Close()
	return holder.List(m, time.Now())
}

// Watch implements HolderUKEY: every two seconds the driver is loaded,
// asked for its tokens and let go, so no handle is held between looks (a
// held one would keep the library initialised for the window's life).
func (p PKCS11Holder) Watch(ctx context.Context) <-chan struct{} {
	out := make(chan struct{}, 1)
	if p.Module == "" {
		close(out)
		return out
	}
	go func() {
		defer close(out)
		tick := time.NewTicker(2 * time.Second)
		defer tick.Stop()
		last := p.seen()
		for {
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
			if now := p.seen(); now != last {
				last = now
				select {
				case out <- struct{}{}:
				default: // one pending refresh is enough
				}
			}
		}
	}()
	return out
}

// seen is the present tokens and their PIN flags, as one comparable value.
func (p PKCS11Holder) seen() string {
	m, err := p.load()
	if err != nil {
		return "error: " + err.Error()
	}
	defer m.Close()
	ts, err := m.Tokens()
	if err != nil {
		return "error: " + err.Error()
	}
	var b strings.Builder
	for _, t := range ts {
		fmt.Fprintf(&b, "%s %+v;", t.Serial, t.Flags)
	}
	return b.String()
}

// ChangePIN implements HolderUKEY.
func (p PKCS11Holder) ChangePIN(ctx context.Context, serial string, old, pin []byte, finalTry bool) error {
	m, err := p.load()
	if err != nil {
		clear(old)
		clear(pin)
		return err
	}
	defer m.Close()
	return holder.ChangePIN(m, token.Ref{Serial: serial}, old, pin, finalTry)
}

// FinishUnlock implements HolderUKEY.
func (p PKCS11Holder) FinishUnlock(ctx context.Context, srv holder.UnlockServer, serial, unlockID string, pin []byte) error {
	m, err := p.load()
	if err != nil {
		clear(pin)
		return err
	}
	defer m.Close()
	return holder.FinishUnlock(ctx, srv, m, serial, unlockID, pin)
}

// Login implements HolderUKEY.
func (p PKCS11Holder) Login(ctx context.Context, srv holder.LoginServer, tokenSerial, certSerial string, pin []byte, finalTry bool) (*api.Session, error) {
	m, err := p.load()
	if err != nil {
		clear(pin)
		return nil, err
	}
	defer m.Close()
	return holder.LoginWithUKEY(ctx, srv, m, tokenSerial, certSerial, pin, finalTry)
}

// holderServer is what the holder's screens ask the CA.
type holderServer interface {
	holder.StatusSource
	holder.UnlockServer
	holder.LoginServer
	Renew(ctx context.Context, id, answer string) (*api.Application, error)
	Renewals(ctx context.Context) ([]api.Renewal, error)
	Login(ctx context.Context, req api.LoginRequest) (*api.Session, error)
	Applications(ctx context.Context) ([]api.Summary, error)
	StartUnlock(ctx context.Context, serial string, req api.StartUnlockRequest) (*api.Unlock, error)
	UnlockCode(ctx context.Context, id, code string) (*api.Unlock, error)
	Unlock(ctx context.Context, id string) (*api.Unlock, error)
	HolderRevoke(ctx context.Context, id string, req api.HolderRevokeRequest) (*api.HolderRevocation, error)
}

// Certs is 我的证书 (My certificates): every certificate on every inserted
// UKEY with what the CA says of it, kept current as UKEYs come and go,
// and the holder's tools for each (export, fingerprint, PIN change, PIN
// unlock, revocation). It works before any login: the tools that need the
// CA's trust ask for the account's password themselves.
type Certs struct {
	ctx      context.Context
	srv      holderServer
	ukey     HolderUKEY
	lang     apply.Lang
	win      fyne.Window
	loggedIn func() bool
	// saveAs asks where to save an export (the system's save dialog).
	saveAs func(name string, done func(path string))
	// every is how often an unlock waiting for staff approval is asked
	// about.
	every time.Duration
	// OnLogin keeps a session the tools opened (the OS keyring);
	// OnRenewed opens the renewal's application to pay and download.
	OnLogin   func(*api.Session)
	OnRenewed func(appID string)

	status  *widget.Label // what the UKEYs hold
	notice  *widget.Label // the outcome of the last tool used
	list    *fyne.Container
	root    *fyne.Container
	content fyne.CanvasObject
	certs   []holder.Cert
	tool    *toolFields // the tool on screen, for tests
	// stopWatch ends the following of the UKEYs (nil while hidden).
	stopWatch context.CancelFunc
	settled   chan struct{} // receives after each refresh or action, for tests
}

// toolFields are the inputs of the tool on screen.
type toolFields struct {
	proof                      *proof
	old, code, answer          *field
	pair                       *pinPair
	final, replace, sure       *widget.Check
	submit, send, verify, done *widget.Button
	stage                      *widget.Label
}

// NewCerts builds the screen; it reads the UKEYs only while shown (Show
// to Hide), never at start-up, and nothing after ctx ends.
func NewCerts(ctx context.Context, srv holderServer, u HolderUKEY, l apply.Lang, win fyne.Window, loggedIn func() bool) *Certs {
	c := &Certs{ctx: ctx, srv: srv, ukey: u, lang: l, win: win, loggedIn: loggedIn, every: 3 * time.Second}
	c.saveAs = func(name string, done func(string)) { chooseSave(win, T("certs.export"), name, done) }
	c.status = widget.NewLabel("")
	c.status.Wrapping = fyne.TextWrapWord
	c.notice = widget.NewLabel("")
	c.notice.Wrapping = fyne.TextWrapWord
	c.notice.Importance = widget.SuccessImportance
	c.notice.Hide() // no empty line until there is something to say
	c.list = container.NewVBox()
	refresh := widget.NewButtonWithIcon(T("certs.refresh"), theme.ViewRefreshIcon(), c.Refresh)
	head := container.NewHBox(widget.NewLabelWithStyle(T("certs.title"), fyne.TextAlignLeading, fyne.TextStyle{Bold: true}), refresh)
	listView := container.NewBorder(container.NewVBox(head, c.notice, c.status), nil, nil, nil, container.NewVScroll(c.list))
	c.root = container.NewStack(listView)
	c.content = c.root
	return c
}

// Show reads the UKEYs now and follows them while the screen is on view
// (the driver is polled only then). Showing twice is harmless.
func (c *Certs) Show() {
	if c.stopWatch != nil {
		return
	}
	ctx, stop := context.WithCancel(c.ctx)
	c.stopWatch = stop
	go func() {
		for range c.ukey.Watch(ctx) {
			onUI(c.Refresh)
		}
	}()
	c.Refresh()
}

// Hide stops following the UKEYs (a Shell without 我的证书 has none).
func (c *Certs) Hide() {
	if c != nil && c.stopWatch != nil {
		c.stopWatch()
		c.stopWatch = nil
	}
}

// Content is the screen's root object.
func (c *Certs) Content() fyne.CanvasObject { return c.content }

func (c *Certs) done() {
	if c.settled != nil {
		select {
		case c.settled <- struct{}{}:
		default: // nobody waits: never hold up the window for a test hook
		}
	}
}

// act runs work off the UI thread with btn disabled; back on it, a
// failure goes to failed, success to ok, and the tests are told.
func (c *Certs) act(btn *widget.Button, work func() error, failed func(error), ok func()) {
	btn.Disable()
	go func() {
		err := work()
		onUI(func() {
			defer c.done()
			btn.Enable()
			if err != nil {
				failed(err)
				return
			}
			ok()
		})
	}()
}

// tell says how the last tool went, in red when it failed.
func (c *Certs) tell(text string, failed bool) {
	c.notice.Importance = widget.SuccessImportance
	if failed {
		c.notice.Importance = widget.DangerImportance
	}
	c.notice.SetText(text)
	c.notice.Show()
}

// showList goes back from a tool to the list.
func (c *Certs) showList() {
	c.root.Objects = c.root.Objects[:1]
	c.root.Refresh()
}

// showTool puts a tool's form over the list, with a way back.
func (c *Certs) showTool(title string, body fyne.CanvasObject) {
	back := widget.NewButtonWithIcon(T("certs.back"), theme.NavigateBackIcon(), c.showList)
	head := container.NewHBox(back, widget.NewLabelWithStyle(title, fyne.TextAlignLeading, fyne.TextStyle{Bold: true}))
	bg := canvas.NewRectangle(theme.Color(theme.ColorNameBackground))
	c.root.Objects = append(c.root.Objects[:1], container.NewStack(bg, container.NewBorder(head, nil, nil, nil, container.NewVScroll(body))))
	c.root.Refresh()
}

// Refresh reads the UKEYs again and asks the CA about each certificate.
func (c *Certs) Refresh() {
	c.status.SetText(T("certs.reading"))
	go func() {
		certs, err := c.ukey.List(c.ctx)
		if err == nil && len(certs) > 0 {
			ctx, cancel := context.WithTimeout(c.ctx, 10*time.Second)
			certs = holder.WithStatus(ctx, c.srv, certs)
			cancel()
		}
		onUI(func() {
			c.show(certs, err)
			c.done()
		})
	}()
}

func (c *Certs) show(certs []holder.Cert, err error) {
	c.certs = certs
	c.list.Objects = nil
	switch {
	case err != nil:
		msg, _ := ukeyErrorText(err, c.lang, "certs.none")
		c.status.SetText(msg)
	case len(certs) == 0:
		c.status.SetText(T("certs.none"))
	default:
		c.status.SetText(T("certs.count", map[string]any{"N": len(certs)}))
	}
	for _, x := range certs {
		c.list.Add(c.card(x))
	}
	c.list.Refresh()
}

var statusKeys = map[string]string{
	api.CertValid: "certs.status.valid", api.CertExpiring: "certs.status.expiring", api.CertExpired: "certs.status.expired",
	api.CertRevoked: "certs.status.revoked", api.CertUnknown: "certs.status.unknown",
}

// card is one certificate with its tools.
func (c *Certs) card(x holder.Cert) fyne.CanvasObject {
	key, ok := statusKeys[x.Status]
	if !ok {
		key = "certs.status.offline"
	}
	st := widget.NewLabelWithStyle(T(key), fyne.TextAlignLeading, fyne.TextStyle{Bold: true})
	switch x.Status {
	case api.CertValid:
		st.Importance = widget.SuccessImportance
	case api.CertRevoked, api.CertExpired:
		st.Importance = widget.DangerImportance
	case api.CertExpiring:
		st.Importance = widget.WarningImportance
	}
	title := widget.NewLabelWithStyle(x.CommonName, fyne.TextAlignLeading, fyne.TextStyle{Bold: true})
	row := func(label, value string) *widget.FormItem {
		v := widget.NewLabel(value)
		v.Wrapping = fyne.TextWrapBreak
		return widget.NewFormItem(label, v)
	}
	info := widget.NewForm(row(T("certs.subject"), x.CommonName))
	if x.Org != "" && x.Org != x.CommonName {
		info.AppendItem(row(T("certs.org"), x.Org))
	}
	if x.OrgCode != "" {
		info.AppendItem(row(T("certs.orgcode"), x.OrgCode))
	}
	for _, it := range []*widget.FormItem{
		row(T("certs.issuer"), x.IssuerName),
		row(T("certs.serial"), x.Serial),
		row(T("certs.validity"), T("certs.validity.value", map[string]any{
			"From": x.NotBefore.Local().Format("2006-01-02"), "To": x.NotAfter.Local().Format("2006-01-02"), "Days": x.DaysLeft})),
		row(T("certs.key"), x.KeyType),
		row(T("certs.ukey"), T("certs.ukey.value", map[string]any{"Label": x.TokenLabel, "Serial": x.TokenSerial})),
		row("SHA-256", x.SHA256),
	} {
		info.AppendItem(it)
	}
	items := []fyne.CanvasObject{container.NewHBox(title, st), info}
	if x.Flags.PINLocked {
		l := widget.NewLabel(T("certs.locked"))
		l.Importance = widget.DangerImportance
		l.Wrapping = fyne.TextWrapWord
		items = append(items, l)
	}
	if x.Status == api.CertExpiring {
		l := widget.NewLabel(T("certs.renew.banner", map[string]any{"Days": x.DaysLeft}))
		l.Importance = widget.WarningImportance
		l.Wrapping = fyne.TextWrapWord
		items = append(items, l)
	}
	copyFP := widget.NewButton(T("certs.copyfp"), func() {
		fyne.CurrentApp().Clipboard().SetContent(x.SHA256)
		c.tell(T("certs.copied"), false)
	})
	der := widget.NewButton(T("certs.export.der"), func() { c.export(x, false) })
	pemB := widget.NewButton(T("certs.export.pem"), func() { c.export(x, true) })
	chpin := widget.NewButton(T("certs.changepin"), func() { c.showTool(T("certs.changepin"), c.changePINForm(x)) })
	unlock := widget.NewButton(T("certs.unlock"), func() { c.showTool(T("certs.unlock"), c.unlockForm(x)) })
	if x.Flags.PINLocked {
		unlock.Importance = widget.HighImportance
		chpin.Disable()
	}
	tools := []fyne.CanvasObject{copyFP, der, pemB, chpin, unlock}
	if x.Status == api.CertExpiring {
		renew := widget.NewButton(T("certs.renew"), func() { c.showTool(T("certs.renew"), c.renewForm(x)) })
		renew.Importance = widget.HighImportance
		tools = append([]fyne.CanvasObject{renew}, tools...)
	}
	if x.Status == api.CertValid || x.Status == api.CertExpiring {
		tools = append(tools, widget.NewButton(T("certs.revoke"), func() { c.showTool(T("certs.revoke"), c.revokeForm(x)) }))
	}
	items = append(items, container.NewGridWrap(fyne.NewSize(150, 36), tools...), widget.NewSeparator())
	return container.NewVBox(items...)
}

// export saves the certificate as a .cer file, DER or PEM.
func (c *Certs) export(x holder.Cert, asPEM bool) {
	name := strings.NewReplacer("/", "_", "\\", "_", ":", "_").Replace(x.CommonName) + "-" + x.Serial
	if asPEM {
		name += ".pem.cer"
	} else {
		name += ".cer"
	}
	c.saveAs(name, func(path string) {
		if err := os.WriteFile(path, holder.Export(x, asPEM), 0o644); err != nil {
			c.tell(T("certs.export.failed", map[string]any{"Err": err.Error()}), true)
		} else {
			c.tell(T("certs.exported", map[string]any{"Path": path}), false)
		}
		c.done()
	})
}

// field is an input with its label and the message under it.
type field struct {
	label string
	entry *widget.Entry
	err   *errText
}

func newField(label string, password bool) *field {
	e := widget.NewEntry()
	if password {
		e = widget.NewPasswordEntry()
	}
	return &field{label: label, entry: e, err: errLabel()}
}

func (f *field) objects() []fyne.CanvasObject {
	return []fyne.CanvasObject{widget.NewLabel(f.label), f.entry, f.err}
}

// newPINPair is the new PIN asked twice, checked against the UKEY PIN
// rules as the second is left; old is the old PIN ("" for an unlock).
type pinPair struct{ pin, again *field }

func newPINPair() *pinPair {
	return &pinPair{pin: newField(T("certs.newpin"), true), again: newField(T("certs.newpin2"), true)}
}

// check returns the new PIN, or nil with the message beside its field.
func (p *pinPair) check(old []byte) []byte {
	p.pin.err.SetText("")
	p.again.err.SetText("")
	pin := []byte(p.pin.entry.Text)
	if err := token.CheckNewPIN(old, pin); err != nil {
		p.pin.err.SetText(pinRuleMessage(err))
		return nil
	}
	if p.again.entry.Text != p.pin.entry.Text {
		p.again.err.SetText(T("certs.pin.mismatch"))
		return nil
	}
	return pin
}

func (p *pinPair) clear() {
	p.pin.entry.SetText("")
	p.again.entry.SetText("")
}

// pinRuleMessage words a refused new PIN.
func pinRuleMessage(err error) string {
	if re := (*token.PINRuleError)(nil); errors.As(err, &re) {
		return T("certs.pin.rule." + string(re.Rule))
	}
	return err.Error()
}

// changePINForm: old PIN, new PIN twice; the final try must be chosen.
func (c *Certs) changePINForm(x holder.Cert) fyne.CanvasObject {
	old := newField(T("certs.oldpin"), true)
	pair := newPINPair()
	final := widget.NewCheck(T("ukey.finalok"), nil)
	if !x.Flags.PINFinalTry {
		final.Hide()
	}
	rules := T("certs.pin.rules")
	switch {
	case x.Flags.PINFinalTry:
		rules = T("ukey.finaltry") + "\n" + rules
	case x.Flags.PINCountLow:
		rules = T("ukey.countlow") + "\n" + rules
	}
	msg := widget.NewLabel(rules)
	msg.Wrapping = fyne.TextWrapWord
	var btn *widget.Button
	btn = widget.NewButton(T("certs.changepin.submit"), func() {
		old.err.SetText("")
		if old.entry.Text == "" {
			old.err.SetText(T("certs.oldpin.missing"))
			return
		}
		pin := pair.check([]byte(old.entry.Text))
		if pin == nil {
			return
		}
		oldPIN := []byte(old.entry.Text)
		finalOK := final.Checked
		c.act(btn, func() error { return c.ukey.ChangePIN(c.ctx, x.TokenSerial, oldPIN, pin, finalOK) }, func(err error) {
			text, showFinal := ukeyErrorText(err, c.lang, "certs.none")
			old.err.SetText(text)
			if showFinal {
				final.Show()
			}
		}, func() {
			old.entry.SetText("")
			pair.clear()
			c.showList()
			c.tell(T("certs.changepin.done"), false)
		})
	})
	btn.Importance = widget.HighImportance
	c.tool = &toolFields{old: old, pair: pair, final: final, submit: btn}
	objs := append([]fyne.CanvasObject{msg}, old.objects()...)
	objs = append(objs, pair.pin.objects()...)
	objs = append(objs, pair.again.objects()...)
	return container.NewVBox(append(objs, final, btn)...)
}

// proof is the account's login and password, asked where the holder's
// tools need the CA's trust; when the window is logged in only the
// password is asked (the CA checks it again).
type proof struct {
	login, password *field
	needLogin       bool
}

func (c *Certs) newProof() *proof {
	p := &proof{login: newField(T("login.name"), false), password: newField(T("login.password"), true), needLogin: !c.loggedIn()}
	p.login.entry.SetPlaceHolder(T("login.name.hint"))
	return p
}

func (p *proof) objects() []fyne.CanvasObject {
	if p.needLogin {
		return append(p.login.objects(), p.password.objects()...)
	}
	return p.password.objects()
}

// ready checks the fields are filled, saying beside them what is missing.
func (p *proof) ready() bool {
	p.login.err.SetText("")
	p.password.err.SetText("")
	ok := true
	if p.needLogin && strings.TrimSpace(p.login.entry.Text) == "" {
		p.login.err.SetText(T("certs.login.missing"))
		ok = false
	}
	if p.password.entry.Text == "" {
		p.password.err.SetText(T("certs.password.missing"))
		ok = false
	}
	return ok
}

// ensure logs in when the window is not logged in yet (off the UI thread).
func (c *Certs) ensure(p *proof, login, password string) error {
	if !p.needLogin {
		return nil
	}
	sess, err := c.srv.Login(c.ctx, api.LoginRequest{Login: login, Password: password})
	if err == nil && c.OnLogin != nil {
		onUI(func() { c.OnLogin(sess) })
	}
	return err
}

// unlockForm: who asks (password), the SMS code, then the new PIN.
func (c *Certs) unlockForm(x holder.Cert) fyne.CanvasObject {
	p := c.newProof()
	intro := widget.NewLabel(T("certs.unlock.intro"))
	intro.Wrapping = fyne.TextWrapWord
	code := newField(T("certs.unlock.code"), false)
	pair := newPINPair()
	stage := widget.NewLabel("")
	stage.Wrapping = fyne.TextWrapWord
	var id string
	var send, verify, finish *widget.Button
	codePart, pinPart := container.NewVBox(), container.NewVBox()
	codePart.Hide()
	pinPart.Hide()
	send = widget.NewButton(T("certs.unlock.send"), func() {
		if !p.ready() {
			return
		}
		login, password := strings.TrimSpace(p.login.entry.Text), p.password.entry.Text
		var u *api.Unlock
		c.act(send, func() error {
			err := c.ensure(p, login, password)
			if err == nil {
				u, err = c.srv.StartUnlock(c.ctx, x.TokenSerial, api.StartUnlockRequest{Password: password, Certificate: x.DER})
			}
			return err
		}, func(err error) { c.fieldError(err, p.password.err) }, func() {
			p.needLogin = false
			p.password.entry.SetText("")
			id = u.ID
			stage.SetText(T("certs.unlock.sent", map[string]any{"Mobile": u.Mobile}))
			codePart.Show()
		})
	})
	send.Importance = widget.HighImportance
	verify = widget.NewButton(T("certs.unlock.verify"), func() {
		code.err.SetText("")
		v := strings.TrimSpace(code.entry.Text)
		if v == "" {
			code.err.SetText(T("certs.unlock.code.missing"))
			return
		}
		verify.Disable()
		go func() {
			u, err := c.srv.UnlockCode(c.ctx, id, v)
			for err == nil && u.State == api.UnlockApproval {
				onUI(func() { stage.SetText(T("certs.unlock.approval")) })
				select {
				case <-c.ctx.Done():
					return
				case <-time.After(c.every):
				}
				u, err = c.srv.Unlock(c.ctx, id)
			}
			onUI(func() {
				defer c.done()
				verify.Enable()
				switch {
				case err != nil:
					c.fieldError(err, code.err)
				case u.State != api.UnlockGranted:
					code.err.SetText(T("certs.unlock.state." + u.State))
				default:
					stage.SetText(T("certs.unlock.granted"))
					codePart.Hide()
					pinPart.Show()
				}
			})
		}()
	})
	codePart.Objects = append(code.objects(), verify)
	finish = widget.NewButton(T("certs.unlock.finish"), func() {
		pin := pair.check(nil)
		if pin == nil {
			return
		}
		c.act(finish, func() error { return c.ukey.FinishUnlock(c.ctx, c.srv, x.TokenSerial, id, pin) },
			func(err error) { c.fieldError(err, pair.pin.err) }, func() {
				pair.clear()
				c.showList()
				c.tell(T("certs.unlock.done"), false)
				c.Refresh()
			})
	})
	finish.Importance = widget.HighImportance
	c.tool = &toolFields{proof: p, code: code, pair: pair, send: send, verify: verify, done: finish, stage: stage}
	pinPart.Objects = append(append(pair.pin.objects(), pair.again.objects()...), finish)
	objs := append([]fyne.CanvasObject{intro}, p.objects()...)
	return container.NewVBox(append(objs, send, stage, codePart, pinPart)...)
}

// revokeForm: the reason, the security answer, a replacement if wanted,
// and an explicit confirmation that a revocation cannot be undone.
func (c *Certs) revokeForm(x holder.Cert) fyne.CanvasObject {
	p := c.newProof()
	reasons := []string{"lost", "compromised", "ceased"}
	labels := []string{T("certs.revoke.lost"), T("certs.revoke.compromised"), T("certs.revoke.ceased")}
	reason := widget.NewRadioGroup(labels, nil)
	reason.SetSelected(labels[0])
	reasonErr := errLabel()
	answer := newField(T("certs.revoke.answer"), false)
	replace := widget.NewCheck(T("certs.revoke.replace"), nil)
	sure := widget.NewCheck(T("certs.revoke.sure"), nil)
	sureErr := errLabel()
	intro := widget.NewLabel(T("certs.revoke.intro"))
	intro.Wrapping = fyne.TextWrapWord
	var btn *widget.Button
	btn = widget.NewButton(T("certs.revoke.submit"), func() {
		answer.err.SetText("")
		sureErr.SetText("")
		reasonErr.SetText("")
		ok := p.ready()
		if strings.TrimSpace(answer.entry.Text) == "" {
			answer.err.SetText(T("certs.revoke.answer.missing"))
			ok = false
		}
		if !sure.Checked {
			sureErr.SetText(T("certs.revoke.sure.missing"))
			ok = false
		}
		if !ok {
			return
		}
		r := reasons[0]
		for i, l := range labels {
			if l == reason.Selected {
				r = reasons[i]
			}
		}
		req := api.HolderRevokeRequest{SecurityAnswer: answer.entry.Text, Reason: r, Replace: replace.Checked}
		login, password := strings.TrimSpace(p.login.entry.Text), p.password.entry.Text
		var out *api.HolderRevocation
		c.act(btn, func() error {
			err := c.ensure(p, login, password)
			appID := ""
			if err == nil {
				appID, err = c.applicationOf(x.Serial)
			}
			if err == nil {
				out, err = c.srv.HolderRevoke(c.ctx, appID, req)
			}
			return err
		}, func(err error) {
			target := answer.err
			if ae := asAPIError(err); ae != nil && len(ae.Fields) > 0 && ae.Fields[0].Field == "reason" {
				target = reasonErr
			} else if ae != nil && ae.Code == api.CodeBadCredentials && len(ae.Fields) == 0 {
				target = p.password.err
			}
			c.fieldError(err, target)
		}, func() {
			p.needLogin = false
			c.showList()
			text := T("certs.revoke.done")
			if out.Replacement != nil {
				text += "\n" + T("certs.revoke.replaced")
			}
			c.tell(text, false)
			c.Refresh()
		})
	})
	btn.Importance = widget.DangerImportance
	c.tool = &toolFields{proof: p, answer: answer, replace: replace, sure: sure, submit: btn}
	objs := append([]fyne.CanvasObject{intro}, p.objects()...)
	objs = append(objs, widget.NewLabel(T("certs.revoke.reason")), reason, reasonErr)
	objs = append(objs, answer.objects()...)
	return container.NewVBox(append(objs, replace, sure, sureErr, btn)...)
}

// renewForm: the UKEY's PIN (a login with this very certificate) and the
// security answer; the renewal then opens to pay and download.
func (c *Certs) renewForm(x holder.Cert) fyne.CanvasObject {
	pin := newField(T("ukey.pin"), true)
	answer := newField(T("certs.revoke.answer"), false)
	final := widget.NewCheck(T("ukey.finalok"), nil)
	if !x.Flags.PINFinalTry {
		final.Hide()
	}
	intro := widget.NewLabel(T("certs.renew.intro", map[string]any{"Days": x.DaysLeft}))
	intro.Wrapping = fyne.TextWrapWord
	var btn *widget.Button
	btn = widget.NewButton(T("certs.renew.submit"), func() {
		pin.err.SetText("")
		answer.err.SetText("")
		if pin.entry.Text == "" {
			pin.err.SetText(T("certs.pin.missing"))
			return
		}
		if strings.TrimSpace(answer.entry.Text) == "" {
			answer.err.SetText(T("certs.revoke.answer.missing"))
			return
		}
		p, a, finalOK := []byte(pin.entry.Text), answer.entry.Text, final.Checked
		pin.entry.SetText("")
		btn.Disable()
		go func() {
			var id string
			sess, err := c.ukey.Login(c.ctx, c.srv, x.TokenSerial, x.Serial, p, finalOK)
			if err != nil {
				onUI(func() {
					defer c.done()
					btn.Enable()
					text, showFinal := ukeyErrorText(err, c.lang, "certs.none")
					if errors.Is(err, holder.ErrCertNotOnUKEY) {
						text = T("certs.renew.nokey")
					}
					pin.err.SetText(text)
					if showFinal {
						final.Show()
					}
				})
				return
			}
			if c.OnLogin != nil {
				onUI(func() { c.OnLogin(sess) })
			}
			appID, err := c.applicationOf(x.Serial)
			if err == nil {
				var n *api.Application
				if n, err = c.srv.Renew(c.ctx, appID, a); err == nil {
					id = n.ID
				} else if ae := asAPIError(err); ae != nil && ae.Code == api.CodeStateNotAllowed {
					// Under way already: go on with that one.
					if rs, rerr := c.srv.Renewals(c.ctx); rerr == nil {
						for _, r := range rs {
							if r.ApplicationID == appID && r.Successor != "" {
								id, err = r.Successor, nil
							}
						}
					}
				}
			}
			onUI(func() {
				defer c.done()
				btn.Enable()
				if err != nil {
					c.fieldError(err, answer.err)
					return
				}
				c.showList()
				c.tell(T("certs.renew.started"), false)
				if c.OnRenewed != nil {
					c.OnRenewed(id)
				}
			})
		}()
	})
	btn.Importance = widget.HighImportance
	c.tool = &toolFields{old: pin, answer: answer, final: final, submit: btn}
	objs := append([]fyne.CanvasObject{intro}, pin.objects()...)
	objs = append(objs, final)
	objs = append(objs, answer.objects()...)
	return container.NewVBox(append(objs, btn)...)
}

// applicationOf finds the account's application of a certificate.
func (c *Certs) applicationOf(serial string) (string, error) {
	apps, err := c.srv.Applications(c.ctx)
	if err != nil {
		return "", err
	}
	for _, a := range apps {
		if a.CertSerial == serial {
			return a.ID, nil
		}
	}
	return "", fmt.Errorf("%s", T("certs.notmine"))
}

// fieldError puts an error beside its field in the window's language.
func (c *Certs) fieldError(err error, beside *errText) {
	if ae := asAPIError(err); ae != nil {
		beside.SetText(ae.Message(c.lang))
		if len(ae.Fields) > 0 {
			beside.SetText(apply.Text{ZH: ae.Fields[0].MessageZH, EN: ae.Fields[0].MessageEN}.In(c.lang))
		}
		return
	}
	if re := (*token.PINRuleError)(nil); errors.As(err, &re) {
		beside.SetText(pinRuleMessage(err))
		return
	}
	if errors.Is(err, holder.ErrSOPINUnknown) {
		beside.SetText(T("certs.unlock.sounknown"))
		return
	}
	msg, _ := ukeyErrorText(err, c.lang, "certs.none")
	beside.SetText(msg)
}
