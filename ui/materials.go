package ui

import (
	"context"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/storage"
	"fyne.io/fyne/v2/widget"

	"certdesk/app/api"
	"certdesk/app/apply"
	"certdesk/app/client"
	"certdesk/app/material"
	appsync "certdesk/app/sync"
)

// MaterialsStep is the checklist of scans for this application, in the
// seed's order: each file is checked the moment it is chosen or dropped,
// with its problem in words and a one-click fix showing size and DPI before
// and after; a file that passes is uploaded at once with a progress bar.
// The paper documents to bring or mail close the list.
type MaterialsStep struct {
	env     stepEnv
	srv     materialsServer
	send    materialSender
	list    *fyne.Container
	next    *widget.Button
	content fyne.CanvasObject

	mu    sync.Mutex
	items []*matItem
	work  sync.WaitGroup // checks, fixes and uploads in flight, for tests
	// Verdict, when set, is told each verdict as it reaches the screen
	// (tests measure the time from drop to verdict with it).
	Verdict func(apply.MaterialType, material.Verdict)
}

type matItem struct {
	rule      apply.MaterialRule
	satisfied bool
	card      *widget.Card
	have      *fyne.Container // what is uploaded, with view and delete
	verdict   *widget.Label
	fix       *widget.Button
	fixed     *widget.Label
	progress  *widget.ProgressBar
	box       fyne.CanvasObject // the whole item, for drop targeting

	name string
	data []byte
	v    material.Verdict
	// gen counts the files chosen for the item (and fixes of them): the
	// work for an older one, still checking or sending, never writes
	// over the newer one's line ("✓ sent" while the newer was still on
	// its way).
	gen int
}

// materialsServer is what the materials step asks the server besides
// sending files.
type materialsServer interface {
	Checklist(ctx context.Context, appID string) (*api.Checklist, error)
	DeleteMaterial(ctx context.Context, appID, materialID string) error
}

func newMaterialsStep(env stepEnv, srv materialsServer, send materialSender) *MaterialsStep {
	m := &MaterialsStep{env: env, srv: srv, send: send}
	m.list = container.NewVBox(widget.NewLabel(T("center.loading")))
	m.next = widget.NewButton(T("mat.next"), func() { env.moveOn("") })
	m.next.Importance = widget.HighImportance
	m.next.Disable()
	intro := widget.NewLabel(T("mat.intro"))
	intro.Wrapping = fyne.TextWrapWord
	reprint := widget.NewButton(T("mat.reprint"), env.print)
	m.content = container.NewBorder(container.NewVBox(intro, container.NewHBox(reprint)), m.next, nil, nil, container.NewVScroll(m.list))
	m.load()
	return m
}

// load fetches the checklist and lays it out.
func (m *MaterialsStep) load() {
	background(m.env, func(ctx context.Context) (*api.Checklist, error) {
		return m.srv.Checklist(ctx, m.env.appID())
	}, m.env.say, m.layout)
}

func (m *MaterialsStep) layout(cl *api.Checklist) {
	l := m.env.lang
	m.mu.Lock()
	old := map[apply.MaterialType]*matItem{}
	for _, it := range m.items {
		old[it.rule.Type] = it
	}
	m.mu.Unlock()
	var items []*matItem // swapped in whole: Add and Drop look items up meanwhile
	m.list.RemoveAll()
	for _, ci := range cl.Items {
		it := old[ci.Rule.Type]
		if it == nil {
			it = m.newItem(ci.Rule)
		}
		it.rule, it.satisfied = ci.Rule, ci.Satisfied
		it.have.RemoveAll()
		for _, mi := range ci.Materials {
			mi := mi
			line := widget.NewLabel(fmt.Sprintf("✓ %s · %d×%d · %.0f DPI · %.0f KB", T("mat.uploaded"), mi.Width, mi.Height, mi.DPI, float64(mi.Bytes)/1024))
			del := widget.NewButton(T("mat.delete"), func() { m.delete(mi.ID) })
			it.have.Add(container.NewBorder(nil, nil, nil, del, line))
			if r := mi.Rejection; r != nil {
				// The reviewer's reason, beside the file it is about.
				why := r.Reason.In(l)
				if r.Note != "" {
					why += "(" + r.Note + ")"
				}
				back := widget.NewLabel("✗ " + T("mat.returned", map[string]any{"Reason": why}))
				back.Wrapping = fyne.TextWrapWord
				back.Importance = widget.DangerImportance
				it.have.Add(back)
			}
		}
		if len(ci.Materials) == 0 && ci.Rule.Required && ci.Rule.SameAs == "" {
			it.have.Add(widget.NewLabel("✗ " + T("mat.missing")))
		}
		items = append(items, it)
		m.list.Add(it.box)
	}
	m.mu.Lock()
	m.items = items
	m.mu.Unlock()
	var paper strings.Builder
	for _, p := range cl.Paper {
		fmt.Fprintf(&paper, "· %s(%s)\n", p.Label.In(l), p.Copies.In(l))
	}
	pl := widget.NewLabel(strings.TrimSpace(paper.String()))
	pl.Wrapping = fyne.TextWrapWord
	m.list.Add(widget.NewCard(T("mat.paper"), T("mat.paperhint"), pl))
	if cl.Complete {
		m.next.Enable()
	} else {
		m.next.Disable()
	}
}

