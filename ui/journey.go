package ui

import (
	"context"
	"image/color"
	"log/slog"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/canvas"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/layout"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"

	"certdesk/app/api"
	"certdesk/app/apply"
	"certdesk/app/client"
	appsync "certdesk/app/sync"
)

// Journey carries one application from its submitted form to the
// certificate on the UKEY: a step bar across the top and, below it, the
// step the application is at — materials, identity, payment, review or
// download. It reloads the application after every step, so the server's
// state machine, not the screen, decides what comes next; closing the
// window anywhere and coming back resumes at the same step.
type Journey struct {
	c       *client.Client
	win     fyne.Window
	lang    apply.Lang
	log     *slog.Logger
	appID   string
	module  string // PKCS#11 module for the download ("" when none found)
	formDir string
	queue   *appsync.Loop
	onExit  func()
	// OnEdit opens the form of the application to change it (set by the
	// shell).
	OnEdit func(*api.Application)

	app    *api.Application
	bar    *fyne.Container
	body   *fyne.Container
	status *widget.Label
	root   fyne.CanvasObject
	stop   context.CancelFunc // ends the current step's polling

	mat   *MaterialsStep
	ident *IdentityStep
	pay   *PaymentStep
	dl    *DownloadStep
	calls chan struct{} // receives after each finished server call, for tests
	// PollEvery is how often a waiting step asks the server (default 5 s).
	PollEvery time.Duration
}

// JourneyDeps are what the journey needs besides the application.
type JourneyDeps struct {
	Client  *client.Client
	Window  fyne.Window
	Lang    apply.Lang
	Log     *slog.Logger
	Module  string
	FormDir string
	// Queue, when set, is the local upload queue: materials are queued
	// on disk before they are sent, so a crash or a dropped connection
	// never loses one; its loop sends what is left later.
	Queue *appsync.Loop
}

// NewJourney opens application appID at its current step.
func NewJourney(d JourneyDeps, appID string, onExit func()) *Journey {
	if d.Log == nil {
		d.Log = slog.Default()
	}
	j := &Journey{c: d.Client, win: d.Window, lang: d.Lang, log: d.Log, appID: appID, module: d.Module, formDir: d.FormDir, queue: d.Queue, onExit: onExit}
	j.bar = container.NewHBox()
	j.body = container.NewStack(widget.NewLabel(T("center.loading")))
	j.status = widget.NewLabel("")
	j.status.Wrapping = fyne.TextWrapWord
	back := widget.NewButton(T("journey.back"), j.Close)
	j.root = container.NewBorder(container.NewVBox(container.NewBorder(nil, nil, nil, back, container.NewHScroll(j.bar)), widget.NewSeparator()),
		j.status, nil, nil, j.body)
	j.Reload()
	return j
}

// Content is the screen's root object.
func (j *Journey) Content() fyne.CanvasObject { return j.root }

// Close ends polling and returns to the user center.
func (j *Journey) Close() {
	if j.stop != nil {
		j.stop()
	}
	if j.onExit != nil {
		j.onExit()
	}
}

func (j *Journey) called() {
	if j.calls != nil {
		select {
		case j.calls <- struct{}{}:
		default:
		}
	}
}

// Reload fetches the application and shows the step it is at.
func (j *Journey) Reload() { j.reloadSaying("") }

// reloadSaying is Reload with a note over the next step saying what just
// happened ("✓ 身份识别已通过"): the step that ended is replaced at once,
// and its own message with it.
func (j *Journey) reloadSaying(note string) {
	go func() {
		a, err := j.c.Application(context.Background(), j.appID)
		onUI(func() {
			if err != nil {
				j.status.SetText(explain(err, j.lang))
			} else {
				j.status.SetText(note)
				j.show(a)
			}
			j.called()
		})
	}()
}

// State is the application's state as last loaded.
func (j *Journey) State() apply.State {
	if j.app == nil {
		return ""
	}
	return j.app.State
}

// steps are the wizard's steps as the seed orders them.
var steps = []string{"step.agree", "step.form", "step.print", "step.materials", "step.identity", "step.payment", "step.review", "step.download"}

// stepOf is the index in steps of the step an application in state st is
// at; len(steps) when all are done, -1 when it left the journey.
func stepOf(st apply.State) int {
	switch st {
	case apply.StateDraft:
		return 1
	case apply.StateSubmitted:
		return 3
	case apply.StateMaterialsComplete:
		return 4
	case apply.StateIdentityVerified, apply.StatePaymentPending:
		return 5
	case apply.StatePaid, apply.StateUnderReview, apply.StateRejected:
		return 6
	case apply.StateApproved:
		return 7
	case apply.StateIssued:
		return len(steps)
	}
	return -1
}

// stepBar draws the steps: done ones ticked, the current one highlighted.
// The bar shows where the user is; it is not a way to skip steps, so they
// are chips, not buttons. Done chips are white on a dark green (6.3:1;
// Fyne's success green #43f436 under white was 1.5:1), the current one white on
// the primary blue, later ones in the ordinary text colour inside an
// outline (disabled buttons were all but invisible on the dark theme).
func stepBar(cur int) []fyne.CanvasObject {
	var out []fyne.CanvasObject
	for i, key := range steps {
		switch {
		case i < cur:
			out = append(out, chip("✓"+T(key), doneGreen, color.White, nil))
		case i == cur:
			out = append(out, chip(T(key), theme.Color(theme.ColorNamePrimary), color.White, nil))
		default:
			out = append(out, chip(T(key), color.Transparent, theme.Color(theme.ColorNameForeground), theme.Color(theme.ColorNameInputBorder)))
		}
		if i < len(steps)-1 {
			sep := canvas.NewText("›", theme.Color(theme.ColorNameForeground))
			out = append(out, container.NewCenter(sep))
		}
	}
	return out
}

