package ui

import (
	"context"
	"fmt"
	"image"
	"strings"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/canvas"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/widget"

	"certdesk/app/acceptform"
	"certdesk/app/api"
	"certdesk/app/apply"
	"certdesk/app/client"
	appsync "certdesk/app/sync"
)

// Apply is the start of the apply wizard: the service agreement, then the
// form — every field from app/apply's schema, required ones marked *,
// checked when the user leaves the field with the same validators the
// server runs, autosaved, submitted with the server's field errors shown
// beside their fields.
type Apply struct {
	c       applyServer
	drafts  Drafts // the local store first; nil sends straight to the server
	lang    apply.Lang
	kind    apply.Kind
	onDone  func(appID string)
	formDir string // where printed forms are written
	// PrintedPath is the acceptance form written after submission.
	PrintedPath string
	// OnContinue goes on to the next step (materials) after printing.
	OnContinue func(appID string)
	// Render draws the pages of a PDF for the print preview (nil: no
	// preview, the form is only opened in the system's viewer).
	Render func(ctx context.Context, pdf []byte) ([]image.Image, error)
	// Preview holds the print step's page previews once drawn.
	Preview *fyne.Container

	idemKey string
	appID   string
	values  apply.Values
	fields  map[string]*formField
	root    *fyne.Container
	pending apply.Values // newest values not yet saved
	saving  bool
	filling bool // setting widgets from saved values: no autosave
	status  *widget.Label
	submit  *widget.Button
	agree   *widget.Check     // the agreement's tick
	accept  *widget.Button    // and its button
	calls   chan struct{}     // receives after each finished server call, for tests
	server  apply.Values      // the form as the server last had it
	typing  *time.Timer       // autosave shortly after the last keystroke
	fonts   *acceptform.Fonts // whether the form prints what is typed
	// Unsent is true while an edit saved on this PC has not reached the
	// server (shown as 未同步).
	Unsent bool
}

// applyServer is what the form asks the server: the agreement, a new
// application, saved and submitted forms, and what the printed form is
// made of.
type applyServer interface {
	formSource
	CreateApplication(ctx context.Context, req api.CreateApplicationRequest, idemKey string) (*api.Application, error)
	UpdateForm(ctx context.Context, id string, req api.UpdateFormRequest) (*api.Application, error)
}

// Drafts is where the form's edits go first: the local store, whose sync
// loop sends them (appsync.Loop).
type Drafts interface {
	SaveDraft(ctx context.Context, appID string, kind apply.Kind, form apply.Values) error
	Draft(ctx context.Context, appID string) (*appsync.Draft, error)
	// DropDraft forgets the local copy once the server has the form as
	// submitted, so an older copy is never sent after it.
	DropDraft(ctx context.Context, appID string) error
}

type formField struct {
	refused bool // err shows the server's refusal of a saved edit
	def     apply.Field
	box     *fyne.Container // label, input, error: hidden when inactive
	err     *errText
	entry   *leaveEntry
	sel     *widget.Select
	check   *widget.Check
}

// leaveEntry is an Entry that reports when the user leaves it.
type leaveEntry struct {
	widget.Entry
	onLeave func()
}

func newLeaveEntry(secret bool, onLeave func()) *leaveEntry {
	e := &leaveEntry{onLeave: onLeave}
	e.Password = secret
	e.ExtendBaseWidget(e)
	return e
}

// FocusLost checks the field as the user leaves it.
func (e *leaveEntry) FocusLost() {
	e.Entry.FocusLost()
	if e.onLeave != nil {
		e.onLeave()
	}
}

// NewApply starts an application of kind k; printed forms go to formDir.
// drafts (nil: none) is where edits are saved first.
func NewApply(c applyServer, l apply.Lang, k apply.Kind, formDir string, drafts Drafts, onDone func(appID string)) *Apply {
	s := &Apply{c: c, drafts: drafts, lang: l, kind: k, onDone: onDone, formDir: formDir, idemKey: client.NewIdempotencyKey(), values: apply.Values{}}
	s.status = widget.NewLabel("")
	s.status.Wrapping = fyne.TextWrapWord
	s.root = container.NewStack(widget.NewLabel(T("center.loading")))
	go func() {
		ag, err := c.Agreement(context.Background())
		onUI(func() {
			if err != nil {
				s.root.Objects = []fyne.CanvasObject{widget.NewLabel(explain(err, l))}
				s.root.Refresh()
			} else {
				s.showAgreement(ag)
			}
			s.called()
		})
	}()
	return s
}

