//go:build windows

package ui

import (
	"syscall"
	"unsafe"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/driver"
)

var (
	imm32                       = syscall.NewLazyDLL("imm32.dll")
	procImmGetContext           = imm32.NewProc("ImmGetContext")
	procImmReleaseContext       = imm32.NewProc("ImmReleaseContext")
	procImmSetCompositionWindow = imm32.NewProc("ImmSetCompositionWindow")
	procImmSetCandidateWindow   = imm32.NewProc("ImmSetCandidateWindow")
)

// From imm.h.
const (
	cfsPoint   = 0x0002
	cfsExclude = 0x0080
)

type point struct{ X, Y int32 }
type rect struct{ Left, Top, Right, Bottom int32 }

type compositionForm struct {
	Style uint32
	Pos   point
	Area  rect
}

type candidateForm struct {
	Index uint32
	Style uint32
	Pos   point
	Area  rect
}

// imePlacer returns the call that moves the window's IME windows: the
// composition window to the caret (CFS_POINT) and the candidate list just
// below it, never over the caret's line (CFS_EXCLUDE). Both are set:
// Windows 10's IMEs follow the composition window, Windows 11's new
// Microsoft Pinyin the candidate form.
func imePlacer(w fyne.Window) func(imePlacement) bool {
	nw, ok := w.(driver.NativeWindow)
	if !ok || imm32.Load() != nil {
		return nil
	}
	return func(p imePlacement) bool {
		took := false
		nw.RunNative(func(ctx any) {
			wc, ok := ctx.(driver.WindowsWindowContext)
			if !ok || wc.HWND == 0 {
				return
			}
			himc, _, _ := procImmGetContext.Call(wc.HWND)
			if himc == 0 {
				return // no input context: no IME for this window
			}
			defer func() { _, _, _ = procImmReleaseContext.Call(wc.HWND, himc) }() // nothing to do if it fails
			cf := compositionForm{Style: cfsPoint, Pos: point{p.X, p.Y}}
			r1, _, _ := procImmSetCompositionWindow.Call(himc, uintptr(unsafe.Pointer(&cf)))
			cand := candidateForm{Index: 0, Style: cfsExclude, Pos: point{p.X, p.Y + p.Height},
				Area: rect{Left: p.X, Top: p.Y, Right: p.X + 1, Bottom: p.Y + p.Height}}
			r2, _, _ := procImmSetCandidateWindow.Call(himc, uintptr(unsafe.Pointer(&cand)))
			took = r1 != 0 && r2 != 0
		})
		return took
	}
}
