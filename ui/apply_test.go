package ui

import (
	"bytes"
	"context"
	"image"
	"image/color"
	"os"
	"strings"
	"testing"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/canvas"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/test"
	"fyne.io/fyne/v2/widget"

	"certdesk/app/api"
	"certdesk/app/apply"
)

// until drains the screen's call notifications until cond holds. cond
// walks widgets, so it runs under the lock background updates take (see
// onUI): Fyne's test driver runs fyne.Do on the caller's goroutine, and a
// walk beside a reply's update tore RichText's cache (concurrent map writes).
func until(t *testing.T, calls chan struct{}, cond func() bool) {
	t.Helper()
	deadline := time.After(10 * time.Second)
	locked := func() bool {
		uiMu.Lock()
		defer uiMu.Unlock()
		return cond()
	}
	for !locked() {
		select {
		case <-calls:
		case <-deadline:
			t.Fatal("condition not reached")
		}
	}
}

// The agreement, then the form: a wrong credit code is reported beside
// its field as the user leaves it, the draft is saved as typed, and the
// corrected form is submitted.
func TestApplyWizardAgreementAndForm(t *testing.T) {
	srv, log := uiServer(t)
	c := loggedIn(t, srv.URL, log)
	done := ""
	w := NewApply(c, apply.ZH, apply.KindOrg, t.TempDir(), nil, func(id string) { done = id })
	w.Render = testRender
	w.calls = make(chan struct{}, 256)
	until(t, w.calls, func() bool {
		return len(w.root.Objects) == 1 && w.appID == "" && w.fields == nil && findButton(w.root, "同意并继续") != nil
	})
	accept := findButton(w.root, "同意并继续")
	if !accept.Disabled() {
		t.Fatal("accept enabled before the agreement was ticked")
	}
	asUser(func() {
		test.Tap(findCheck(w.root, "我已阅读并同意上述协议"))
		test.Tap(accept)
	})
	until(t, w.calls, func() bool { return w.appID != "" && w.fields != nil })

	// set is the user typing into a field and leaving it, on the UI
	// goroutine; it returns what is said beside the field then.
	set := func(key, v string) (said string) {
		asUser(func() { said = typeInto(w.fields[key], v) })
		return said
	}
	hidden := func(key string) (h bool) {
		asUser(func() { h = w.fields[key].box.Hidden })
		return h
	}
	if msg := set(apply.FOrgCode, "91350100M000100Y44"); !strings.Contains(msg, "校验位不符") {
		t.Fatalf("credit code error: %q", msg)
	}
	// A name character no font here prints is said beside the name, as it
	// is left (a CJK Extension G character in no font of the PC); 䶮 and 𠮷 print.
	if msg := set(apply.FHandlerName, "王\U00031328"); !strings.Contains(msg, "U+31328") || !strings.Contains(msg, "字库") {
		t.Fatalf("unprintable name: %q", msg)
	}
	if msg := set(apply.FHandlerName, "刘䶮𠮷"); msg != "" {
		t.Fatalf("a printable rare name: %q", msg)
	}
	if msg := set(apply.FOrgCode, "91350100M000100Y43"); msg != "" {
		t.Fatalf("error not cleared: %q", msg)
	}
	if !hidden(apply.FMailAddress) {
		t.Fatal("the postal address shows for pickup")
	}
	for k, v := range map[string]string{apply.FUsername: "ui01", apply.FOrgName: "福州示例软件有限公司", apply.FOrgAddress: "福建省福州市鼓楼区五四路 100 号",
		apply.FHandlerName: "王堃", apply.FHandlerIDType: "resident", apply.FHandlerID: "11010519491231002X", apply.FHandlerMobile: "13800138000",
		apply.FHandlerEmail: "wang@example.com", apply.FSecurityQuestion: "您的出生地是?", apply.FSecurityAnswer: "福州", apply.FDelivery: "mail"} {
		set(k, v)
	}
	if hidden(apply.FMailAddress) {
		t.Fatal("the postal address is hidden for mail delivery")
	}
	// Submitting without the postal details: the server's errors appear beside the fields.
	asUser(func() { test.Tap(w.submit) })
	until(t, w.calls, func() bool { return w.fields[apply.FMailPostcode].err.Text != "" })
	if done != "" {
		t.Fatal("submitted with errors")
	}
	for k, v := range map[string]string{apply.FMailRecipient: "王堃", apply.FMailPhone: "13800138000", apply.FMailAddress: "福建省福州市鼓楼区五四路 100 号", apply.FMailPostcode: "350001"} {
		set(k, v)
	}
	// The draft reached the server as typed (autosave).
	until(t, w.calls, func() bool {
		a, err := c.Application(context.Background(), w.appID)
		return err == nil && a.Form[apply.FMailPostcode] == "350001"
	})
	asUser(func() { test.Tap(w.submit) })
	// Submitted: the acceptance form is written for printing.
	until(t, w.calls, func() bool { return w.PrintedPath != "" })
	pdf, err := os.ReadFile(w.PrintedPath)
	if err != nil || !bytes.HasPrefix(pdf, []byte("%PDF-")) || !strings.Contains(w.PrintedPath, "受理表-") {
		t.Fatalf("printed form %s: %v", w.PrintedPath, err)
	}
	if a, _ := c.Application(context.Background(), w.appID); a.State != apply.StateSubmitted {
		t.Fatalf("state %s", a.State)
	}
	// The screen previews the three pages as they will print.
	eventually(t, "the print preview", func() bool { return w.Preview != nil })
	var pages []*canvas.Image
	for _, o := range w.Preview.Objects {
		if img, ok := o.(*canvas.Image); ok {
			pages = append(pages, img)
		}
	}
	if len(pages) != 3 {
		t.Fatalf("the preview shows %d pages, want 3", len(pages))
	}
	for i, p := range pages {
		if ink := inkShare(p.Image); ink < 0.01 {
			t.Errorf("preview page %d is blank (%.3f dark)", i+1, ink)
		}
	}
	asUser(func() { test.Tap(findButton(w.root, "返回用户中心")) })
	if done != w.appID {
		t.Fatal("the print step did not lead back to the user center")
	}
}

