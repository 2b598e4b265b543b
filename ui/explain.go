package ui

import (
	"errors"
	"fmt"
	"strings"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/widget"

	"certdesk/app/api"
	"certdesk/app/apply"
	"certdesk/app/client"
)

// explain words an error for the person in front of the screen.
func explain(err error, l apply.Lang) string {
	var ae *api.Error
	if errors.As(err, &ae) {
		parts := []string{ae.Message(l)}
		for _, f := range ae.Fields {
			parts = append(parts, apply.Text{ZH: f.MessageZH, EN: f.MessageEN}.In(l))
		}
		return strings.Join(parts, "\n")
	}
	if errors.Is(err, client.ErrNetwork) {
		return T("error.network")
	}
	return fmt.Sprint(err)
}

func asAPIError(err error) *api.Error {
	var ae *api.Error
	if errors.As(err, &ae) {
		return ae
	}
	return nil
}

// errLabel is an empty message line for an input's error.
func errLabel() *errText {
	l := &errText{}
	l.ExtendBaseWidget(l)
	l.Importance = widget.DangerImportance
	l.Wrapping = fyne.TextWrapWord
	return l
}

// errText is the red message under an input. Empty, it takes no room: a
// form of twenty fields had twenty blank lines between them, and the
// wheel took three notches to pass one field.
type errText struct {
	widget.Label
}

func (e *errText) MinSize() fyne.Size {
	if e.Text == "" {
		return fyne.Size{}
	}
	return e.Label.MinSize()
}
