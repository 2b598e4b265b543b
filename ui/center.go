package ui

import (
	"context"
	"fmt"
	"strings"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/dialog"
	"fyne.io/fyne/v2/widget"

	"certdesk/app/api"
	"certdesk/app/apply"
	"certdesk/app/client"
)

// Center is the user center (用户中心): the applicant's applications
// with their state and the next thing to do, and each one's history.
type Center struct {
	c        *client.Client
	lang     apply.Lang
	onLogout func()
	// OnApply starts the apply wizard for a kind (set by the shell).
	OnApply func(apply.Kind)
	// OnOpen continues an application at its current step; OnEdit opens
	// its form to change it (both set by the shell).
	OnOpen func(appID string)
	OnEdit func(*api.Application)
	// Print writes an application's acceptance form and opens it.
	Print func(appID string)

	apps    []api.Summary
	list    *widget.List
	detail  *widget.Label
	actions *fyne.Container // what can be done with the selected application
	win     fyne.Window
	status  *widget.Label
	content fyne.CanvasObject
	loaded  chan struct{} // receives after each refresh, for tests
	shown   string        // the application in the detail panel
}

// NewCenter builds the user center; extra are further tabs (the material
// checker).
func NewCenter(c *client.Client, l apply.Lang, onLogout func(), extra ...*container.TabItem) *Center {
	s := &Center{c: c, lang: l, onLogout: onLogout}
	s.status = widget.NewLabel("")
	s.detail = widget.NewLabel(T("center.pick"))
	s.detail.Wrapping = fyne.TextWrapWord
	s.actions = container.NewHBox()
	s.list = widget.NewList(
		func() int { return len(s.apps) },
		// Two lines, as every row has: the list sizes its rows from this.
		func() fyne.CanvasObject { return widget.NewLabel("\n") },
		func(i widget.ListItemID, o fyne.CanvasObject) {
			a := s.apps[i]
			subject := a.Subject
			if subject == "" {
				subject = T("center.untitled")
			}
			user := ""
			if a.Username != "" {
				user = " · " + a.Username
			}
			o.(*widget.Label).SetText(fmt.Sprintf("%s · %s · %s\n  %s%s → %s", a.Kind.Label(l), subject, a.State.Label(l),
				a.UpdatedAt.Local().Format("2006-01-02"), user, a.NextAction.In(l)))
		})
	s.list.OnSelected = func(i widget.ListItemID) { s.show(s.apps[i].ID) }
	refresh := widget.NewButton(T("center.refresh"), s.Refresh)
	logout := widget.NewButton(T("center.logout"), func() {
		go func() {
			// Out either way: the session is forgotten here; a server
			// that did not hear the logout lets the token expire.
			_ = s.c.Logout(context.Background())
			onUI(s.onLogout)
		}()
	})
	applyOrg := widget.NewButton(T("center.apply.org"), func() { s.OnApply(apply.KindOrg) })
	applyPersonal := widget.NewButton(T("center.apply.personal"), func() { s.OnApply(apply.KindPersonal) })
	applyOrg.Importance = widget.HighImportance
	mine := container.NewBorder(container.NewHBox(widget.NewLabelWithStyle(T("center.title"), fyne.TextAlignLeading, fyne.TextStyle{Bold: true}), applyOrg, applyPersonal, refresh, logout),
		s.status, nil, nil, container.NewHSplit(s.list, container.NewBorder(s.actions, nil, nil, nil, container.NewVScroll(s.detail))))
	tabs := container.NewAppTabs(append([]*container.TabItem{container.NewTabItem(T("center.tab"), mine)}, extra...)...)
	s.content = tabs
	return s
}

// Content is the screen's root object.
func (s *Center) Content() fyne.CanvasObject { return s.content }

// Refresh reloads the list from the server.
func (s *Center) Refresh() {
	s.status.SetText(T("center.loading"))
	go func() {
		apps, err := s.c.Applications(context.Background())
		onUI(func() {
			if err != nil {
				s.status.SetText(explain(err, s.lang))
			} else {
				s.apps = apps
				s.status.SetText(T("center.count", map[string]any{"N": len(apps)}))
				s.list.Refresh()
				// The detail panel follows: the application again as it
				// now is, or the hint when it is gone from the list.
				if s.shown != "" && s.selected(s.shown) != nil {
					s.show(s.shown)
				} else if s.shown != "" {
					s.shown = ""
					s.detail.SetText(T("center.pick"))
					s.actions.RemoveAll()
				}
			}
			if s.loaded != nil {
				s.loaded <- struct{}{}
			}
		})
	}()
}