// EditApply opens the form of an existing application a (a draft to
// finish, a submitted form to change, or a copy made by 类似申请) with its
// saved values. An edit saved on this PC and not yet on the server wins
// over the server's copy (the server wins for the state, the local draft
// for unsent edits) and is shown as 未同步 until it is sent.
func EditApply(c applyServer, l apply.Lang, a *api.Application, formDir string, drafts Drafts, onDone func(appID string)) *Apply {
	s := &Apply{c: c, drafts: drafts, lang: l, kind: a.Kind, onDone: onDone, formDir: formDir, appID: a.ID, values: apply.Values{}, server: a.Form}
	s.status = widget.NewLabel("")
	s.status.Wrapping = fyne.TextWrapWord
	s.root = container.NewStack()
	s.showForm()
	form := a.Form
	var local *appsync.Draft
	if drafts != nil {
		d, err := drafts.Draft(context.Background(), a.ID)
		if err != nil {
			s.status.SetText(explain(err, l))
		} else if d != nil && (d.Dirty || d.Refused != nil) && apply.CanModify(a.State) {
			local, form = d, d.Form
		}
	}
	s.fill(form)
	switch {
	case local != nil && local.Refused != nil:
		s.showRefused(local.Refused)
	case local != nil:
		s.Unsent = true
		s.status.SetText(T("apply.unsent"))
	}
	return s
}

// fill sets every field's widget from saved values.
func (s *Apply) fill(vals apply.Values) {
	s.filling = true
	defer func() { s.filling = false }()
	for k, v := range vals {
		s.values[k] = v
		f := s.fields[k]
		if f == nil {
			continue
		}
		switch {
		case f.entry != nil:
			f.entry.SetText(v)
		case f.sel != nil:
			for _, c := range f.def.Choices {
				if c.Value == v {
					f.sel.SetSelected(c.Label.In(s.lang))
				}
			}
		case f.check != nil:
			f.check.SetChecked(v == "true")
		}
	}
	s.refreshActive()
}

// Content is the wizard's root object.
func (s *Apply) Content() fyne.CanvasObject { return s.root }

func (s *Apply) called() {
	if s.calls != nil {
		s.calls <- struct{}{}
	}
}

func (s *Apply) showAgreement(ag *api.Agreement) {
	text := widget.NewLabel(ag.Text)
	text.Wrapping = fyne.TextWrapWord
	var accept *widget.Button
	var agree *widget.Check
	agree = widget.NewCheck(T("apply.agree"), func(on bool) {
		if on {
			accept.Enable()
		} else {
			accept.Disable()
		}
	})
	accept = widget.NewButton(T("apply.accept"), func() {
		accept.Disable()
		req := api.CreateApplicationRequest{Kind: s.kind, Agreement: api.AgreementAcceptance{Version: ag.Version, AcceptedAt: time.Now()}}
		go func() {
			a, err := s.c.CreateApplication(context.Background(), req, s.idemKey)
			onUI(func() {
				if err != nil {
					accept.Enable()
					s.status.SetText(explain(err, s.lang))
				} else {
					s.appID = a.ID
					s.showForm()
				}
				s.called()
			})
		}()
	})
	accept.Importance = widget.HighImportance
	accept.Disable()
	s.agree, s.accept = agree, accept
	title := widget.NewLabelWithStyle(ag.Title+"("+ag.Version+")", fyne.TextAlignCenter, fyne.TextStyle{Bold: true})
	s.root.Objects = []fyne.CanvasObject{container.NewBorder(title, container.NewVBox(agree, s.status, container.NewBorder(nil, nil, s.backButton(), nil, accept)), nil, nil, container.NewVScroll(text))}
	s.root.Refresh()
}

// acceptAgreement ticks the agreement and accepts it, as the user would.
func (s *Apply) acceptAgreement() {
	s.agree.SetChecked(true)
	s.accept.OnTapped()
}

