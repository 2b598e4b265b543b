package main

import (
	"context"
	"image"

	"certdesk/app/previewexec"
)

// previewDPI suits the preview's page thumbnails at 200% scaling.
const previewDPI = 60

// renderer draws print previews with the certdesk-preview helper beside
// this executable, keeping its compiled code in cacheDir.
func renderer(cacheDir string) func(ctx context.Context, pdf []byte) ([]image.Image, error) {
	return func(ctx context.Context, pdf []byte) ([]image.Image, error) {
		helper, err := previewexec.Helper()
		if err != nil {
			return nil, err
		}
		return previewexec.Pages(ctx, helper, pdf, previewDPI, cacheDir)
	}
}
