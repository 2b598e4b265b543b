package ui

import (
	"testing"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/test"
	"fyne.io/fyne/v2/widget"
)

// Canvas units to physical client pixels at Windows' display scalings.
// The window's place on the screen does not enter (imm32 takes client
// coordinates), so a moved window gives the same placement.
func TestIMEPlaceArithmetic(t *testing.T) {
	entry, caret := fyne.NewPos(12, 140), fyne.NewPos(37.5, 8)
	for _, tc := range []struct {
		name  string
		scale float32
		want  imePlacement
	}{
		{"100%", 1, imePlacement{X: 50, Y: 148, Height: 19}},
		{"125%", 1.25, imePlacement{X: 62, Y: 185, Height: 24}},
		{"150%", 1.5, imePlacement{X: 74, Y: 222, Height: 29}},
		{"200%", 2, imePlacement{X: 99, Y: 296, Height: 38}},
		{"200%, window moved elsewhere on the screen", 2, imePlacement{X: 99, Y: 296, Height: 38}},
		{"tiny line never zero high", 0.01, imePlacement{X: 0, Y: 1, Height: 1}},
	} {
		if got := imePlace(entry, caret, 19, tc.scale); got != tc.want {
			t.Errorf("%s: %+v, want %+v", tc.name, got, tc.want)
		}
	}
}

// The follower places the IME when an entry takes focus and when its caret
// moves, and not again while nothing moved.
func TestIMEFollowsFocusAndCaret(t *testing.T) {
	test.NewTempApp(t)
	first, second := widget.NewEntry(), newLeaveEntry(false, nil)
	w := test.NewTempWindow(t, container.NewVBox(first, widget.NewLabel("·"), second))
	w.Resize(fyne.NewSize(400, 300))
	var seen []imePlacement
	f := &imeFollower{w: w, onPlace: func(p imePlacement, _ bool) { seen = append(seen, p) }}
	f.check()
	if len(seen) != 0 {
		t.Fatal("placed with nothing focused")
	}
	w.Canvas().Focus(first)
	f.check()
	f.check()
	if len(seen) != 1 {
		t.Fatalf("%d placements after focusing one entry, want 1", len(seen))
	}
	test.Type(first, "证书助手")
	f.check()
	if len(seen) != 2 || seen[1].X <= seen[0].X || seen[1].Y != seen[0].Y {
		t.Fatalf("after typing: %+v", seen)
	}
	w.Canvas().Focus(second)
	f.check()
	if len(seen) != 3 || seen[2].Y <= seen[1].Y {
		t.Fatalf("after moving to the second entry: %+v", seen)
	}
	w.Canvas().Focus(first)
	first.CursorColumn = 1 // the caret moved with the arrow keys
	first.Refresh()
	f.check()
	if len(seen) != 4 || seen[3].X >= seen[1].X {
		t.Fatalf("after moving the caret back: %+v", seen)
	}
	if f.placed != 4 {
		t.Fatalf("placed %d", f.placed)
	}
}
