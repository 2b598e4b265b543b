//go:build !windows

package ui

// printFile opens the PDF in the desktop's viewer, whose print button
// prints it (desktops have no shell print verb that shows a dialog).
func printFile(path string) error { return openFile(path) }