func (m *MaterialsStep) newItem(r apply.MaterialRule) *matItem {
	l := m.env.lang
	it := &matItem{rule: r}
	title := r.Label.In(l)
	if r.Required {
		title += " *"
	}
	need := T("mat.need", map[string]any{"DPI": r.MinDPI, "KB": r.MaxBytes / 1024})
	if r.SameAs != "" {
		need += "\n" + T("mat.sameas")
	}
	steps := widget.NewLabel(r.Steps.In(l) + "\n" + need)
	steps.Wrapping = fyne.TextWrapWord
	it.have = container.NewVBox()
	it.verdict = widget.NewLabel("")
	it.verdict.Wrapping = fyne.TextWrapWord
	it.fixed = widget.NewLabel("")
	it.fixed.Wrapping = fyne.TextWrapWord
	it.fix = widget.NewButton(T("check.fix"), func() { m.fix(it) })
	it.fix.Importance = widget.HighImportance
	it.fix.Hide()
	it.progress = widget.NewProgressBar()
	it.progress.Hide()
	choose := widget.NewButton(T("mat.choose"), func() { m.choose(it) })
	it.card = widget.NewCard(title, "", container.NewVBox(steps, it.have, container.NewHBox(choose, it.fix), it.verdict, it.fixed, it.progress))
	it.box = it.card
	return it
}

func (m *MaterialsStep) choose(it *matItem) {
	chooseFile(m.env.win, T("mat.choose"), func(path string) {
		b, err := readChosen(path, 64<<20)
		if err != nil {
			it.verdict.SetText(T("check.readerror", map[string]any{"Err": err}))
			return
		}
		m.Add(it.rule.Type, filepath.Base(path), b)
	})
}

// Drop takes files dropped on the window: each goes to the item it was
// dropped on, or else to the first item still missing.
func (m *MaterialsStep) Drop(pos fyne.Position, uris []fyne.URI) {
	target := m.itemAt(pos)
	for _, u := range uris {
		rc, err := storage.Reader(u)
		if err != nil {
			continue
		}
		b, err := io.ReadAll(io.LimitReader(rc, 64<<20))
		rc.Close()
		if err != nil {
			continue
		}
		t := target
		if t == "" {
			t = m.firstMissing()
		}
		if t != "" {
			m.Add(t, u.Name(), b)
		}
	}
}

func (m *MaterialsStep) itemAt(pos fyne.Position) apply.MaterialType {
	m.mu.Lock()
	defer m.mu.Unlock()
	app := fyne.CurrentApp()
	if app == nil {
		return ""
	}
	for _, it := range m.items {
		if !it.box.Visible() {
			continue
		}
		p := app.Driver().AbsolutePositionForObject(it.box)
		s := it.box.Size()
		if pos.X >= p.X && pos.Y >= p.Y && pos.X < p.X+s.Width && pos.Y < p.Y+s.Height {
			return it.rule.Type
		}
	}
	return ""
}

func (m *MaterialsStep) firstMissing() apply.MaterialType {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, it := range m.items {
		if it.rule.Required && !it.satisfied && it.rule.SameAs == "" {
			return it.rule.Type
		}
	}
	return ""
}

func (m *MaterialsStep) item(t apply.MaterialType) *matItem {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, it := range m.items {
		if it.rule.Type == t {
			return it
		}
	}
	return nil
}

// Add checks a file for material t at once and uploads it if it passes.
func (m *MaterialsStep) Add(t apply.MaterialType, name string, data []byte) {
	it := m.item(t)
	if it == nil {
		return
	}
	it.gen++
	gen := it.gen
	it.name, it.data = name, data
	it.verdict.SetText(T("check.checking") + " " + name)
	it.fixed.SetText("")
	it.fix.Hide()
	it.fix.Enable() // a fix of the older file may have left it disabled
	rule := it.rule
	m.work.Add(1)
	go func() {
		defer m.work.Done()
		v := material.CheckBytes(data, rule)
		current := false
		onUIWait(func() {
			if current = it.gen == gen; current {
				m.showVerdict(it, v)
			}
		})
		if current && v.OK() {
			m.upload(it, gen, name, data)
		}
	}()
}

