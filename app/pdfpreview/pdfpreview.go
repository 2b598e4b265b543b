// Package pdfpreview draws the pages of a PDF as images, for the print
// step's in-window preview of the acceptance form.
//
// It runs PDFium (the renderer of Chrome's PDF viewer) compiled to
// WebAssembly, through go-pdfium on the wazero runtime: pure Go, so the
// Windows client draws exactly what the Linux tests draw, with no DLL to
// ship and no cgo. The first use compiles the module (about 4 s on the
// 2-vCPU build machine); the compiled code is kept in a cache directory,
// and later previews start in about 0.2 s. Nothing stays in memory
// between previews: each call starts PDFium and closes it.
package pdfpreview

import (
	"context"
	"errors"
	"fmt"
	"image"
	"image/draw"
	"time"

	"github.com/klippa-app/go-pdfium/requests"
	"github.com/klippa-app/go-pdfium/webassembly"
	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
	"github.com/tetratelabs/wazero/experimental"
)

// ErrEmpty: the file has no pages.
var ErrEmpty = errors.New("the PDF has no pages")

// Pages renders every page of pdf at dpi. cacheDir keeps PDFium's compiled
// code between calls ("" compiles every time).
func Pages(ctx context.Context, pdf []byte, dpi int, cacheDir string) ([]*image.RGBA, error) {
	rc := wazero.NewRuntimeConfig().WithCoreFeatures(api.CoreFeaturesV2 | experimental.CoreFeaturesExceptionHandling)
	if cacheDir != "" {
		cache, err := wazero.NewCompilationCacheWithDir(cacheDir)
		if err != nil {
			return nil, fmt.Errorf("preview cache %s: %w", cacheDir, err)
		}
		// Closing what was only used to render: the pages are the result.
		defer func() { _ = cache.Close(ctx) }()
		rc = rc.WithCompilationCache(cache)
	}
	pool, err := webassembly.Init(webassembly.Config{
		Context: ctx, MinIdle: 1, MaxIdle: 1, MaxTotal: 1, RuntimeConfig: rc,
		// The document is handed over as bytes: PDFium sees no file system.
		FSConfig: wazero.NewFSConfig(),
	})
	if err != nil {
		return nil, fmt.Errorf("start PDFium: %w", err)
	}
	defer func() { _ = pool.Close() }()
	inst, err := pool.GetInstance(30 * time.Second)
	if err != nil {
		return nil, fmt.Errorf("start PDFium: %w", err)
	}
	defer func() { _ = inst.Close() }()
	doc, err := inst.OpenDocument(&requests.OpenDocument{File: &pdf})
	if err != nil {
		return nil, fmt.Errorf("open PDF: %w", err)
	}
	// The instance and its memory go with inst.Close just after.
	defer func() { _, _ = inst.FPDF_CloseDocument(&requests.FPDF_CloseDocument{Document: doc.Document}) }()
	n, err := inst.FPDF_GetPageCount(&requests.FPDF_GetPageCount{Document: doc.Document})
	if err != nil {
		return nil, fmt.Errorf("count pages: %w", err)
	}
	if n.PageCount == 0 {
		return nil, ErrEmpty
	}
	pages := make([]*image.RGBA, 0, n.PageCount)
	for i := range n.PageCount {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		r, err := inst.RenderPageInDPI(&requests.RenderPageInDPI{DPI: dpi,
			Page: requests.Page{ByIndex: &requests.PageByIndex{Document: doc.Document, Index: i}}})
		if err != nil {
			return nil, fmt.Errorf("render page %d: %w", i+1, err)
		}
		// The image lives in PDFium's memory until Cleanup: copy it out.
		img := image.NewRGBA(r.Result.Image.Bounds())
		draw.Draw(img, img.Bounds(), r.Result.Image, img.Bounds().Min, draw.Src)
		r.Cleanup()
		pages = append(pages, img)
	}
	return pages, nil
}