func (s *Apply) showForm() {
	// Built aside and published whole at the end: tests (and autosave
	// callbacks) look at s.fields while this runs.
	fields := map[string]*formField{}
	list := container.NewVBox(widget.NewLabelWithStyle(s.kind.Label(s.lang)+" · "+T("apply.form"), fyne.TextAlignLeading, fyne.TextStyle{Bold: true}),
		widget.NewLabel(T("apply.required")))
	labelW := float32(0)
	for _, def := range apply.Schema(s.kind) {
		labelW = max(labelW, widget.NewLabel(def.Label.In(s.lang)+" *").MinSize().Width)
	}
	for _, def := range apply.Schema(s.kind) {
		f := &formField{def: def, err: errLabel()}
		label := def.Label.In(s.lang)
		if def.Required {
			label += " *"
		}
		var input fyne.CanvasObject
		key := def.Key
		switch def.Type {
		case apply.TypeChoice:
			var opts []string
			for _, c := range def.Choices {
				opts = append(opts, c.Label.In(s.lang))
			}
			f.sel = widget.NewSelect(opts, func(picked string) {
				for _, c := range def.Choices {
					if c.Label.In(s.lang) == picked {
						s.values[key] = c.Value
					}
				}
				s.leave(key)
				s.refreshActive()
			})
			f.sel.PlaceHolder = T("select.one") // Fyne's own is "(Select one)"
			input = f.sel
		case apply.TypeBool:
			f.check = widget.NewCheck(label, func(on bool) {
				s.values[key] = ""
				if on {
					s.values[key] = "true"
				}
				s.refreshActive()
				s.autosave()
			})
			input = f.check
			label = ""
		default:
			f.entry = newLeaveEntry(def.Type == apply.TypeSecret, func() { s.leave(key) })
			f.entry.OnChanged = func(v string) {
				s.values[key] = v
				s.typed()
			}
			f.entry.SetPlaceHolder(def.Help.In(s.lang))
			input = f.entry
		}
		// The label beside its input, in one column for all fields, and
		// the message under the input taking no room until there is one:
		// one field is one row, as on the paper form.
		f.box = container.NewBorder(nil, nil, labelColumn(label, labelW), nil, container.NewVBox(input, f.err))
		fields[key] = f
		list.Add(f.box)
	}
	s.submit = widget.NewButton(T("apply.submit"), s.doSubmit)
	s.submit.Importance = widget.HighImportance
	// Enter in a text field goes on to the next visible one, and submits
	// from the last, as in the paper form's order (Tab works as well).
	var entries []*formField
	for _, def := range apply.Schema(s.kind) {
		if f := fields[def.Key]; f.entry != nil {
			entries = append(entries, f)
		}
	}
	for i, f := range entries {
		rest := entries[i+1:]
		f.entry.OnSubmitted = func(string) {
			for _, n := range rest {
				if n.box.Visible() {
					if c := fyne.CurrentApp().Driver().CanvasForObject(n.entry); c != nil {
						c.Focus(n.entry)
					}
					return
				}
			}
			s.doSubmit()
		}
	}
	s.fields = fields
	s.refreshActive()
	s.root.Objects = []fyne.CanvasObject{container.NewBorder(nil, container.NewVBox(s.status, container.NewBorder(nil, nil, s.backButton(), nil, s.submit)), nil, nil, container.NewVScroll(list))}
	s.root.Refresh()
}

// backButton leads back to the user center from the agreement or the
// form (Esc does the same, see Back).
func (s *Apply) backButton() *widget.Button {
	return widget.NewButton(T("apply.back"), s.Back)
}

// Back leaves the wizard for the user center. What was typed is saved
// first (the local store, or the server), so nothing is lost; a form not
// yet created (the agreement not accepted) leaves nothing behind.
func (s *Apply) Back() {
	if s.fields != nil && s.appID != "" {
		s.autosave()
	}
	if s.onDone != nil {
		s.onDone(s.appID)
	}
}

// refreshActive shows only the fields that apply (the postal address for
// mail delivery, the handler when not the applicant).
func (s *Apply) refreshActive() {
	for _, f := range s.fields {
		if f.def.IsActive(s.values) {
			f.box.Show()
		} else {
			f.box.Hide()
			f.err.SetText("")
		}
	}
}

// leave checks one field as the user leaves it and autosaves the draft.
func (s *Apply) leave(key string) {
	f := s.fields[key]
	if _, fe := f.def.Check(s.values[key], s.values, time.Now()); fe != nil && s.values[key] != "" {
		f.err.SetText(fe.Message.In(s.lang))
	} else if miss := s.unprintable(f.def, s.values[key]); miss != "" {
		f.err.SetText(T("form.unprintable.field", map[string]any{"Chars": miss}))
	} else {
		f.err.SetText("")
	}
	s.autosave()
}

// labelColumn is a field's label at the width of the widest: the inputs
// line up in one column. A check box's label is its own ("" here).
func labelColumn(label string, w float32) fyne.CanvasObject {
	l := widget.NewLabel(label)
	return container.New(minWidth(w), l)
}

// minWidth lays its objects out at least w wide.
type minWidth float32

func (m minWidth) MinSize(objs []fyne.CanvasObject) fyne.Size {
	s := fyne.Size{Width: float32(m)}
	for _, o := range objs {
		s = s.Max(o.MinSize())
	}
	return s
}