func (m *MaterialsStep) showVerdict(it *matItem, v material.Verdict) {
	it.v = v
	head := "✓ " + T("check.pass")
	if !v.OK() {
		head = "✗ " + T("check.fail")
	}
	in := v.Info
	facts := fmt.Sprintf("%s · %s · %d×%d · %.0f DPI · %.0f KB", it.name, formatLabel(in.Format), in.Width, in.Height, in.DPI, float64(in.Bytes)/1024)
	text := head + " · " + facts
	if p := problemText(v.Problems, m.env.lang); p != "" {
		text += "\n" + p
	}
	it.verdict.SetText(text)
	if !v.OK() && v.Fixable() {
		it.fix.Show()
	} else {
		it.fix.Hide()
	}
	if !v.OK() && !v.Fixable() {
		it.fixed.SetText(T("check.cannotfix"))
	}
	if m.Verdict != nil {
		m.Verdict(it.rule.Type, v)
	}
}

// Fix repairs the file of material t (一键修复) and uploads the result.
func (m *MaterialsStep) Fix(t apply.MaterialType) {
	if it := m.item(t); it != nil {
		m.fix(it)
	}
}

func (m *MaterialsStep) fix(it *matItem) {
	it.fix.Disable()
	it.fixed.SetText(T("check.fixing"))
	it.gen++
	gen, name, data, rule := it.gen, it.name, it.data, it.rule
	m.work.Add(1)
	go func() {
		defer m.work.Done()
		out, rep, err := material.Repair(data, rule)
		current := false
		onUIWait(func() {
			if current = it.gen == gen; !current {
				return
			}
			it.fix.Enable()
			if err != nil {
				it.fixed.SetText(T("check.cannotfix"))
				return
			}
			it.data = out
			it.fixed.SetText(fixSummary(rep, "", m.env.lang))
			m.showVerdict(it, rep.After)
		})
		if current && err == nil && rep.After.OK() {
			m.upload(it, gen, name, out)
		}
	}()
}

// upload sends the item's file with a progress bar; the client resumes a
// dropped connection from the server's offset by itself.
func (m *MaterialsStep) upload(it *matItem, gen int, name string, data []byte) {
	t := it.rule.Type
	// mine runs fn when this upload is still the item's newest file.
	mine := func(fn func()) {
		onUIWait(func() {
			if it.gen == gen {
				fn()
			}
		})
	}
	mine(func() {
		it.progress.SetValue(0)
		it.progress.Show()
		it.fix.Hide()
	})
	start := time.Now()
	progress := func(p client.Progress) {
		if p.Total > 0 {
			v := float64(p.Sent) / float64(p.Total)
			onUI(func() {
				if it.gen == gen {
					it.progress.SetValue(v)
				}
			})
		}
	}
	// With the local queue, on disk first: from here a crash or a lost
	// connection only delays the upload; the queue's loop finishes it.
	err := m.send.Send(m.env.ctx, m.env.appID(), t, name, data, progress)
	if queued(err) || errors.Is(err, context.Canceled) {
		mine(func() {
			it.progress.Hide()
			it.fixed.SetText(T("mat.queued"))
		})
		return
	}
	m.env.log.Info("material uploaded", "type", t, "bytes", len(data), "ms", time.Since(start).Milliseconds(), "err", err)
	mine(func() {
		it.progress.Hide()
		if err != nil {
			it.fixed.SetText(explain(err, m.env.lang))
			return
		}
		it.verdict.SetText("✓ " + T("mat.sent", map[string]any{"Name": name}))
	})
	m.reload()
}

func (m *MaterialsStep) delete(id string) {
	m.work.Add(1)
	go func() {
		defer m.work.Done()
		err := m.srv.DeleteMaterial(m.env.ctx, m.env.appID(), id)
		if err != nil {
			onUI(func() { m.env.say(explain(err, m.env.lang)) })
		}
		m.reload()
	}()
}

// reload refreshes the checklist; when the server moved the application
// on (every required material present), the journey follows.
// SyncEvent is the sync loop telling the page what became of a material
// it sent in the background (one queued while offline): accepted, or
// refused with the server's answer in the window's language, beside its
// item. Before, a background refusal was shown nowhere.
func (m *MaterialsStep) SyncEvent(e appsync.Event) {
	if e.AppID != m.env.appID() || (e.Kind != appsync.UploadDone && e.Kind != appsync.UploadFailed) {
		return
	}
	if it := m.item(e.Type); it != nil {
		if e.Kind == appsync.UploadFailed {
			it.fixed.SetText("✗ " + explain(e.Err, m.env.lang))
		} else {
			it.fixed.SetText("✓ " + T("mat.uploaded"))
		}
	}
	// Off the UI thread: reload asks the server, then waits for the UI.
	m.work.Add(1)
	go func() {
		defer m.work.Done()
		m.reload()
	}()
}

func (m *MaterialsStep) reload() {
	cl, err := m.srv.Checklist(m.env.ctx, m.env.appID())
	onUIWait(func() {
		if err == nil {
			m.layout(cl)
		}
		m.env.called()
	})
}

// Wait blocks until checks, fixes and uploads in flight are done.
func (m *MaterialsStep) Wait() { m.work.Wait() }
