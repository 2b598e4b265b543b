//go:build !windows

package ui

import "fyne.io/fyne/v2"

// imePlacer: only Windows' imm32 takes a caret position; X11 and macOS
// input methods place themselves (or through a preedit API GLFW lacks).
func imePlacer(fyne.Window) func(imePlacement) bool { return nil }
