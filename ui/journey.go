package ui

import (
	"context"
	"image/color"
	"log/slog"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/canvas"
	"fyne.io/fyne/v2/container"
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
	ukey    UKEY
	formDir string
	send    materialSender
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
	Client *client.Client
	Window fyne.Window
	Lang   apply.Lang
	Log    *slog.Logger
	// UKEY is where the certificate goes (PKCS11UKEY over the module
	// found, with Module "" when none was).
	UKEY    UKEY
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
	j := &Journey{c: d.Client, win: d.Window, lang: d.Lang, log: d.Log, appID: appID, ukey: d.UKEY, formDir: d.FormDir, onExit: onExit}
	if j.ukey == nil {
		j.ukey = PKCS11UKEY{}
	}
	j.send = directSender{d.Client}
	if d.Queue != nil {
		j.send = d.Queue
	}
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

func (j *Journey) show(a *api.Application) {
	if j.stop != nil {
		j.stop()
	}
	ctx, stop := context.WithCancel(context.Background())
	j.stop = stop
	j.app = a
	j.mat, j.ident, j.pay, j.dl = nil, nil, nil, nil
	j.bar.Objects = stepBar(stepOf(a.State))
	j.bar.Refresh()
	title := widget.NewLabelWithStyle(a.Kind.Label(j.lang)+" · "+subjectOf(a)+" · "+a.State.Label(j.lang), fyne.TextAlignLeading, fyne.TextStyle{Bold: true})
	next := widget.NewLabel(a.NextAction.In(j.lang))
	next.Wrapping = fyne.TextWrapWord
	env := j.env(ctx, a)
	var body fyne.CanvasObject
	switch a.State {
	case apply.StateDraft:
		edit := widget.NewButton(T("journey.continueform"), func() { j.edit() })
		edit.Importance = widget.HighImportance
		body = container.NewVBox(edit)
	case apply.StateSubmitted:
		j.mat = newMaterialsStep(env, j.c, j.send)
		body = j.mat.content
	case apply.StateMaterialsComplete:
		j.ident = newIdentityStep(env, j.c)
		body = j.ident.content
	case apply.StateIdentityVerified, apply.StatePaymentPending:
		j.pay = newPaymentStep(env, j.c, j.send)
		body = j.pay.content
	case apply.StatePaid, apply.StateUnderReview:
		body = reviewStep(env, j.c)
	case apply.StateRejected:
		var rs fyne.CanvasObject
		rs, j.mat = rejectedStep(env, j.c, j.c, j.send, j.edit)
		body = rs
	case apply.StateApproved:
		j.dl = newDownloadStep(env, j.c, j.ukey)
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

// env is what the step for a gets from the journey: callbacks, not the
// journey's fields.
func (j *Journey) env(ctx context.Context, a *api.Application) stepEnv {
	return stepEnv{ctx: ctx, app: a, lang: j.lang, log: j.log, win: j.win, clock: systemClock{}, every: j.pollEvery(),
		called: j.called,
		say:    func(msg string) { j.status.SetText(msg) },
		moveOn: j.reloadSaying,
		show: func(a *api.Application) {
			j.show(a)
		},
		print: j.printForm,
	}
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
func reviewStep(env stepEnv, srv appReader) fyne.CanvasObject {
	msg := widget.NewLabel(T("journey.reviewing"))
	msg.Wrapping = fyne.TextWrapWord
	go poll(env.ctx, env.clock, env.every, func(ctx context.Context) bool {
		a, err := srv.Application(ctx, env.appID())
		if err != nil || ctx.Err() != nil || a.State == apply.StatePaid || a.State == apply.StateUnderReview {
			return ctx.Err() != nil
		}
		onUI(func() {
			env.show(a)
			env.called()
		})
		return true
	})
	return container.NewVBox(msg, widget.NewButton(T("center.refresh"), func() { env.moveOn("") }))
}

// rejectedStep shows the reviewer's reason and the two ways to answer it:
// change the form (edit), or replace materials and resubmit.
func rejectedStep(env stepEnv, ev eventSender, ms materialsServer, send materialSender, edit func()) (fyne.CanvasObject, *MaterialsStep) {
	reason := widget.NewLabel(T("center.reason") + ": " + env.app.RejectReason)
	reason.Wrapping = fyne.TextWrapWord
	reason.Importance = widget.DangerImportance
	fix := widget.NewButton(T("journey.fixform"), edit)
	fix.Importance = widget.HighImportance
	resubmit := widget.NewButton(T("journey.resubmit"), func() {
		background(env, func(ctx context.Context) (*api.Application, error) {
			return ev.Event(ctx, env.appID(), api.EventRequest{Event: apply.EvResubmit})
		}, env.say, env.show)
	})
	mat := newMaterialsStep(env, ms, send)
	return container.NewBorder(container.NewVBox(reason, container.NewHBox(fix, resubmit)), nil, nil, nil, mat.content), mat
}

func (j *Journey) pollEvery() time.Duration {
	if j.PollEvery > 0 {
		return j.PollEvery
	}
	return 5 * time.Second
}
