package pdfpreview

import (
	"context"
	"image"
	"image/color"
	"image/png"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"certdesk/app/acceptform"
	"certdesk/app/apply"
)

// cacheDir is shared by the tests: only the first compiles PDFium.
var cacheDir string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "pdfpreview-cache")
	if err != nil {
		panic(err)
	}
	cacheDir = dir
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

func form(t *testing.T) []byte {
	t.Helper()
	pdf, err := acceptform.Render(acceptform.Input{AppID: "abc123", Kind: apply.KindOrg, Date: time.Date(2026, 11, 25, 0, 0, 0, 0, time.UTC),
		Version: "2026-11", Agreement: "本协议由数字证书申请人与电子认证服务机构订立。", Fee: apply.Quote{TotalFen: 50000},
		Form: apply.Values{apply.FUsername: "zhsoft01", apply.FOrgName: "福州示例软件有限公司", apply.FOrgCode: "91350100M000100Y43",
			apply.FOrgAddress: "福建省福州市鼓楼区五四路 100 号", apply.FHandlerName: "王堃", apply.FHandlerIDType: "resident",
			apply.FHandlerID: "11010519491231002X", apply.FHandlerMobile: "13800138000", apply.FHandlerEmail: "wang@example.com",
			apply.FSecurityQuestion: "您的出生地是?", apply.FSecurityAnswer: "福州", apply.FDelivery: "pickup"}})
	if err != nil {
		t.Fatal(err)
	}
	return pdf
}

// TestPagesMatchPoppler renders the acceptance form and holds page 1 to
// poppler's pdftoppm at the same resolution: the two renderers must put
// ink in the same places (anti-aliasing aside).
func TestPagesMatchPoppler(t *testing.T) {
	pdf := form(t)
	cache := cacheDir
	start := time.Now()
	pages, err := Pages(t.Context(), pdf, 60, cache)
	if err != nil {
		t.Fatal(err)
	}
	cold := time.Since(start)
	if len(pages) != 3 {
		t.Fatalf("%d pages, want the form's 3", len(pages))
	}
	for i, p := range pages {
		// A4 at 60 DPI is 496.1 × 701.6 pixels.
		if b := p.Bounds(); b.Dx() < 496 || b.Dx() > 497 || b.Dy() < 701 || b.Dy() > 702 {
			t.Errorf("page %d is %v, want A4 at 60 DPI", i+1, b)
		}
	}
	start = time.Now()
	if _, err := Pages(t.Context(), pdf, 60, cache); err != nil {
		t.Fatal(err)
	}
	t.Logf("first preview %v (compiles PDFium), second %v (from the cache)", cold.Round(time.Millisecond), time.Since(start).Round(time.Millisecond))

	if _, err := exec.LookPath("pdftoppm"); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("pdftoppm (poppler-utils) is required in CI")
		}
		t.Skip("pdftoppm not installed")
	}
	dir := t.TempDir()
	in := filepath.Join(dir, "form.pdf")
	if err := os.WriteFile(in, pdf, 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("pdftoppm", "-png", "-r", "60", "-f", "1", "-l", "1", "-singlefile", in, filepath.Join(dir, "poppler")).CombinedOutput(); err != nil {
		t.Fatalf("pdftoppm: %v\n%s", err, out)
	}
	f, err := os.Open(filepath.Join(dir, "poppler.png"))
	if err != nil {
		t.Fatal(err)
	}
	ref, err := png.Decode(f)
	f.Close()
	if err != nil {
		t.Fatal(err)
	}
	ink, differ := compare(pages[0], ref)
	t.Logf("page 1: %.2f%% ink; %.2f%% of the ink of either rendering has none of the other's within a pixel", ink, differ)
	if ink < 1 {
		t.Errorf("page 1 is nearly blank: %.2f%% of its pixels dark", ink)
	}
	if differ > 10 {
		t.Errorf("page 1 differs from poppler's rendering: %.2f%% of the ink unmatched", differ)
	}
	// The measure tells pages apart: page 2 against poppler's page 1.
	if _, other := compare(pages[1], ref); other <= 10 {
		t.Errorf("page 2 passes for page 1 (%.2f%% unmatched): the comparison sees nothing", other)
	} else {
		t.Logf("control: page 2 against page 1, %.2f%% unmatched", other)
	}
}

// compare returns the share of a's pixels that are ink (dark), and the
// share of the ink of a and ref together that has no ink of the other
// image within one pixel (renderers round lines and glyph edges to
// different pixels).
func compare(a *image.RGBA, ref image.Image) (ink, unmatched float64) {
	b := a.Bounds().Intersect(ref.Bounds())
	dark := func(img image.Image, x, y int) bool { return gray(img.At(x, y)) < 128 }
	near := func(img image.Image, x, y int) bool {
		for dy := -1; dy <= 1; dy++ {
			for dx := -1; dx <= 1; dx++ {
				if dark(img, x+dx, y+dy) {
					return true
				}
			}
		}
		return false
	}
	n, inkA, inkR, miss := 0, 0, 0, 0
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			n++
			if dark(a, x, y) {
				inkA++
				if !near(ref, x, y) {
					miss++
				}
			}
			if dark(ref, x, y) {
				inkR++
				if !near(a, x, y) {
					miss++
				}
			}
		}
	}
	return 100 * float64(inkA) / float64(n), 100 * float64(miss) / float64(max(1, inkA+inkR))
}

func gray(c color.Color) int {
	return int(color.GrayModel.Convert(c).(color.Gray).Y)
}

func TestPagesRefusesWhatIsNotAPDF(t *testing.T) {
	if _, err := Pages(context.Background(), []byte("%PDF-1.4 this is not a PDF"), 60, cacheDir); err == nil {
		t.Fatal("rendered a broken file")
	}
}
