package ui

import (
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"strings"
	"sync"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/dialog"
	"fyne.io/fyne/v2/storage"
	"fyne.io/fyne/v2/widget"

	"certdesk/app/apply"
	"certdesk/app/atomicfile"
	"certdesk/app/material"
)

// Checker is the material-check screen: drop or choose files, see each
// one's verdict in words, fix it with one click. Support staff use it
// without an application; the apply wizard's material step reuses it.
type Checker struct {
	win  fyne.Window
	lang apply.Lang
	log  *slog.Logger

	ruleSel *widget.Select
	list    *fyne.Container
	empty   *widget.Label
	content fyne.CanvasObject

	mu      sync.Mutex
	entries []*checkEntry
	work    sync.WaitGroup // outstanding checks and fixes, for tests
}

type checkEntry struct {
	name    string
	path    string // "" when the file is not on the local disk
	data    []byte
	verdict material.Verdict

	card    *widget.Card
	status  *widget.Label
	details *widget.Label
	fixBtn  *widget.Button
	result  *widget.Label
}

// NewChecker builds the screen for window w.
func NewChecker(w fyne.Window, l apply.Lang, log *slog.Logger) *Checker {
	c := &Checker{win: w, lang: l, log: log}
	c.ruleSel = widget.NewSelect([]string{T("check.type.doc"), T("check.type.seal")}, nil)
	c.ruleSel.PlaceHolder = T("select.one")
	c.ruleSel.SetSelectedIndex(0)
	choose := widget.NewButton(T("check.choose"), c.chooseFiles)
	choose.Importance = widget.HighImportance
	clear := widget.NewButton(T("check.clear"), c.clear)
	intro := widget.NewLabel(T("check.intro"))
	intro.Wrapping = fyne.TextWrapWord
	c.empty = widget.NewLabel(T("check.empty"))
	c.list = container.NewVBox(c.empty)
	top := container.NewVBox(
		widget.NewLabelWithStyle(T("check.title"), fyne.TextAlignLeading, fyne.TextStyle{Bold: true}),
		intro,
		container.NewBorder(nil, nil, widget.NewLabel(T("check.type")), container.NewHBox(choose, clear), c.ruleSel),
	)
	c.content = container.NewBorder(top, nil, nil, nil, container.NewVScroll(c.list))
	return c
}

// Content is the screen's root object.
func (c *Checker) Content() fyne.CanvasObject { return c.content }

func (c *Checker) rule() apply.MaterialRule {
	name := "doc"
	if c.ruleSel.SelectedIndex() == 1 {
		name = "seal"
	}
	r, _ := apply.GenericRule(name)
	return r
}

func (c *Checker) chooseFiles() {
	// No extension filter that hides files: a PNG or HEIC renamed .jpg, or
	// a photo saved as .jpeg.JPG, must still reach the checker to be told
	// what it really is.
	chooseFile(c.win, T("check.choose"), func(path string) { c.AddURIs([]fyne.URI{fileURI(path)}) })
}

// AddURIs checks dropped files.
func (c *Checker) AddURIs(uris []fyne.URI) {
	for _, u := range uris {
		rc, err := storage.Reader(u)
		if err != nil {
			c.addFailed(u.Name(), err)
			continue
		}
		c.addReader(u, rc)
		rc.Close()
	}
}

func (c *Checker) addReader(u fyne.URI, r io.Reader) {
	// Materials are capped at 2 MB; read a little past 64 MB at most so a
	// wrongly dropped video cannot exhaust memory, and still say "too large".
	b, err := io.ReadAll(io.LimitReader(r, 64<<20))
	if err != nil {
		c.addFailed(u.Name(), err)
		return
	}
	path := ""
	if u.Scheme() == "file" {
		path = u.Path()
	}
	c.AddFile(u.Name(), path, b)
}

func (c *Checker) addFailed(name string, err error) {
	c.log.Warn("read material", "file", name, "err", err)
	dialog.ShowError(fmt.Errorf("%s: %s", name, T("check.readerror", map[string]any{"Err": err})), c.win)
}