func (s *Center) show(id string) {
	s.shown = id
	go func() {
		a, err := s.c.Application(context.Background(), id)
		onUI(func() {
			if err != nil {
				s.detail.SetText(explain(err, s.lang))
				return
			}
			var b strings.Builder
			fmt.Fprintf(&b, "%s · %s\n%s\n\n", a.Kind.Label(s.lang), a.State.Label(s.lang), a.NextAction.In(s.lang))
			if a.RejectReason != "" {
				fmt.Fprintf(&b, "%s: %s\n\n", T("center.reason"), a.RejectReason)
			}
			fmt.Fprintf(&b, "%s: %s\n\n", T("center.fee"), money(a.Fee.TotalFen, s.lang))
			b.WriteString(T("center.history") + ":\n")
			for _, h := range a.History {
				fmt.Fprintf(&b, "  %s  %s → %s\n", h.At.Local().Format("2006-01-02 15:04"), h.Describe(s.lang), h.To.Label(s.lang))
			}
			s.detail.SetText(b.String())
			s.setActions(a)
		})
	}()
}

// setActions offers what the seed's user center offers for an
// application in its state: continue, 修改, 类似申请, 取消, 打印申请表.
func (s *Center) setActions(a *api.Application) {
	s.actions.RemoveAll()
	id := a.ID
	if stepOf(a.State) >= 0 && a.State != apply.StateIssued && s.OnOpen != nil {
		next := widget.NewButton(T("center.continue"), func() { s.OnOpen(id) })
		next.Importance = widget.HighImportance
		s.actions.Add(next)
	}
	if apply.CanModify(a.State) && s.OnEdit != nil {
		s.actions.Add(widget.NewButton(T("center.modify"), func() { s.OnEdit(a) }))
	}
	s.actions.Add(widget.NewButton(T("center.similar"), func() { s.similar(id) }))
	if apply.CanCancel(a.State) {
		s.actions.Add(widget.NewButton(T("center.cancel"), func() { s.confirmCancel(id) }))
	}
	if a.State != apply.StateDraft && s.Print != nil {
		s.actions.Add(widget.NewButton(T("center.print"), func() { s.Print(id) }))
	}
	s.actions.Refresh()
}

// similar copies the organisation and handler into a new draft (类似申请)
// and opens it.
func (s *Center) similar(id string) {
	go func() {
		a, err := s.c.Similar(context.Background(), id, client.NewIdempotencyKey())
		onUI(func() {
			if err != nil {
				s.status.SetText(explain(err, s.lang))
				return
			}
			if s.OnEdit != nil {
				s.OnEdit(a)
			}
		})
	}()
}

func (s *Center) confirmCancel(id string) {
	do := func() {
		go func() {
			_, err := s.c.Cancel(context.Background(), id)
			onUI(func() {
				if err != nil {
					s.status.SetText(explain(err, s.lang))
				}
				s.Refresh()
				s.show(id)
			})
		}()
	}
	if s.win == nil {
		do()
		return
	}
	// Only an application whose online payment may be under way can have
	// money to give back: a refund is not mentioned otherwise.
	sure := T("center.cancelsure")
	if a := s.selected(id); a != nil && a.State == apply.StatePaymentPending {
		sure = T("center.cancelsure.paying")
	}
	d := dialog.NewConfirm(T("center.cancel"), sure, func(ok bool) {
		if ok {
			do()
		}
	}, s.win)
	d.SetConfirmText(T("dialog.yes.cancel")) // Fyne's own buttons say Yes and No
	d.SetDismissText(T("dialog.no.keep"))
	d.Show()
}

// selected is the listed application id, nil when it is not in the list.
func (s *Center) selected(id string) *api.Summary {
	for i := range s.apps {
		if s.apps[i].ID == id {
			return &s.apps[i]
		}
	}
	return nil
}