func (m minWidth) Layout(objs []fyne.CanvasObject, size fyne.Size) {
	for _, o := range objs {
		o.Move(fyne.Position{})
		o.Resize(fyne.NewSize(size.Width, o.MinSize().Height))
	}
}

// unprintable lists the characters of a printed field's value that no font
// on this PC prints on the acceptance form ("" when all print): said beside
// the field as it is left, not when the form is printed.
func (s *Apply) unprintable(def apply.Field, v string) string {
	if def.Type == apply.TypeSecret || def.Type == apply.TypeBool || v == "" {
		return ""
	}
	if s.fonts == nil {
		f, err := acceptform.NewFonts()
		if err != nil {
			return ""
		}
		s.fonts = f
	}
	return quoteChars(s.fonts.Unprintable(v))
}

// quoteChars names characters as 「𠀀」(U+20000), comma separated.
func quoteChars(rs []rune) string {
	parts := make([]string, len(rs))
	for i, r := range rs {
		parts[i] = fmt.Sprintf("「%c」(U+%04X)", r, r)
	}
	return strings.Join(parts, "、")
}

// typeDelay is how long after the last keystroke the form is saved: a
// crash mid-word loses at most that.
const typeDelay = 400 * time.Millisecond

// typed saves the form shortly after typing pauses.
func (s *Apply) typed() {
	if s.filling || s.appID == "" || s.drafts == nil {
		return
	}
	if s.typing != nil {
		s.typing.Stop()
	}
	s.typing = time.AfterFunc(typeDelay, func() { onUI(s.autosave) })
}

// autosave saves the draft as it stands. With a local store the edit is
// written there (a few milliseconds, on this PC) and the sync loop sends
// it; without one it goes to the server (which keeps partial drafts),
// saves never overlapping and the newest values always last.
func (s *Apply) autosave() {
	if s.filling || s.appID == "" {
		return
	}
	vals := apply.Values{}
	for k, v := range s.values {
		vals[k] = v
	}
	if s.drafts != nil {
		if s.typing != nil {
			s.typing.Stop()
		}
		if err := s.drafts.SaveDraft(context.Background(), s.appID, s.kind, vals); err != nil {
			s.status.SetText(explain(err, s.lang))
			return
		}
		s.Unsent = true
		s.status.SetText(T("apply.savedlocal"))
		return
	}
	s.pending = vals
	if s.saving {
		return // the running save loop picks the newest values up
	}
	s.saving = true
	s.saveNext()
}

// saveNext sends the newest pending values; it runs on the UI thread
// between saves, so pending and saving need no lock.
func (s *Apply) saveNext() {
	vals, id := s.pending, s.appID
	s.pending = nil
	go func() {
		_, err := s.c.UpdateForm(context.Background(), id, api.UpdateFormRequest{Form: vals})
		onUI(func() {
			if err != nil {
				s.status.SetText(explain(err, s.lang))
			} else {
				s.status.SetText(T("apply.saved"))
			}
			if s.pending != nil {
				s.saveNext()
			} else {
				s.saving = false
			}
			s.called()
		})
	}()
}

// SyncEvent is the sync loop telling the form what became of its edits.
func (s *Apply) SyncEvent(e appsync.Event) {
	if e.AppID != s.appID || s.fields == nil {
		return
	}
	switch e.Kind {
	case appsync.DraftSent:
		s.Unsent = false
		s.status.SetText(T("apply.saved"))
		for _, f := range s.fields {
			if f.refused {
				f.err.SetText("")
				f.refused = false
			}
		}
	case appsync.DraftUnsent:
		s.Unsent = true
		s.status.SetText(T("apply.unsent"))
	case appsync.DraftRefused:
		if ae := asAPIError(e.Err); ae != nil {
			s.showRefused(ae)
		}
	case appsync.Conflict:
		// The state moved on (paid, say): the unsent values stay on the
		// screen, each changed field saying it was not saved and why.
		s.Unsent = false
		msg := explain(e.Err, s.lang)
		s.status.SetText(T("apply.conflict", map[string]any{"Reason": msg}))
		for k, f := range s.fields {
			if s.values[k] != s.server[k] && f.box.Visible() {
				f.err.SetText(msg)
				f.refused = true
			}
		}
	}
}

// showRefused puts the server's refusal of a saved draft beside its
// fields.
func (s *Apply) showRefused(ae *api.Error) {
	s.Unsent = true
	s.status.SetText(T("apply.refused"))
	for _, fe := range ae.Fields {
		if f, ok := s.fields[fe.Field]; ok {
			f.err.SetText(apply.Text{ZH: fe.MessageZH, EN: fe.MessageEN}.In(s.lang))
			f.refused = true
		}
	}
}

