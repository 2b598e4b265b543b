package material

import (
	"bytes"
	"errors"
	"image"
	"image/png"
	"math"
	"sort"
	"strings"
	"testing"

	"certdesk/app/apply"
)

var (
	docRule, _  = apply.GenericRule("doc")
	sealRule, _ = apply.GenericRule("seal")
)

func codes(v Verdict) string {
	var cs []string
	for _, p := range v.Problems {
		cs = append(cs, p.Code)
	}
	sort.Strings(cs)
	return strings.Join(cs, ",")
}

// a4 is an A4 page scanned at 100 DPI.
func a4(t testing.TB) []byte { return encode(t, scanImage(827, 1169, 1), 85) }

func TestInspectAndCheck(t *testing.T) {
	page := a4(t)
	page300 := encode(t, scanImage(2480, 3508, 2), 75)
	tests := []struct {
		name     string
		data     []byte
		rule     apply.MaterialRule
		dpi      float64
		src      string
		problems string // sorted codes
		ok       bool
	}{
		{"JFIF 100 dpi document", withJFIF(page, 1, 100, 100), docRule, 100, "jfif", "", true},
		{"JFIF 300 dpi imprint", withJFIF(page300, 1, 300, 300), sealRule, 300, "jfif", "", true},
		{"JFIF 100 dpi imprint", withJFIF(page300, 1, 100, 100), sealRule, 100, "jfif", PLowDPI, false},
		{"JFIF 72 dpi", withJFIF(page, 1, 72, 72), docRule, 72, "jfif", PLowDPI, false},
		{"JFIF in dots per cm", withJFIF(page, 2, 40, 40), docRule, 101.6, "jfif", "", true},
		{"JFIF aspect ratio only", withJFIF(page, 0, 1, 1), docRule, 0, "", PNoDPI, false},
		{"no density", page, docRule, 0, "", PNoDPI, false},
		{"EXIF-only density", withEXIF(page, exifSpec{xres: 300, yres: 300, unit: 2}), docRule, 300, "exif", "", true},
		{"EXIF density in cm", withEXIF(page, exifSpec{xres: 118, yres: 118, unit: 3}), sealRule, 299.72, "exif", PLowPixels, true}, // 118 dots/cm is the metric 300 DPI,
		{"JFIF and EXIF disagree", withEXIF(withJFIF(page, 1, 300, 300), exifSpec{xres: 72, yres: 72, unit: 2}), docRule, 72, "both", PDPIConflict + "," + PLowDPI, false},
		{"GPS and rotation", withEXIF(withJFIF(page, 1, 100, 100), exifSpec{orientation: 6, gps: true}), docRule, 100, "jfif", PGPS + "," + POrientation, true},
		{"too few pixels", withJFIF(encode(t, scanImage(400, 560, 3), 85), 1, 100, 100), docRule, 100, "jfif", PLowPixels, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v := CheckBytes(tt.data, tt.rule)
			if math.Abs(v.Info.DPI-tt.dpi) > 0.01 || v.Info.DPISource != tt.src {
				t.Errorf("dpi = %v from %q, want %v from %q", v.Info.DPI, v.Info.DPISource, tt.dpi, tt.src)
			}
			if got := codes(v); got != tt.problems {
				t.Errorf("problems = %q, want %q", got, tt.problems)
			}
			if v.OK() != tt.ok {
				t.Errorf("OK = %v, want %v", v.OK(), tt.ok)
			}
			if !v.Info.Decoded || v.Info.Format != FormatJPEG || v.Info.Components != 3 {
				t.Errorf("info: %+v", v.Info)
			}
			for _, p := range v.Problems {
				if p.Message.ZH == "" || p.Message.EN == "" || p.Hint.ZH == "" || p.Hint.EN == "" {
					t.Errorf("problem %s lacks words: %+v", p.Code, p)
				}
			}
		})
	}
}

func TestInspectPixelsAndFlags(t *testing.T) {
	info := Inspect(withEXIF(withJFIF(a4(t), 1, 100, 100), exifSpec{orientation: 6, gps: true}))
	if info.Width != 827 || info.Height != 1169 || info.Variant != "baseline" || info.Progressive ||
		info.Orientation != 6 || !info.HasGPS || !info.HasEXIF || info.ColorSpace != "ycbcr" {
		t.Errorf("info: %+v", info)
	}
}

