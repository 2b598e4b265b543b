package ui

import (
	"context"
	"image"
	"os"
	"testing"

	"certdesk/app/pdfpreview"
)

// testPreviewCache is shared by the tests that reach the print step, so
// only the first compiles the PDF renderer (about 4 s).
var testPreviewCache string

// testRender draws previews in the test process itself (the app runs the
// certdesk-preview helper, tested in app/previewexec).
func testRender(ctx context.Context, pdf []byte) ([]image.Image, error) {
	pages, err := pdfpreview.Pages(ctx, pdf, 60, testPreviewCache)
	if err != nil {
		return nil, err
	}
	out := make([]image.Image, len(pages))
	for i, p := range pages {
		out[i] = p
	}
	return out, nil
}

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
