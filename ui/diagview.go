package ui

import (
	"context"
	"image/color"
	"io"
	"os"
	"time"

	"fyne.io/fyne/v2"
	fyneapp "fyne.io/fyne/v2/app"
	"fyne.io/fyne/v2/canvas"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/dialog"
	"fyne.io/fyne/v2/widget"

	"certdesk/app/apply"
	"certdesk/app/diag"
)

// DiagOptions wire the diagnostic window to the checks of this PC.
type DiagOptions struct {
	Lang apply.Lang
	// Run performs the checks (the same as `certdesk diag`).
	Run func(ctx context.Context) diag.Report
	// Bundle writes the redacted support bundle of a report.
	Bundle func(w io.Writer, r diag.Report) error
	// Every is how often the checks run again while the window is open.
	Every time.Duration
}

// DiagView shows the checks live, each with its colour and fix, and exports
// the support bundle.
type DiagView struct {
	opts    DiagOptions
	win     fyne.Window
	list    *fyne.Container
	summary *widget.Label
	report  diag.Report
	content fyne.CanvasObject
}

// NewDiagView builds the view for window w.
func NewDiagView(w fyne.Window, opts DiagOptions) *DiagView {
	v := &DiagView{opts: opts, win: w}
	v.summary = widget.NewLabel(T("diag.running"))
	v.list = container.NewVBox()
	export := widget.NewButton(T("diag.export"), v.export)
	export.Importance = widget.HighImportance
	again := widget.NewButton(T("diag.again"), func() { v.Refresh(context.Background()) })
	top := container.NewVBox(widget.NewLabelWithStyle(T("diag.title"), fyne.TextAlignLeading, fyne.TextStyle{Bold: true}),
		container.NewBorder(nil, nil, nil, container.NewHBox(again, export), v.summary))
	v.content = container.NewBorder(top, nil, nil, nil, container.NewVScroll(v.list))
	return v
}

// Content is the view's root object.
func (v *DiagView) Content() fyne.CanvasObject { return v.content }

// Refresh runs the checks in the background and shows them.
func (v *DiagView) Refresh(ctx context.Context) {
	go func() {
		r := v.opts.Run(ctx)
		onUI(func() { v.show(r) })
	}()
}

var levelColor = map[diag.Level]color.Color{
	diag.Green:  color.NRGBA{0x2e, 0xa0, 0x43, 0xff},
	diag.Yellow: color.NRGBA{0xe0, 0xa0, 0x00, 0xff},
	diag.Red:    color.NRGBA{0xd0, 0x30, 0x30, 0xff},
}

func (v *DiagView) show(r diag.Report) {
	v.report = r
	l := v.opts.Lang
	v.list.RemoveAll()
	for _, c := range r.Checks {
		dot := canvas.NewCircle(levelColor[c.Level])
		dot.Resize(fyne.NewSize(14, 14))
		mark := container.NewGridWrap(fyne.NewSize(14, 14), dot)
		title := widget.NewLabelWithStyle(c.Title.In(l), fyne.TextAlignLeading, fyne.TextStyle{Bold: true})
		body := container.NewVBox()
		if c.Detail != "" {
			d := widget.NewLabel(c.DetailIn(l))
			d.Wrapping = fyne.TextWrapWord
			body.Add(d)
		}
		if fix := c.Fix.In(l); fix != "" {
			f := widget.NewLabel("→ " + fix)
			f.Wrapping = fyne.TextWrapWord
			if c.Level == diag.Red {
				f.Importance = widget.DangerImportance
			} else {
				f.Importance = widget.WarningImportance
			}
			body.Add(f)
		}
		v.list.Add(container.NewBorder(container.NewHBox(container.NewCenter(mark), title), nil, nil, nil, body))
		v.list.Add(widget.NewSeparator())
	}
	v.summary.SetText(T("diag.summary", map[string]any{"Time": r.Generated.Local().Format("15:04:05"), "Level": T("diag.level." + string(r.Worst()))}))
}

func (v *DiagView) export() {
	name := "certdesk-support-" + time.Now().Format("20060102-1504") + ".zip"
	chooseSave(v.win, T("diag.export"), name, func(path string) {
		f, err := os.Create(path)
		if err == nil {
			err = v.opts.Bundle(f, v.report)
			if cerr := f.Close(); err == nil {
				err = cerr
			}
		}
		if err != nil {
			dialog.ShowError(err, v.win)
			return
		}
		dialog.ShowInformation(T("diag.export"), T("diag.exported", map[string]any{"Path": path}), v.win)
	})
}

// RunDiag opens the diagnostic window (`certdesk --diag`) and blocks until
// it is closed; the checks run again every opts.Every.
func RunDiag(ctx context.Context, opts DiagOptions) error {
	if err := LoadTranslations(); err != nil {
		return err
	}
	if opts.Every == 0 {
		opts.Every = 5 * time.Second
	}
	a := fyneapp.NewWithID(AppID)
	a.Settings().SetTheme(NewTheme())
	w := a.NewWindow(T("diag.title"))
	v := NewDiagView(w, opts)
	w.SetContent(v.Content())
	w.Resize(fyne.NewSize(820, 640))
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	a.Lifecycle().SetOnStarted(func() {
		go func() {
			t := time.NewTicker(opts.Every)
			defer t.Stop()
			for {
				r := opts.Run(ctx)
				onUI(func() { v.show(r) })
				select {
				case <-ctx.Done():
					onUI(a.Quit)
					return
				case <-t.C:
				}
			}
		}()
	})
	w.ShowAndRun()
	return nil
}