func TestFormatsAndDamage(t *testing.T) {
	page := withJFIF(a4(t), 1, 100, 100)
	var pngBuf bytes.Buffer
	if err := png.Encode(&pngBuf, scanImage(827, 1169, 4)); err != nil {
		t.Fatal(err)
	}
	heic := append([]byte{0, 0, 0, 24}, []byte("ftypheic\x00\x00\x00\x00mif1heic")...)
	tests := []struct {
		name    string
		data    []byte
		format  Format
		code    string
		fixable bool
	}{
		{"truncated", page[:len(page)/2], FormatJPEG, PCorrupt, false},
		{"truncated in header", page[:40], FormatJPEG, PCorrupt, false},
		{"PNG named .jpg", pngBuf.Bytes(), FormatPNG, PNotJPEG, true},
		{"HEIC from a phone", heic, FormatHEIC, PHEIC, false},
		{"PDF", []byte("%PDF-1.7\n..."), FormatPDF, PPDF, false},
		{"empty", nil, FormatEmpty, PEmpty, false},
		{"text file", []byte("hello, this is not an image"), FormatUnknown, PUnknown, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v := CheckBytes(tt.data, docRule)
			if v.Info.Format != tt.format || v.OK() || v.Problems[0].Code != tt.code || v.Fixable() != tt.fixable {
				t.Errorf("format %s, problems %+v, fixable %v", v.Info.Format, v.Problems, v.Fixable())
			}
		})
	}
}

func TestProgressiveAndCMYK(t *testing.T) {
	page := a4(t)
	prog := magick(t, page, "-interlace", "JPEG", "-density", "100", "-units", "PixelsPerInch")
	v := CheckBytes(prog, docRule)
	if !v.Info.Progressive || v.Info.Variant != "progressive" || codes(v) != PProgressive || !v.OK() {
		t.Errorf("progressive: %+v %s", v.Info, codes(v))
	}
	cmyk := magick(t, page, "-colorspace", "CMYK", "-density", "100", "-units", "PixelsPerInch")
	v = CheckBytes(cmyk, docRule)
	if v.Info.Components != 4 || (v.Info.ColorSpace != "cmyk" && v.Info.ColorSpace != "ycck") || codes(v) != PCMYK || v.OK() || !v.Fixable() {
		t.Errorf("cmyk: %+v %s", v.Info, codes(v))
	}
	for name, b := range map[string][]byte{"progressive": prog, "cmyk": cmyk} {
		out, rep, err := Repair(b, docRule)
		if err != nil || !rep.After.OK() || len(rep.After.Problems) != 0 {
			t.Fatalf("%s repair: %v %+v", name, err, rep.After.Problems)
		}
		if rep.After.Info.Progressive || rep.After.Info.Components != 3 || rep.After.Info.DPI != 100 {
			t.Errorf("%s repaired info: %+v", name, rep.After.Info)
		}
		if p := psnr(t, decode(t, b), decode(t, out)); p < 30 {
			t.Errorf("%s repair lost the picture: PSNR %.1f dB", name, p)
		}
	}
}

func TestOverTwoMB(t *testing.T) {
	big := withJFIF(encode(t, photoImage(3000, 2250, 5), 98), 1, 72, 72)
	if len(big) <= apply.MaxMaterialBytes {
		t.Fatalf("test photo only %d bytes", len(big))
	}
	v := CheckBytes(big, docRule)
	if codes(v) != PLowDPI+","+PTooLarge || !v.Fixable() {
		t.Fatalf("problems %s", codes(v))
	}
	out, rep, err := Repair(big, docRule)
	if err != nil {
		t.Fatal(err)
	}
	if len(out) > apply.MaxMaterialBytes || !rep.After.OK() || rep.Quality < minQuality || rep.Quality > maxQuality {
		t.Fatalf("repaired to %d bytes at q%d: %+v", len(out), rep.Quality, rep.After.Problems)
	}
	if rep.After.Info.Width != 3000 || rep.After.Info.Height != 2250 {
		t.Errorf("repair changed the size: %dx%d", rep.After.Info.Width, rep.After.Info.Height)
	}
	// Highest quality that fits: one step up must not fit.
	if rep.Quality < maxQuality {
		next := len(insertJFIF(encode(t, decode(t, big), rep.Quality+1), 100))
		if next <= apply.MaxMaterialBytes {
			t.Errorf("quality %d chosen but %d also fits (%d bytes)", rep.Quality, rep.Quality+1, next)
		}
	}
	t.Logf("%d → %d bytes at quality %d", len(big), len(out), rep.Quality)
}

