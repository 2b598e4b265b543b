package ui

import (
	"context"
	"crypto"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"errors"
	"fmt"
	"strings"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/widget"

	"certdesk/app/api"
	"certdesk/app/holder"
)

// DownloadStep is 证书下载: find the UKEY, enter its PIN and the download
// code from the SMS, then keygen → CSR → download → install → verify, each
// step ticked as it finishes. Every step can be repeated: the key made for
// this application is found again on the UKEY, and the server returns the
// same certificate for the same key, so a pulled UKEY or a dropped
// connection is resumed by pressing the button again.
type DownloadStep struct {
	env      stepEnv
	srv      downloadServer
	ukey     UKEY
	info     *widget.Label
	pin      *widget.Entry
	code     *widget.Entry
	final    *widget.Check
	btn      *widget.Button
	progress *widget.ProgressBar
	stages   []*widget.Label
	err      *errText
	result   *widget.Label
	content  fyne.CanvasObject
	// Cert is the certificate installed, once verified.
	Cert *x509.Certificate
}

var stageKeys = []string{"dl.keygen", "dl.csr", "dl.download", "dl.install", "dl.verify"}

// downloadServer is what the download step asks the server.
type downloadServer interface {
	Download(ctx context.Context, appID string, req api.DownloadRequest) (*api.CertificateBundle, error)
}

func newDownloadStep(env stepEnv, srv downloadServer, u UKEY) *DownloadStep {
	d := &DownloadStep{env: env, srv: srv, ukey: u}
	d.info = widget.NewLabel(T("ukey.insert"))
	d.info.Wrapping = fyne.TextWrapWord
	d.pin = widget.NewPasswordEntry()
	d.code = widget.NewEntry()
	d.code.SetPlaceHolder(T("dl.codehint"))
	d.code.OnSubmitted = func(string) { d.Start() }
	d.pin.OnSubmitted = func(string) {
		if env.win != nil {
			env.win.Canvas().Focus(d.code)
		}
	}
	d.final = widget.NewCheck(T("ukey.finalok"), nil)
	d.final.Hide()
	d.btn = widget.NewButton(T("dl.start"), d.Start)
	d.btn.Importance = widget.HighImportance
	d.progress = widget.NewProgressBar()
	d.progress.Max = float64(len(stageKeys))
	list := container.NewVBox()
	for _, k := range stageKeys {
		l := widget.NewLabel("○ " + T(k))
		d.stages = append(d.stages, l)
		list.Add(l)
	}
	d.err = errLabel()
	d.result = widget.NewLabel("")
	d.result.Wrapping = fyne.TextWrapWord
	detect := widget.NewButton(T("ukey.detect"), d.Detect)
	form := widget.NewForm(widget.NewFormItem(T("ukey.pin"), d.pin), widget.NewFormItem(T("dl.code"), d.code))
	d.content = container.NewVScroll(container.NewVBox(d.info, detect, form, d.final, d.btn, d.err, d.result, d.progress, list))
	d.Detect()
	return d
}

// Detect looks for the UKEY and shows it with its PIN state.
func (d *DownloadStep) Detect() {
	go func() {
		text, final := ukeyStatus(d.env.ctx, d.ukey)
		onUI(func() {
			d.info.SetText(text)
			if final {
				d.final.Show()
			}
			d.env.called()
		})
	}()
}

// Start runs the stages from the first one not yet done.
func (d *DownloadStep) Start() {
	pin := []byte(d.pin.Text)
	d.pin.SetText("") // the PIN lives only as long as this attempt
	code := strings.TrimSpace(d.code.Text)
	finalOK := d.final.Checked
	d.btn.Disable()
	d.err.SetText("")
	d.progress.SetValue(0)
	for i, k := range stageKeys {
		d.stages[i].SetText("○ " + T(k))
	}
	go func() {
		cert, err := d.run(pin, code, finalOK)
		clear(pin)
		onUI(func() {
			d.btn.Enable()
			if err != nil {
				d.err.SetText(d.explain(err))
			} else {
				d.result.SetText(certSummary(cert))
				d.btn.Hide()
				d.Cert = cert // last: tests wait for it
			}
			d.env.called()
		})
	}()
}

