package ui

import (
	"bytes"
	"image"
	"image/color"
	"image/jpeg"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"fyne.io/fyne/v2/test"

	"certdesk/app/apply"
	"certdesk/app/material"
)

// page makes a real A4 JPEG at 100 DPI-worth of pixels, with no density
// recorded (as many scanner drivers write it).
func page(t *testing.T) []byte {
	t.Helper()
	img := image.NewGray(image.Rect(0, 0, 827, 1169))
	for i := range img.Pix {
		img.Pix[i] = 240
	}
	for y := 100; y < 1000; y += 40 {
		for x := 80; x < 740; x++ {
			img.SetGray(x, y, color.Gray{Y: 20})
		}
	}
	var buf bytes.Buffer
	if err := jpeg.Encode(&buf, img, &jpeg.Options{Quality: 85}); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// checkerIn is the checker in a test window, in language l.
func checkerIn(t *testing.T, l apply.Lang) *Checker {
	a := test.NewTempApp(t)
	_ = LoadTranslations()
	w := a.NewWindow("t")
	c := NewChecker(w, l, slog.New(slog.NewTextHandler(io.Discard, nil)))
	w.SetContent(c.Content())
	return c
}

func TestCheckerShowsProblemAndFixes(t *testing.T) {
	c := checkerIn(t, apply.ZH)

	dir := t.TempDir()
	path := filepath.Join(dir, "营业执照.jpg")
	data := page(t)
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	c.AddFile("营业执照.jpg", path, data)
	c.work.Wait()

	e := c.entries[0]
	if !strings.Contains(e.details.Text, "没有记录分辨率") || e.fixBtn.Hidden {
		t.Fatalf("problem not shown or fix hidden: %q hidden=%v", e.details.Text, e.fixBtn.Hidden)
	}
	test.Tap(e.fixBtn)
	c.work.Wait()
	if !e.fixBtn.Hidden || !strings.Contains(e.result.Text, "营业执照-fixed.jpg") {
		t.Fatalf("after fix: %q", e.result.Text)
	}
	fixed, err := os.ReadFile(filepath.Join(dir, "营业执照-fixed.jpg"))
	if err != nil {
		t.Fatal(err)
	}
	if v := material.CheckBytes(fixed, e.verdict.Rule); !v.OK() || v.Info.DPI != 100 {
		t.Fatalf("saved file does not pass: %+v", v.Problems)
	}
	orig, _ := os.ReadFile(path)
	if !bytes.Equal(orig, data) {
		t.Fatal("the original scan was changed")
	}
}

func TestCheckerUnfixable(t *testing.T) {
	c := checkerIn(t, apply.EN)
	data := page(t)
	c.AddFile("cut.jpg", "", data[:len(data)/2])
	c.work.Wait()
	e := c.entries[0]
	if !e.fixBtn.Hidden || !strings.Contains(e.details.Text, "damaged or incomplete") {
		t.Fatalf("truncated file: fix hidden=%v details=%q", e.fixBtn.Hidden, e.details.Text)
	}
}

var testNowUI = time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
