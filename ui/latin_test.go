package ui

import (
	"context"
	"fmt"
	"regexp"
	"runtime"
	"strings"
	"testing"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/canvas"
	"fyne.io/fyne/v2/test"
	"fyne.io/fyne/v2/widget"

	"certdesk/app/apply"
	"certdesk/app/diag"
	"certdesk/token/softhsmtest"
)

// latinAllowed are the Latin words a Chinese screen may show: names of
// products and standards, and units and terms Chinese applicants read in
// Latin letters (the CA's own tutorial writes UKEY, PIN, DPI, KB).
var latinAllowed = map[string]bool{
	"UKEY": true, "PIN": true, "DPI": true, "KB": true, "MB": true, "JPG": true, "PDF": true,
	"CertDesk": true, "CA": true, "USB": true, "WPS": true, "Adobe": true, "Reader": true,
	"SimSun": true, "ExtB": true, "certdesk": true, "GB": true, "PKCS": true, "HTTP": true, "HTTPS": true, "TLS": true, "Windows": true, "RSA": true, "SHA": true, "SM": true, "PNG": true,
	// Key and file formats a certificate viewer names (Windows' own shows them so).
	"ECDSA": true, "DER": true, "PEM": true,
}

// latinWord is a run of Latin letters standing alone: not inside a token
// with digits or the marks of an address, a file or an e-mail (application
// numbers, serials, fingerprints, paths and URLs are data, not wording).
var latinToken = regexp.MustCompile(`[A-Za-z0-9._@/:\\-]+`)
var onlyLetters = regexp.MustCompile(`^[A-Za-z]{2,}$`)

// hexBytes is a fingerprint or serial written as hex pairs.
var hexBytes = regexp.MustCompile(`\b([0-9A-F]{2}[ :]){3,}[0-9A-F]{2}\b`)

func latinWords(s string) []string {
	s = hexBytes.ReplaceAllString(s, "")
	var out []string
	for _, tok := range latinToken.FindAllString(s, -1) {
		if strings.HasPrefix(tok, "certdesk-") {
			continue // our programs' file names
		}
		for _, w := range strings.FieldsFunc(tok, func(r rune) bool { return r == '-' }) {
			if onlyLetters.MatchString(w) && !strings.ContainsAny(tok, "0123456789@/:\\.") && !latinAllowed[w] {
				out = append(out, w)
			}
		}
	}
	return out
}

// visibleTexts is every text drawn on the canvas that is not hidden, with
// what the user typed left out (an entry's text is theirs; its
// placeholder is ours).
func visibleTexts(c fyne.Canvas) []string {
	var out []string
	var walk func(o fyne.CanvasObject)
	walk = func(o fyne.CanvasObject) {
		if o == nil || !o.Visible() {
			return
		}
		switch x := o.(type) {
		case *widget.Entry:
			if x.Text == "" {
				out = append(out, x.PlaceHolder)
			}
			return
		case *canvas.Text:
			out = append(out, x.Text)
			return
		case *fyne.Container:
			for _, ch := range x.Objects {
				walk(ch)
			}
			return
		case fyne.Widget:
			for _, ch := range test.WidgetRenderer(x).Objects() {
				walk(ch)
			}
		}
	}
	walk(c.Content())
	for _, o := range c.Overlays().List() {
		walk(o)
	}
	return out
}

func TestLatinWords(t *testing.T) {
	for _, c := range []struct {
		in   string
		want string
	}{
		{"请插入 UKEY 并输入 PIN", ""},
		{"(Select one)", "Select one"},
		{"金额 500.00 CNY", "CNY"},
		{"申请编号 3f9a2c1e · 文件 C:\\Users\\wang\\受理表.pdf · wang@example.com", ""},
		{"https://ca.example.cn/api 扫码", ""},
		{"No", "No"},
		{"SimSun-ExtB", ""},
		{"SHA-256 指纹: E5 EB 5E A9 38 BB", ""},
	} {
		if got := strings.Join(latinWords(c.in), " "); got != c.want {
			t.Errorf("latinWords(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}

// The diagnostic window in Chinese: every check's title, detail and fix
// in Chinese (the details were English), against a real server, a real
// SoftHSM2 UKEY and a local store with a queued upload.
func TestDiagViewInChinese(t *testing.T) {
	srv, _ := devServer(t)
	tk := softhsmtest.New(t, "ui-diag")
	win := test.NewTempWindow(t, nil)
	env := diag.Env{Version: "1.0.0", DataDir: t.TempDir(), ServerURL: srv.URL, Embedded: true,
		Modules: []string{tk.ModulePath}, Local: &diag.Local{Drafts: 1, QueuedUploads: 2}, Helpers: []string{"/nonexistent/certdesk-preview"}}
	done := make(chan diag.Report, 1)
	v := NewDiagView(win, DiagOptions{Lang: apply.ZH, Run: func(ctx context.Context) diag.Report {
		r := diag.Run(ctx, env)
		done <- r
		return r
	}})
	win.SetContent(v.Content())
	v.Refresh(context.Background())
	r := <-done
	eventually(t, "the checks shown", func() bool { return len(v.list.Objects) >= len(r.Checks) })
	var bad []string
	uiMu.Lock()
	texts := visibleTexts(win.Canvas())
	uiMu.Unlock()
	for _, s := range texts {
		// Data: the UKEY's label and model, the operating system's name.
		s = strings.ReplaceAll(strings.ReplaceAll(s, tk.Label, ""), "SoftHSM", "")
		if strings.HasPrefix(s, runtime.GOOS+" ") || strings.Contains(s, "bookworm") {
			continue
		}
		if w := latinWords(s); len(w) > 0 {
			bad = append(bad, fmt.Sprintf("%v in %q", w, s))
		}
	}
	if len(bad) > 0 {
		t.Errorf("English in the Chinese diagnostic window:\n%s", strings.Join(bad, "\n"))
	}
}