// AddFile checks data (named name, at path on disk if known) in the
// background and shows the verdict when done.
func (c *Checker) AddFile(name, path string, data []byte) {
	e := &checkEntry{name: name, path: path, data: data}
	e.status = widget.NewLabel(T("check.checking"))
	e.details = widget.NewLabel("")
	e.details.Wrapping = fyne.TextWrapWord
	e.result = widget.NewLabel("")
	e.result.Wrapping = fyne.TextWrapWord
	e.fixBtn = widget.NewButton(T("check.fix"), func() { c.fix(e) })
	e.fixBtn.Hide()
	e.card = widget.NewCard(name, "", container.NewVBox(e.status, e.details, container.NewHBox(e.fixBtn), e.result))

	c.mu.Lock()
	c.entries = append(c.entries, e)
	c.mu.Unlock()
	c.list.Remove(c.empty)
	c.list.Add(e.card)

	rule := c.rule()
	c.work.Add(1)
	go func() {
		defer c.work.Done()
		v := material.CheckBytes(data, rule)
		onUIWait(func() { c.show(e, v) })
	}()
}

func (c *Checker) show(e *checkEntry, v material.Verdict) {
	e.verdict = v
	in := v.Info
	status := T("check.pass")
	if !v.OK() {
		status = T("check.fail")
	}
	facts := []string{formatLabel(in.Format)}
	if in.Width > 0 {
		facts = append(facts, fmt.Sprintf("%d×%d", in.Width, in.Height))
	}
	if in.DPI > 0 {
		facts = append(facts, fmt.Sprintf("%.0f DPI", in.DPI))
	}
	facts = append(facts, fmt.Sprintf("%.0f KB", float64(in.Bytes)/1024))
	e.status.SetText(status + " · " + strings.Join(facts, " · "))
	e.details.SetText(problemText(v.Problems, c.lang))
	if !v.OK() && v.Fixable() || v.OK() && len(v.Problems) > 0 && v.Fixable() {
		e.fixBtn.Show()
	} else {
		e.fixBtn.Hide()
	}
	if !v.OK() && !v.Fixable() {
		e.result.SetText(T("check.cannotfix"))
	}
}

func problemText(ps []material.Problem, l apply.Lang) string {
	var b strings.Builder
	for i, p := range ps {
		if i > 0 {
			b.WriteString("\n")
		}
		mark := "✗"
		if p.Severity == material.Warning {
			mark = "!"
		}
		fmt.Fprintf(&b, "%s %s\n   → %s", mark, p.Message.In(l), p.Hint.In(l))
	}
	return b.String()
}

func (c *Checker) fix(e *checkEntry) {
	e.fixBtn.Disable()
	e.result.SetText(T("check.fixing"))
	rule := e.verdict.Rule
	c.work.Add(1)
	go func() {
		defer c.work.Done()
		out, rep, err := material.Repair(e.data, rule)
		saved, saveErr := "", error(nil)
		if err == nil && e.path != "" {
			saved = fixedPath(e.path)
			saveErr = atomicfile.WriteFile(saved, out, 0o644)
		}
		onUIWait(func() {
			e.fixBtn.Enable()
			switch {
			case err != nil:
				c.log.Info("material not fixable", "file", e.name, "err", err)
				e.result.SetText(T("check.cannotfix"))
			case saveErr != nil:
				e.result.SetText(T("check.saveerror", map[string]any{"Err": saveErr}))
			default:
				e.fixBtn.Hide()
				e.result.SetText(fixSummary(rep, saved, c.lang))
				e.data = out
				c.show(e, rep.After)
			}
		})
	}()
}

// fixedPath puts the repaired file beside the original, never over it: the
// applicant's scan stays as it was.
func fixedPath(p string) string {
	return strings.TrimSuffix(p, filepath.Ext(p)) + "-fixed.jpg"
}

func fixSummary(rep material.Report, saved string, l apply.Lang) string {
	b, a := rep.Before.Info, rep.After.Info
	var sb strings.Builder
	fmt.Fprintf(&sb, "%s: %.0f KB, %.0f DPI   %s: %.0f KB, %.0f DPI", T("check.before"), float64(b.Bytes)/1024, b.DPI, T("check.after"), float64(a.Bytes)/1024, a.DPI)
	for _, act := range rep.Actions {
		fmt.Fprintf(&sb, "\n· %s", act.Text.In(l))
	}
	if saved != "" {
		sb.WriteString("\n" + T("check.fixed", map[string]any{"Name": filepath.Base(saved)}))
	}
	return sb.String()
}

func (c *Checker) clear() {
	c.mu.Lock()
	c.entries = nil
	c.mu.Unlock()
	c.list.RemoveAll()
	c.list.Add(c.empty)
}

// formatLabel names a file format as applicants know it from file names:
// JPG, PNG, PDF (not "jpeg").
func formatLabel(f material.Format) string {
	return strings.ToUpper(strings.Replace(string(f), "jpeg", "jpg", 1))
}
