package ui

import (
	"errors"

	"github.com/sqweek/dialog"
)

// nativeOpen shows Windows' open dialog (GetOpenFileNameW, through
// sqweek/dialog). Scans first in the type list, all files second: a PNG
// renamed .jpg or a photo saved as .jpeg.JPG must still reach the check,
// which says what the file really is.
func nativeOpen(title string) (string, error) {
	p, err := dialog.File().Title(title).Filter(T("file.filter.scans"), "jpg", "jpeg", "png", "pdf").Filter(T("file.filter.all"), "*").Load()
	if errors.Is(err, dialog.ErrCancelled) {
		return "", errCancelled
	}
	return p, err
}

// nativeSave shows Windows' save dialog with name filled in.
func nativeSave(title, name string) (string, error) {
	p, err := dialog.File().Title(title).SetStartFile(name).Filter(T("file.filter.all"), "*").Save()
	if errors.Is(err, dialog.ErrCancelled) {
		return "", errCancelled
	}
	return p, err
}
