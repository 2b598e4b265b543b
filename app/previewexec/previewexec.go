// Package previewexec draws PDF pages for the print preview by running
// the certdesk-preview helper (cmd/certdesk-preview) beside the running
// executable. The renderer lives in that short-lived process so that the
// window neither links it (about 10 MB of code, which a Go process keeps
// largely resident) nor keeps its memory after a preview.
package previewexec

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"image"
	"image/png"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
)

// maxPage bounds one page image read back from the helper.
const maxPage = 64 << 20

// Helper is the helper's path beside the running executable.
func Helper() (string, error) {
	exe, err := os.Executable()
	if err != nil {
		return "", err
	}
	name := "certdesk-preview"
	if runtime.GOOS == "windows" {
		name += ".exe"
	}
	return filepath.Join(filepath.Dir(exe), name), nil
}

// Pages renders every page of pdf at dpi with the helper at path; cacheDir
// keeps the renderer's compiled code between runs.
func Pages(ctx context.Context, path string, pdf []byte, dpi int, cacheDir string) ([]image.Image, error) {
	cmd := exec.CommandContext(ctx, path, "-dpi", strconv.Itoa(dpi), "-cache", cacheDir)
	hide(cmd)
	cmd.Stdin = bytes.NewReader(pdf)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		if msg := strings.TrimSpace(stderr.String()); msg != "" {
			return nil, fmt.Errorf("preview: %s", msg)
		}
		return nil, fmt.Errorf("run %s: %w", filepath.Base(path), err)
	}
	var pages []image.Image
	r := bytes.NewReader(out)
	for r.Len() > 0 {
		var n uint32
		if err := binary.Read(r, binary.BigEndian, &n); err != nil {
			return nil, fmt.Errorf("preview output: %w", err)
		}
		if n > maxPage || int(n) > r.Len() {
			return nil, errors.New("preview output: page cut short")
		}
		b := make([]byte, n)
		if _, err := io.ReadFull(r, b); err != nil {
			return nil, fmt.Errorf("preview output: %w", err)
		}
		img, err := png.Decode(bytes.NewReader(b))
		if err != nil {
			return nil, fmt.Errorf("preview output: %w", err)
		}
		pages = append(pages, img)
	}
	if len(pages) == 0 {
		return nil, errors.New("preview output: no pages")
	}
	return pages, nil
}
