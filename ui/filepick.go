package ui

import (
	"errors"
	"io"
	"os"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/dialog"
	"fyne.io/fyne/v2/storage"
)

// errNoNative: this PC has no system file dialog CertDesk can call (Linux
// without zenity); Fyne's own dialog is shown instead.
var errNoNative = errors.New("no native file dialog")

// errCancelled: the user closed the system dialog without choosing.
var errCancelled = errors.New("file dialog cancelled")

// ErrPickCancelled is PickFile's answer when the user cancels.
var ErrPickCancelled = errCancelled

// PickFile shows the system's open dialog and waits for the chosen path
// (the start-up probe's check of the dialog itself; the screens use
// chooseFile).
func PickFile(title string) (string, error) { return nativeOpen(title) }

// chooseFile asks for a file to open with the system's own dialog (Windows'
// open dialog: path box, recent places, thumbnails; zenity on Linux), or
// Fyne's where there is none, and calls done on the UI thread with the
// chosen file's path. Nothing is called when the user cancels.
func chooseFile(win fyne.Window, title string, done func(path string)) {
	go func() {
		path, err := nativeOpen(title)
		switch {
		case err == nil:
			onUI(func() { done(path) })
		case !errors.Is(err, errCancelled): // none here, or it failed
			onUI(func() { fyneOpen(win, done) })
		}
	}()
}

func fyneOpen(win fyne.Window, done func(path string)) {
	d := dialog.NewFileOpen(func(rc fyne.URIReadCloser, err error) {
		if err != nil || rc == nil {
			return
		}
		rc.Close()
		done(rc.URI().Path())
	}, win)
	d.Show()
}

// chooseSave asks where to save a file named name, as chooseFile does.
func chooseSave(win fyne.Window, title, name string, done func(path string)) {
	go func() {
		path, err := nativeSave(title, name)
		switch {
		case err == nil:
			onUI(func() { done(path) })
		case !errors.Is(err, errCancelled):
			onUI(func() {
				d := dialog.NewFileSave(func(wc fyne.URIWriteCloser, err error) {
					if err != nil || wc == nil {
						return
					}
					if err := wc.Close(); err != nil {
						dialog.ShowError(err, win)
						return
					}
					done(wc.URI().Path())
				}, win)
				d.SetFileName(name)
				d.Show()
			})
		}
	}()
}

// readChosen reads a chosen file, at most limit bytes.
func readChosen(path string, limit int64) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return io.ReadAll(io.LimitReader(f, limit))
}

// fileURI is the chosen path as the URI the drop and check paths take.
func fileURI(path string) fyne.URI { return storage.NewFileURI(path) }
