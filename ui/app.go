// Package ui is CertDesk's Fyne front end: screens only. Every rule, check
// and network call lives in app/* and token; this package lays them out,
// keeps the window responsive and speaks Chinese first.
package ui

import (
	"context"
	"fmt"
	"log/slog"
	"strings"

	"fyne.io/fyne/v2"
	fyneapp "fyne.io/fyne/v2/app"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/lang"
	"fyne.io/fyne/v2/widget"

	"certdesk/app/apply"
	"certdesk/assets"
	_ "certdesk/ui/localeenv" // must initialise before fyne.io: see its doc
)

// AppID identifies CertDesk to the OS (preferences, keyring, data dir).
const AppID = "cn.certdesk.client"

// Options configure the GUI.
type Options struct {
	Log *slog.Logger
	// Lang forces the language of domain texts; "" follows the system
	// (Chinese unless the system is English).
	Lang apply.Lang
	// ServerURL is the enrollment server in use; Embedded when it runs
	// in-process on DataDir.
	ServerURL string
	Embedded  bool
	DataDir   string
}

// LoadTranslations registers CertDesk's zh-CN and English UI strings with
// Fyne's lang package. Keys fall back to their Chinese text.
func LoadTranslations() error {
	if err := lang.AddTranslationsFS(assets.Translations, "translations"); err != nil {
		return fmt.Errorf("load translations: %w", err)
	}
	return nil
}

// SystemLang is the language of domain texts for this system's locale:
// English only when the system asks for it, Chinese otherwise.
func SystemLang() apply.Lang {
	if strings.HasPrefix(strings.ToLower(lang.SystemLocale().LanguageString()), "en") {
		return apply.EN
	}
	return apply.ZH
}

// T looks a UI string up by key, with data for its template.
func T(key string, data ...any) string { return lang.X(key, key, data...) }

// Run opens the main window and blocks until it is closed.
func Run(ctx context.Context, opts Options) error {
	if opts.Log == nil {
		opts.Log = slog.Default()
	}
	if err := LoadTranslations(); err != nil {
		opts.Log.Warn("translations", "err", err)
	}
	if opts.Lang == "" {
		opts.Lang = SystemLang()
	}
	a := fyneapp.NewWithID(AppID)
	a.Settings().SetTheme(NewTheme())
	w := a.NewWindow(T("app.title"))
	c := NewChecker(w, opts.Lang, opts.Log)
	w.SetContent(container.NewBorder(nil, statusBar(opts), nil, nil, c.Content()))
	w.SetOnDropped(func(_ fyne.Position, uris []fyne.URI) { c.AddURIs(uris) })
	w.Resize(fyne.NewSize(900, 640))
	go func() {
		<-ctx.Done()
		fyne.Do(a.Quit)
	}()
	w.ShowAndRun()
	return nil
}

// statusBar says which server CertDesk talks to.
func statusBar(opts Options) fyne.CanvasObject {
	if opts.ServerURL == "" {
		return widget.NewLabel("")
	}
	text := T("status.server", map[string]any{"URL": opts.ServerURL})
	if opts.Embedded {
		text = T("status.embedded", map[string]any{"URL": opts.ServerURL, "Dir": opts.DataDir})
	}
	l := widget.NewLabel(text)
	l.Importance = widget.LowImportance
	l.Truncation = fyne.TextTruncateEllipsis
	return l
}