func (s *Apply) doSubmit() {
	if s.typing != nil {
		s.typing.Stop()
	}
	s.submit.Disable()
	vals := apply.Values{}
	for k, v := range s.values {
		vals[k] = v
	}
	go func() {
		_, err := s.c.UpdateForm(context.Background(), s.appID, api.UpdateFormRequest{Form: vals, Submit: true})
		onUI(func() {
			s.submit.Enable()
			if err != nil {
				s.showErrors(err)
			} else {
				if s.drafts != nil {
					if err := s.drafts.DropDraft(context.Background(), s.appID); err != nil {
						s.status.SetText(explain(err, s.lang))
					}
				}
				s.Unsent = false
				s.showPrint()
			}
			s.called()
		})
	}()
}

// showErrors puts each field error beside its field (seed D: a silent
// stay on the page is exactly what we do not do).
func (s *Apply) showErrors(err error) {
	s.status.SetText(explain(err, s.lang))
	if ae := asAPIError(err); ae != nil {
		for _, fe := range ae.Fields {
			if f, ok := s.fields[fe.Field]; ok {
				f.err.SetText(apply.Text{ZH: fe.MessageZH, EN: fe.MessageEN}.In(s.lang))
			}
		}
	}
}

// showPrint makes the acceptance form (受理表, 服务协议, 授权委托书: seed
// 2.2, three A4 pages) from the submitted application, writes it beside the
// user's data and offers to open it in the system's PDF viewer to print.
func (s *Apply) showPrint() {
	s.root.Objects = []fyne.CanvasObject{widget.NewLabel(T("apply.printing"))}
	s.root.Refresh()
	go func() {
		path, pdf, err := s.writeForm()
		onUI(func() {
			if err != nil {
				s.status.SetText(explain(err, s.lang))
				s.root.Objects = []fyne.CanvasObject{container.NewVBox(s.status, widget.NewButton(T("apply.back"), func() { s.onDone(s.appID) }))}
				s.root.Refresh()
				s.called()
				return
			}
			s.PrintedPath = path
			info := widget.NewLabel(T("apply.printed", map[string]any{"Path": path}))
			info.Wrapping = fyne.TextWrapWord
			open := widget.NewButton(T("apply.open"), func() {
				if err := printFile(path); err != nil {
					s.status.SetText(err.Error())
					return
				}
				s.status.SetText(T("print.handed"))
			})
			open.Importance = widget.HighImportance
			steps := widget.NewLabel(T("apply.printsteps"))
			steps.Wrapping = fyne.TextWrapWord
			preview := container.NewHBox(widget.NewLabel(T("apply.previewing")))
			items := []fyne.CanvasObject{
				widget.NewLabelWithStyle(T("apply.printtitle"), fyne.TextAlignLeading, fyne.TextStyle{Bold: true}),
				info, preview, steps, open, s.status}
			if s.OnContinue != nil {
				next := widget.NewButton(T("apply.tomaterials"), func() { s.OnContinue(s.appID) })
				next.Importance = widget.HighImportance
				open.Importance = widget.MediumImportance
				items = append(items, next)
			}
			items = append(items, widget.NewButton(T("apply.back"), func() { s.onDone(s.appID) }))
			s.root.Objects = []fyne.CanvasObject{container.NewScroll(container.NewVBox(items...))}
			s.root.Refresh()
			s.called()
			go s.drawPreview(preview, pdf)
		})
	}()
}

// drawPreview puts the form's pages, as they will print, into box. It
// runs behind the screen (the first preview compiles the renderer); the
// user can open and print the file meanwhile, and a preview that fails
// only says so.
func (s *Apply) drawPreview(box *fyne.Container, pdf []byte) {
	if s.Render == nil {
		onUI(func() {
			box.Objects = nil
			box.Refresh()
		})
		return
	}
	pages, err := s.Render(context.Background(), pdf)
	onUI(func() {
		if err != nil {
			box.Objects = []fyne.CanvasObject{widget.NewLabel(T("apply.nopreview", map[string]any{"Err": err.Error()}))}
			box.Refresh()
			return
		}
		box.Objects = box.Objects[:0]
		for _, p := range pages {
			img := canvas.NewImageFromImage(p)
			img.FillMode = canvas.ImageFillContain
			img.ScaleMode = canvas.ImageScaleSmooth
			img.SetMinSize(fyne.NewSize(200, 283)) // A4's proportions
			box.Add(img)
		}
		box.Refresh()
		s.Preview = box
		s.called()
	})
}

func (s *Apply) writeForm() (string, []byte, error) {
	return writeAcceptanceForm(context.Background(), s.c, s.appID, s.formDir)
}