var doneGreen = color.NRGBA{0x1b, 0x6e, 0x35, 0xff}

// chip is a rounded label: text in fg on bg, with an outline when given.
func chip(text string, bg, fg, outline color.Color) fyne.CanvasObject {
	r := canvas.NewRectangle(bg)
	r.CornerRadius = theme.InputRadiusSize()
	if outline != nil {
		r.StrokeColor, r.StrokeWidth = outline, 1
	}
	t := canvas.NewText(text, fg)
	t.TextSize = theme.TextSize()
	return container.NewStack(r, container.New(layout.NewCustomPaddedLayout(4, 4, 6, 6), t))
}

func (j *Journey) show(a *api.Application) {
	if j.stop != nil {
		j.stop()
	}
	ctx, stop := context.WithCancel(context.Background())
	j.stop = stop
	j.app = a
	j.bar.Objects = stepBar(stepOf(a.State))
	j.bar.Refresh()
	title := widget.NewLabelWithStyle(a.Kind.Label(j.lang)+" · "+subjectOf(a)+" · "+a.State.Label(j.lang), fyne.TextAlignLeading, fyne.TextStyle{Bold: true})
	next := widget.NewLabel(a.NextAction.In(j.lang))
	next.Wrapping = fyne.TextWrapWord
	var body fyne.CanvasObject
	switch a.State {
	case apply.StateDraft:
		edit := widget.NewButton(T("journey.continueform"), func() { j.edit() })
		edit.Importance = widget.HighImportance
		body = container.NewVBox(edit)
	case apply.StateSubmitted:
		j.mat = newMaterialsStep(j, ctx)
		body = j.mat.content
	case apply.StateMaterialsComplete:
		j.ident = newIdentityStep(j, ctx)
		body = j.ident.content
	case apply.StateIdentityVerified, apply.StatePaymentPending:
		j.pay = newPaymentStep(j, ctx)
		body = j.pay.content
	case apply.StatePaid, apply.StateUnderReview:
		body = j.reviewStep(ctx)
	case apply.StateRejected:
		body = j.rejectedStep(ctx)
	case apply.StateApproved:
		j.dl = newDownloadStep(j, ctx)
		body = j.dl.content
	case apply.StateIssued:
		done := widget.NewLabel(T("journey.issued"))
		done.Wrapping = fyne.TextWrapWord
		body = done
	default:
		body = widget.NewLabel(T("journey.closed"))
	}
	j.body.Objects = []fyne.CanvasObject{container.NewBorder(container.NewVBox(title, next), nil, nil, nil, body)}
	j.body.Refresh()
}

func (j *Journey) edit() {
	if j.OnEdit != nil && j.app != nil {
		if j.stop != nil {
			j.stop()
		}
		j.OnEdit(j.app)
	}
}

func subjectOf(a *api.Application) string {
	for _, k := range []string{apply.FOrgName, apply.FApplicantName} {
		if v := a.Form[k]; v != "" {
			return v
		}
	}
	return T("center.untitled")
}

// reviewStep waits for the CA's review, checking every few seconds.
func (j *Journey) reviewStep(ctx context.Context) fyne.CanvasObject {
	msg := widget.NewLabel(T("journey.reviewing"))
	msg.Wrapping = fyne.TextWrapWord
	j.poll(ctx, func(a *api.Application) bool { return a.State != apply.StatePaid && a.State != apply.StateUnderReview })
	return container.NewVBox(msg, widget.NewButton(T("center.refresh"), j.Reload))
}

// rejectedStep shows the reviewer's reason and the two ways to answer it:
// change the form, or replace materials.
func (j *Journey) rejectedStep(ctx context.Context) fyne.CanvasObject {
	reason := widget.NewLabel(T("center.reason") + ": " + j.app.RejectReason)
	reason.Wrapping = fyne.TextWrapWord
	reason.Importance = widget.DangerImportance
	edit := widget.NewButton(T("journey.fixform"), j.edit)
	edit.Importance = widget.HighImportance
	resubmit := widget.NewButton(T("journey.resubmit"), func() {
		go func() {
			a, err := j.c.Event(ctx, j.appID, api.EventRequest{Event: apply.EvResubmit})
			onUI(func() {
				if err != nil {
					j.status.SetText(explain(err, j.lang))
				} else {
					j.show(a)
				}
				j.called()
			})
		}()
	})
	j.mat = newMaterialsStep(j, ctx)
	return container.NewBorder(container.NewVBox(reason, container.NewHBox(edit, resubmit)), nil, nil, nil, j.mat.content)
}

// poll reloads the application every pollEvery until done says the
// journey should move on, then shows the new step.
func (j *Journey) poll(ctx context.Context, done func(*api.Application) bool) {
	go func() {
		t := time.NewTicker(j.pollEvery())
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
			a, err := j.c.Application(ctx, j.appID)
			if err != nil || ctx.Err() != nil {
				continue
			}
			if done(a) {
				onUI(func() {
					j.show(a)
					j.called()
				})
				return
			}
		}
	}()
}

func (j *Journey) pollEvery() time.Duration {
	if j.PollEvery > 0 {
		return j.PollEvery
	}
	return 5 * time.Second
}

// printForm writes the acceptance form again and opens it to print.
func (j *Journey) printForm() {
	go func() {
		path, _, err := writeAcceptanceForm(context.Background(), j.c, j.appID, j.formDir)
		onUI(func() {
			if err != nil {
				j.status.SetText(explain(err, j.lang))
				return
			}
			j.status.SetText(T("apply.printed", map[string]any{"Path": path}) + " " + T("print.handed"))
			if err := printFile(path); err != nil {
				j.status.SetText(err.Error())
			}
		})
	}()
}
