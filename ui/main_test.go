package ui

import (
	"os"
	"testing"
)

// testPreviewCache is shared by the tests that reach the print step, so
// only the first compiles the PDF renderer (about 4 s).
var testPreviewCache string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "certdesk-ui-preview")
	if err != nil {
		panic(err)
	}
	testPreviewCache = dir
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}
