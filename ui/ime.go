package ui

import (
	"math"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"
)

// Chinese input methods (Microsoft Pinyin, Sogou) draw their composition
// and candidate windows where the application says its caret is. GLFW
// never says (no preedit API yet: glfw/glfw#2130), so they appear at the
// screen's top-left corner (fyne-io/fyne#618, #4546). imeFollower tells
// them: it watches the focused entry and its caret and, when either moves,
// places both windows there through imm32 (ime_windows.go; nothing
// elsewhere). Committed text reaches Fyne as before; there is no inline
// preedit, the composition shows in the IME's own small window at the caret.

// imePlacement is where the IME's windows go, in the window's client area
// and in physical pixels (what imm32 takes).
type imePlacement struct {
	X, Y   int32 // the caret's top-left: the composition window's point
	Height int32 // the caret's height: the candidate list goes below it
}

// imePlace turns the focused entry's position on the canvas, the caret's
// offset inside it and the text's line height (Fyne's device-independent
// units) into physical client pixels at the canvas's scale (Windows'
// display scaling times any FYNE_SCALE). The window's own position on the
// screen does not enter: imm32 takes client coordinates.
func imePlace(entry, caret fyne.Position, lineHeight, scale float32) imePlacement {
	px := func(v float32) int32 { return int32(math.Round(float64(v * scale))) }
	return imePlacement{X: px(entry.X + caret.X), Y: px(entry.Y + caret.Y), Height: max(px(lineHeight), 1)}
}

// imeFollower keeps the IME at the caret of the window's focused entry.
type imeFollower struct {
	w     fyne.Window
	place func(imePlacement) bool // the platform's call (imm32 on Windows): true when it took
	last  imePlacement
	have  bool
	// placed counts placements, and onPlace sees each one with whether
	// the platform took it (tests, the start-up probe).
	placed  int
	onPlace func(p imePlacement, took bool)
}

// imeInterval is how often the caret is looked at: Fyne has no
// focus-changed or caret-moved callback on a canvas, and a check is a few
// field reads.
const imeInterval = 50 * time.Millisecond

// follow starts watching (returns at once; stops with the app).
func (f *imeFollower) follow(stop <-chan struct{}) {
	go func() {
		t := time.NewTicker(imeInterval)
		defer t.Stop()
		for {
			select {
			case <-stop:
				return
			case <-t.C:
				fyne.Do(f.check)
			}
		}
	}()
}

// check places the IME when the focused entry or its caret moved; it runs
// on the UI goroutine.
func (f *imeFollower) check() {
	o := f.w.Canvas().Focused()
	e := focusedEntry(o)
	if e == nil {
		return
	}
	// The position of the object on the canvas (a leaveEntry, not the
	// Entry inside it), the caret from the Entry.
	pos := fyne.CurrentApp().Driver().AbsolutePositionForObject(o.(fyne.CanvasObject))
	size := e.Theme().Size(theme.SizeNameText)
	line := fyne.MeasureText("国", size, e.TextStyle).Height
	p := imePlace(pos, e.CursorPosition(), line, f.w.Canvas().Scale())
	if f.have && p == f.last {
		return
	}
	f.last, f.have = p, true
	f.placed++
	took := false
	if f.place != nil {
		took = f.place(p)
	}
	if f.onPlace != nil {
		f.onPlace(p, took)
	}
}

// focusedEntry is the text entry behind a focused object, nil for other
// widgets.
func focusedEntry(o fyne.Focusable) *widget.Entry {
	switch e := o.(type) {
	case *widget.Entry:
		return e
	case *leaveEntry:
		return &e.Entry
	}
	return nil
}