func TestRepairEveryFixableCase(t *testing.T) {
	page := a4(t)
	var pngBuf bytes.Buffer
	_ = png.Encode(&pngBuf, scanImage(900, 1272, 6))
	cases := map[string]struct {
		data     []byte
		rule     apply.MaterialRule
		lossless bool
	}{
		"no density":       {page, docRule, true},
		"72 dpi":           {withJFIF(page, 1, 72, 72), docRule, true},
		"aspect only":      {withJFIF(page, 0, 1, 1), docRule, true},
		"EXIF 72 with GPS": {withEXIF(page, exifSpec{xres: 72, yres: 72, unit: 2, gps: true}), docRule, true},
		"conflict":         {withEXIF(withJFIF(page, 1, 300, 300), exifSpec{xres: 72, unit: 2}), docRule, true},
		"imprint at 100":   {withJFIF(encode(t, scanImage(2480, 3508, 7), 70), 1, 100, 100), sealRule, true},
		"rotated":          {withEXIF(withJFIF(page, 1, 100, 100), exifSpec{orientation: 6}), docRule, false},
		"mirrored+rotated": {withEXIF(withJFIF(page, 1, 100, 100), exifSpec{orientation: 7}), docRule, false},
		"PNG named jpg":    {pngBuf.Bytes(), docRule, false},
		"keeps higher dpi": {withJFIF(page, 1, 200, 200), docRule, true},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			out, rep, err := Repair(c.data, c.rule)
			if err != nil {
				t.Fatalf("repair: %v (%+v)", err, rep.Before.Problems)
			}
			again := CheckBytes(out, c.rule)
			if !again.OK() || again.Info.HasEXIF || again.Info.HasGPS || again.Info.DPISource != "jfif" {
				t.Fatalf("re-inspection fails: %s %+v", codes(again), again.Info)
			}
			if c.lossless && rep.Quality != 0 {
				t.Errorf("metadata-only repair re-encoded the image (q%d)", rep.Quality)
			}
			if c.lossless {
				a, b := decode(t, c.data), decode(t, out)
				if p := psnr(t, a, b); !math.IsInf(p, 1) {
					t.Errorf("metadata-only repair changed pixels: PSNR %.1f", p)
				}
			}
			if len(rep.Actions) == 0 {
				t.Errorf("no actions reported")
			}
			if name == "keeps higher dpi" && again.Info.DPI != 200 {
				t.Errorf("a true 200 DPI was lowered to %v", again.Info.DPI)
			}
			if strings.HasPrefix(name, "rotated") || strings.HasPrefix(name, "mirrored") {
				if again.Info.Width != 1169 || again.Info.Height != 827 {
					t.Errorf("not rotated: %dx%d", again.Info.Width, again.Info.Height)
				}
			}
		})
	}
}

func TestOrientationMapsCorners(t *testing.T) {
	// A 3x2 image with a distinct value per pixel; each EXIF orientation
	// must put the top-left of the stored image where the standard says.
	src := image.NewRGBA(image.Rect(0, 0, 3, 2))
	for i := range 6 {
		src.Pix[i*4] = uint8(i + 1)
	}
	at := func(img image.Image, x, y int) uint8 { r, _, _, _ := img.At(x, y).RGBA(); return uint8(r >> 8) }
	// Where stored pixel (0,0) (value 1) lands, and the output size.
	want := map[int]struct{ x, y, w, h int }{
		2: {2, 0, 3, 2}, 3: {2, 1, 3, 2}, 4: {0, 1, 3, 2},
		5: {0, 0, 2, 3}, 6: {1, 0, 2, 3}, 7: {1, 2, 2, 3}, 8: {0, 2, 2, 3},
	}
	for o, w := range want {
		out := orient(src, o)
		if out.Bounds().Dx() != w.w || out.Bounds().Dy() != w.h || at(out, w.x, w.y) != 1 {
			t.Errorf("orientation %d: size %v, value at (%d,%d) = %d", o, out.Bounds(), w.x, w.y, at(out, w.x, w.y))
		}
	}
}

func TestNotFixable(t *testing.T) {
	page := withJFIF(a4(t), 1, 100, 100)
	_, rep, err := Repair(page[:len(page)/3], docRule)
	if !errors.Is(err, ErrNotFixable) || rep.Before.OK() {
		t.Errorf("truncated file: err %v", err)
	}
}

func decode(t testing.TB, b []byte) image.Image {
	t.Helper()
	img, _, err := image.Decode(bytes.NewReader(b))
	if err != nil {
		t.Fatalf("decode: %v", err)
	}
	return img
}

// psnr compares two images of the same size over R, G and B.
func psnr(t testing.TB, a, b image.Image) float64 {
	t.Helper()
	if a.Bounds().Size() != b.Bounds().Size() {
		t.Fatalf("sizes differ: %v %v", a.Bounds(), b.Bounds())
	}
	ra, rb := toRGBA(a), toRGBA(b)
	var sum float64
	n := 0
	for i := 0; i < len(ra.Pix); i += 4 {
		for c := 0; c < 3; c++ {
			d := float64(ra.Pix[i+c]) - float64(rb.Pix[i+c])
			sum += d * d
			n++
		}
	}
	if sum == 0 {
		return math.Inf(1)
	}
	return 10 * math.Log10(255*255/(sum/float64(n)))
}

