package ui

import (
	"sync"

	"fyne.io/fyne/v2"
)

// uiMu serialises widget updates made from background work. In the app
// fyne.Do already runs everything on the one UI goroutine and the lock is
// never contended; Fyne's test driver instead runs fyne.Do on the calling
// goroutine, where two server replies finishing together would update the
// same label at once (a test caught a Label torn between two SetTexts).
var uiMu sync.Mutex

// onUI runs fn on the UI goroutine, one at a time.
func onUI(fn func()) {
	fyne.Do(func() {
		uiMu.Lock()
		defer uiMu.Unlock()
		fn()
	})
}

// onUIWait is onUI that returns when fn has run.
func onUIWait(fn func()) {
	fyne.DoAndWait(func() {
		uiMu.Lock()
		defer uiMu.Unlock()
		fn()
	})
}