// typeInto sets a field's value as the user would and leaves it, and
// returns what is said beside it then.
func typeInto(f *formField, v string) string {
	switch {
	case f.entry != nil:
		f.entry.SetText(v)
		f.entry.FocusLost()
	case f.sel != nil:
		for _, ch := range f.def.Choices {
			if ch.Value == v {
				f.sel.SetSelected(ch.Label.ZH)
			}
		}
	case f.check != nil:
		f.check.SetChecked(v == "true")
	}
	return f.err.Text
}

func findButton(o fyne.CanvasObject, text string) *widget.Button {
	return find(o, func(b *widget.Button) bool { return b.Text == text })
}

func findCheck(o fyne.CanvasObject, text string) *widget.Check {
	return find(o, func(c *widget.Check) bool { return c.Text == text })
}

// find is the last object of type W below o that match accepts.
func find[W fyne.CanvasObject](o fyne.CanvasObject, match func(W) bool) W {
	var found W
	walk(o, func(x fyne.CanvasObject) {
		if w, ok := x.(W); ok && match(w) {
			found = w
		}
	})
	return found
}

// walk visits containers and widgets' children via their renderers.
func walk(o fyne.CanvasObject, fn func(fyne.CanvasObject)) {
	fn(o)
	switch x := o.(type) {
	case *fyne.Container:
		for _, c := range x.Objects {
			walk(c, fn)
		}
	case fyne.Widget:
		for _, c := range test.WidgetRenderer(x).Objects() {
			walk(c, fn)
		}
	}
}

// Enter in a form field moves the focus to the next visible field.
func TestFormEnterMovesToNextField(t *testing.T) {
	srv, log := uiServer(t)
	c := loggedIn(t, srv.URL, log)
	a, err := c.CreateApplication(context.Background(), api.CreateApplicationRequest{Kind: apply.KindOrg, Agreement: api.AgreementAcceptance{Version: "2026-11", AcceptedAt: time.Now()}}, "")
	if err != nil {
		t.Fatal(err)
	}
	w := EditApply(c, apply.ZH, a, t.TempDir(), nil, func(string) {})
	win := test.NewTempWindow(t, w.Content())
	win.Resize(fyne.NewSize(900, 700))
	first, second := w.fields[apply.FUsername].entry, w.fields[apply.FOrgName].entry
	win.Canvas().Focus(first)
	first.TypedKey(&fyne.KeyEvent{Name: fyne.KeyReturn})
	if win.Canvas().Focused() != second {
		t.Fatalf("focus after Enter: %T", win.Canvas().Focused())
	}
}

// inkShare is the share of img's pixels that are dark.
func inkShare(img image.Image) float64 {
	b := img.Bounds()
	dark := 0
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			if color.GrayModel.Convert(img.At(x, y)).(color.Gray).Y < 128 {
				dark++
			}
		}
	}
	return float64(dark) / float64(max(1, b.Dx()*b.Dy()))
}

// A way back: the agreement and the form each have 返回用户中心, and Esc
// with no field focused does the same; the form saves what was typed.
func TestApplyWayBack(t *testing.T) {
	srv, log := uiServer(t)
	c := loggedIn(t, srv.URL, log)
	back := 0
	w := NewApply(c, apply.ZH, apply.KindOrg, t.TempDir(), nil, func(string) { back++ })
	w.calls = make(chan struct{}, 256)
	until(t, w.calls, func() bool { return findButton(w.root, "同意并继续") != nil })
	test.Tap(findButton(w.root, "返回用户中心"))
	if back != 1 {
		t.Fatal("no way back from the agreement")
	}
	w.acceptAgreement()
	until(t, w.calls, func() bool { return w.appID != "" && w.fields != nil })
	if ph := w.fields[apply.FDelivery].sel.PlaceHolder; ph != "请选择" {
		t.Fatalf("choice placeholder %q (Fyne's own is English)", ph)
	}
	w.fields[apply.FOrgName].entry.SetText("福州示例软件有限公司")
	test.Tap(findButton(w.root, "返回用户中心"))
	if back != 2 {
		t.Fatal("no way back from the form")
	}
	until(t, w.calls, func() bool {
		a, err := c.Application(context.Background(), w.appID)
		return err == nil && a.Form[apply.FOrgName] == "福州示例软件有限公司"
	})
}

// Esc on the window goes back where the shell says, and only there.
func TestEscapeGoesBack(t *testing.T) {
	test.NewTempApp(t)
	w := test.NewTempWindow(t, widget.NewLabel("x"))
	s := &Shell{w: w, root: container.NewStack()}
	called := 0
	s.escapeTo(func() { called++ })
	w.Canvas().OnTypedKey()(&fyne.KeyEvent{Name: fyne.KeyA})
	w.Canvas().OnTypedKey()(&fyne.KeyEvent{Name: fyne.KeyEscape})
	if called != 1 {
		t.Fatalf("Esc went back %d times", called)
	}
	s.escapeTo(func() { called++ })
	s.show(widget.NewLabel("center"))
	if k := w.Canvas().OnTypedKey(); k != nil {
		k(&fyne.KeyEvent{Name: fyne.KeyEscape})
	}
	if called != 1 {
		t.Fatal("Esc still went back after another screen was shown")
	}
}