func (d *DownloadStep) stage(i int, ok bool) {
	onUI(func() {
		if ok {
			d.stages[i].SetText("✓ " + T(stageKeys[i]))
			d.progress.SetValue(float64(i + 1))
		} else {
			d.stages[i].SetText("… " + T(stageKeys[i]))
		}
	})
}

func (d *DownloadStep) run(pin []byte, code string, finalOK bool) (*x509.Certificate, error) {
	// The UKEY's serial binds a key the CA initialised to this account,
	// for a PIN unlock later.
	serial := ""
	if t, err := d.ukey.Find(d.env.ctx); err == nil {
		serial = t.Serial
	}
	ts, err := d.ukey.Open(d.env.ctx, pin, finalOK)
	if err != nil {
		return nil, err
	}
	defer ts.Close()
	d.stage(0, false)
	// A renewal goes onto the UKEY of the certificate it renews (its key
	// is there, or, resumed after the old one was removed, the new one).
	if a := d.env.app; a.Renewal && a.Renews != "" {
		old, err := ts.HasKey(a.Renews)
		if err != nil {
			return nil, err
		}
		if cur, err := ts.HasKey(a.ID); err != nil {
			return nil, err
		} else if !old && !cur {
			return nil, errOtherUKEY
		}
	}
	k, err := ts.KeyFor(d.env.appID())
	if err != nil {
		return nil, err
	}
	d.stage(0, true)
	d.stage(1, false)
	csr, err := k.CSR("")
	if err != nil {
		return nil, err
	}
	d.stage(1, true)
	d.stage(2, false)
	b, err := d.srv.Download(d.env.ctx, d.env.appID(), api.DownloadRequest{CSR: csr, Code: code, TokenSerial: serial})
	if err != nil {
		return nil, err
	}
	d.stage(2, true)
	d.stage(3, false)
	cert, err := k.Install(b.Certificate)
	if err != nil {
		return nil, err
	}
	d.stage(3, true)
	d.stage(4, false)
	// Verify: the certificate reads back from the UKEY and the UKEY's key
	// signs something the certificate's public key accepts.
	certs, err := ts.Certificates()
	if err != nil {
		return nil, err
	}
	found := false
	for _, c := range certs {
		if c.SerialNumber.Cmp(cert.SerialNumber) == 0 {
			found = true
		}
	}
	if !found {
		return nil, errNotInstalled
	}
	h := sha256.Sum256([]byte("CertDesk check " + d.env.appID()))
	sig, err := k.Sign(rand.Reader, h[:], crypto.SHA256)
	if err != nil {
		return nil, err
	}
	if err := holder.CheckSignature(cert, h[:], sig); err != nil {
		return nil, err
	}
	// The renewed certificate goes only now that its successor reads
	// back and signs; a failure here leaves both, which harms nothing
	// (the old one is revoked as superseded) and is tried again on the
	// next download.
	if a := d.env.app; a.Renewal && a.Renews != "" {
		if err := ts.RemoveKeys(a.Renews); err != nil {
			d.env.log.Warn("remove the renewed certificate", "err", err)
		}
	}
	d.stage(4, true)
	return cert, nil
}

var errNotInstalled = errors.New("the certificate did not read back from the UKEY")

// errOtherUKEY: a renewal's download onto a UKEY that does not hold the
// certificate being renewed.
var errOtherUKEY = errors.New("this UKEY does not hold the certificate being renewed")

func (d *DownloadStep) explain(err error) string {
	msg, final := ukeyErrorText(err, d.env.lang, "dl.removed")
	if final {
		d.final.Show()
	}
	return msg
}

// certSummary is what the applicant may be asked about their certificate.
func certSummary(c *x509.Certificate) string {
	fp := sha256.Sum256(c.Raw)
	subject := c.Subject.CommonName
	if len(c.Subject.Organization) > 0 && c.Subject.Organization[0] != subject {
		subject += " · " + c.Subject.Organization[0]
	}
	return T("dl.done") + "\n" + strings.Join([]string{
		T("dl.subject") + ": " + subject,
		T("dl.serial") + ": " + strings.ToUpper(c.SerialNumber.Text(16)),
		T("dl.validity") + ": " + c.NotBefore.Local().Format("2006-01-02") + " — " + c.NotAfter.Local().Format("2006-01-02"),
		T("dl.issuer") + ": " + c.Issuer.CommonName,
		T("dl.fingerprint") + ": " + fmt.Sprintf("% X", fp[:]),
	}, "\n")
}
