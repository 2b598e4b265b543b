//go:build !windows

package ui

import (
	"errors"
	"os/exec"
	"strings"
)

// nativeOpen shows zenity's open dialog (GTK, the desktop's own) when
// zenity is installed.
func nativeOpen(title string) (string, error) {
	return zenity("--file-selection", "--title="+title,
		"--file-filter="+T("file.filter.scans")+" | *.jpg *.jpeg *.JPG *.JPEG *.png *.PNG *.pdf *.PDF",
		"--file-filter="+T("file.filter.all")+" | *")
}

// nativeSave shows zenity's save dialog with name filled in.
func nativeSave(title, name string) (string, error) {
	return zenity("--file-selection", "--save", "--confirm-overwrite", "--title="+title, "--filename="+name)
}

func zenity(args ...string) (string, error) {
	bin, err := exec.LookPath("zenity")
	if err != nil {
		return "", errNoNative
	}
	out, err := exec.Command(bin, args...).Output()
	var ee *exec.ExitError
	if errors.As(err, &ee) && ee.ExitCode() == 1 {
		return "", errCancelled
	}
	if err != nil {
		return "", errNoNative
	}
	return strings.TrimRight(string(out), "\r\n"), nil
}
