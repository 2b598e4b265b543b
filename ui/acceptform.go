package ui

import (
	"context"
	"errors"
	"net/url"
	"os"
	"path/filepath"
	"time"

	"fyne.io/fyne/v2"

	"certdesk/app/acceptform"
	"certdesk/app/api"
	"certdesk/app/atomicfile"
)

// formSource is what the acceptance form is made from: the application
// as the server has it and the agreement's text.
type formSource interface {
	Application(ctx context.Context, id string) (*api.Application, error)
	Agreement(ctx context.Context) (*api.Agreement, error)
}

// writeAcceptanceForm renders application appID's acceptance form and
// writes it under dir, returning its path and content.
func writeAcceptanceForm(ctx context.Context, c formSource, appID, dir string) (string, []byte, error) {
	a, err := c.Application(ctx, appID)
	if err != nil {
		return "", nil, err
	}
	ag, err := c.Agreement(ctx)
	if err != nil {
		return "", nil, err
	}
	pdf, err := acceptform.Render(acceptform.Input{AppID: a.ID, Kind: a.Kind, Form: a.Form, Fee: a.Fee,
		Agreement: ag.Text, Version: ag.Version, Date: time.Now()})
	var ue *acceptform.UnprintableError
	if errors.As(err, &ue) {
		return "", nil, errors.New(T("form.unprintable", map[string]any{"Chars": quoteChars(ue.Chars)}))
	}
	if err != nil {
		return "", nil, err
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", nil, err
	}
	path := filepath.Join(dir, "受理表-"+a.ID[:8]+".pdf")
	return path, pdf, atomicfile.WriteFile(path, pdf, 0o644)
}

// openFile hands a file to the system's viewer. When none takes it the
// error says so in the user's words and where the file is, not the
// launcher's own message (`exec: "xdg-open": executable file not found`).
func openFile(path string) error {
	app := fyne.CurrentApp()
	if app == nil {
		return nil
	}
	if err := app.OpenURL(&url.URL{Scheme: "file", Path: filepath.ToSlash(path)}); err != nil {
		return errors.New(T("open.noviewer", map[string]any{"Path": path}))
	}
	return nil
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