func TestHugeDimensionsAreNotDecoded(t *testing.T) {
	b := encode(t, scanImage(64, 64, 9), 80)
	segs, _, err := walkSegments(b)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range segs {
		if s.marker == 0xC0 {
			// Claim 20000×20000 pixels: 400 MP, 600 MB to decode.
			s.data[1], s.data[2], s.data[3], s.data[4] = 0x4E, 0x20, 0x4E, 0x20
		}
	}
	v := CheckBytes(b, docRule)
	if v.Info.Decoded || codes(v) != PHuge || v.Fixable() {
		t.Fatalf("huge image: %+v %s", v.Info, codes(v))
	}
	if _, _, err := Repair(b, docRule); !errors.Is(err, ErrNotFixable) {
		t.Fatalf("repair of a huge image: %v", err)
	}
}

func TestEXIFWrittenByExiftool(t *testing.T) {
	page := a4(t)
	tests := []struct {
		name   string
		args   []string
		dpi    float64
		orient int
		gps    bool
	}{
		{"300 dpi rotated with GPS", []string{"-EXIF:XResolution=300", "-EXIF:YResolution=300", "-EXIF:ResolutionUnit=inches", "-EXIF:Orientation#=6", "-GPSLatitude=26.07", "-GPSLatitudeRef=N", "-GPSLongitude=119.3", "-GPSLongitudeRef=E"}, 300, 6, true},
		{"cm units", []string{"-EXIF:XResolution=40", "-EXIF:YResolution=40", "-EXIF:ResolutionUnit=cm"}, 101.6, 0, false},
		{"little-endian", []string{"-ExifByteOrder=II", "-EXIF:XResolution=150", "-EXIF:YResolution=150", "-EXIF:ResolutionUnit=inches"}, 150, 0, false},
		{"GPS version only", []string{"-EXIF:XResolution=100", "-EXIF:YResolution=100", "-GPSVersionID=2.3.0.0"}, 100, 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			info := Inspect(exiftool(t, page, tt.args...))
			if info.EXIF == nil || math.Abs(info.DPI-tt.dpi) > 0.01 || info.Orientation != tt.orient || info.HasGPS != tt.gps || info.EXIFError != "" {
				t.Errorf("info: dpi %v exif %+v orientation %d gps %v err %q", info.DPI, info.EXIF, info.Orientation, info.HasGPS, info.EXIFError)
			}
		})
	}
}

// Data after EOI: another file riding along is reported and cut; padding,
// an EOI inside an embedded thumbnail, restarts and progressive scans are
// not mistaken for it.
func TestTrailingData(t *testing.T) {
	doc := a4(t)
	zip := append([]byte("PK\x03\x04"), bytes.Repeat([]byte("payload "), 100)...)
	thumb := encode(t, scanImage(80, 60, 2), 70) // a whole JPEG, with its own EOI
	withThumb := splice(doc, append(append([]byte{0xFF, 0xE1, byte((len(thumb) + 8) >> 8), byte(len(thumb) + 8)}, "Thumb\x00"...), thumb...))
	progressive := jpegtran(t, doc, "-progressive")
	restarts := jpegtran(t, doc, "-restart", "2")
	for name, tc := range map[string]struct {
		b    []byte
		want int64
	}{
		"clean":             {doc, 0},
		"zip appended":      {append(append([]byte(nil), doc...), zip...), int64(len(zip))},
		"second picture":    {append(append([]byte(nil), doc...), thumb...), int64(len(thumb))},
		"zero padding":      {append(append([]byte(nil), doc...), make([]byte, 512)...), 0},
		"thumbnail inside":  {withThumb, 0},
		"progressive + zip": {append(append([]byte(nil), progressive...), zip...), int64(len(zip))},
		"restarts + zip":    {append(append([]byte(nil), restarts...), zip...), int64(len(zip))},
	} {
		info := Inspect(tc.b)
		if info.TrailingBytes != tc.want {
			t.Errorf("%s: %d trailing bytes, want %d", name, info.TrailingBytes, tc.want)
		}
		v := Check(info, docRule)
		if has := strings.Contains(codes(v), PTrailing); has != (tc.want > 0) {
			t.Errorf("%s: problems %s", name, codes(v))
		}
		if tc.want == 0 {
			continue
		}
		fixed, rep, err := Repair(tc.b, docRule)
		if err != nil {
			t.Fatalf("%s: repair: %v", name, err)
		}
		if bytes.Contains(fixed, []byte("payload")) || Inspect(fixed).TrailingBytes != 0 || !rep.After.OK() {
			t.Errorf("%s: repaired file still carries the data", name)
		}
	}
}
