package acceptform

import (
	"bytes"
	"compress/zlib"
	"encoding/binary"
	"errors"
	"fmt"
	"image"
	"image/draw"
	"image/png"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"unicode/utf16"

	"github.com/signintech/gopdf"

	"certdesk/app/apply"
)

// Names with a character of CJK Extension A (䶮), of Extension B (𠮷) and
// of the GB 18030-2022 required set that the 2005 edition mapped to the
// private-use area (龴 U+9FB4, GB 0xFE59; the vertical comma U+FE10,
// GB 0xA6D9), all outside WenQuanYi Micro Hei.
const rareHandler, rareOrg = "刘䶮𠮷", "龴︐示例软件有限公司"

func rareInput() Input {
	in := orgInput()
	in.Form[apply.FHandlerName] = rareHandler
	in.Form[apply.FOrgName] = rareOrg
	return in
}

type placed struct {
	page       int
	r          rune
	face       *face
	size       float64
	x, y, w, h float64
}

// No character of the printed form is the .notdef box. The form is
// rendered by poppler, and so is a twin PDF that has the .notdef glyph of
// the same face at the same size in each character's cell; a cell of the
// form that looks like its twin is a box on paper.
func TestRareNamesPrintWithRealGlyphs(t *testing.T) {
	tool(t, "pdftoppm")
	var cells []placed
	pdf, err := renderTraced(rareInput(), SystemFonts(), func(page int, r rune, f *face, size, x, y, w, h float64) {
		cells = append(cells, placed{page, r, f, size, x, y, w, h})
	})
	if err != nil {
		t.Fatal(err)
	}
	twin := notdefTwin(t, cells)
	dir := t.TempDir()
	form := pagesPNG(t, dir, "form", pdf)
	boxes := pagesPNG(t, dir, "notdef", twin)
	if len(form) != 3 || len(boxes) != 3 {
		t.Fatalf("%d form pages, %d twin pages, want 3", len(form), len(boxes))
	}
	seen := map[rune]bool{}
	checked := 0
	for _, c := range cells {
		if c.r == ' ' || c.r == '\u3000' {
			continue
		}
		rect := cellPixels(c)
		a, b := form[c.page-1], boxes[c.page-1]
		if ink(b, rect) == 0 {
			t.Fatalf("the twin has no .notdef ink for %q in face %s: the comparison would prove nothing", c.r, c.face.name)
		}
		// The twin's cell compared with itself is the detector's control.
		if d := diff(b, b, rect); d != 0 {
			t.Fatal("the comparison is not exact")
		}
		box := inkBounds(b, rect) // the .notdef box, without the neighbours' ink
		if ink(a, rect) == 0 {
			t.Errorf("%q (U+%04X, page %d, face %s) prints as nothing", c.r, c.r, c.page, c.face.name)
		} else if d := diff(a, b, box); d < 0.15 {
			t.Errorf("%q (U+%04X, page %d, face %s) prints as the .notdef box (difference %.2f)", c.r, c.r, c.page, c.face.name, d)
		}
		checked++
		seen[c.r] = true
	}
	for _, r := range rareHandler + rareOrg {
		if !seen[r] {
			t.Errorf("%q was not placed on the form", r)
		}
	}
	t.Logf("%d character cells compared with the .notdef glyph of their face", checked)
}

// The PDF's own fonts cover every character of the form data: each is
// mapped (ToUnicode) to a glyph other than .notdef that has an outline in
// the embedded font program, read back from the PDF file.
func TestEmbeddedFontsCoverFormData(t *testing.T) {
	in := rareInput()
	pdf, err := Render(in)
	if err != nil {
		t.Fatal(err)
	}
	covered := embeddedCoverage(t, pdf)
	for _, f := range printed(in) {
		for _, r := range f.Label + f.Value {
			if r != ' ' && !covered[r] {
				t.Errorf("%s: %q (U+%04X) has no glyph in the PDF's embedded fonts", f.Key, r, r)
			}
		}
	}
	for _, r := range rareHandler + rareOrg {
		if !covered[r] {
			t.Errorf("%q is not in the PDF's fonts", r)
		}
	}
}

// A character no font prints refuses the form, naming it, instead of
// printing a box or a space where a name's character should be.
func TestUnprintableRefused(t *testing.T) {
	in := orgInput()
	in.Form[apply.FHandlerName] = "王\U00031328" // a CJK Extension G character in no font here
	_, err := render(in, nil)
	var ue *UnprintableError
	if !errors.As(err, &ue) || len(ue.Chars) != 1 || ue.Chars[0] != 0x31328 {
		t.Fatalf("got %v, want UnprintableError for U+31328", err)
	}
	// Without the PC's fonts, Extension B is refused too; with them it prints.
	in.Form[apply.FHandlerName] = "刘𠮷"
	if _, err := render(in, nil); !errors.As(err, &ue) {
		t.Fatalf("𠮷 without system fonts: %v", err)
	}
	fonts, err := NewFonts()
	if err != nil {
		t.Fatal(err)
	}
	if len(fonts.Unprintable("刘䶮龴")) != 0 {
		t.Error("the embedded faces should print 刘䶮龴")
	}
}

// notdefTwin is a PDF of the same pages with, in each traced cell, the
// .notdef glyph of the face and size that printed the character there.
func notdefTwin(t *testing.T, cells []placed) []byte {
	t.Helper()
	pdf := &gopdf.GoPdf{}
	pdf.Start(gopdf.Config{PageSize: gopdf.Rect{W: 210, H: 297}, Unit: gopdf.UnitMM})
	added := map[*face]bool{}
	page := 0
	// U+10FFFD is in no font: substituted by itself, it stays glyph 0.
	opt := gopdf.TtfOption{OnGlyphNotFoundSubstitute: func(r rune) rune { return r }}
	for _, c := range cells {
		for page < c.page {
			pdf.AddPage()
			page++
		}
		if !added[c.face] {
			if err := pdf.AddTTFFontDataWithOption(c.face.name, c.face.data, opt); err != nil {
				t.Fatal(err)
			}
			added[c.face] = true
		}
		if err := pdf.SetFont(c.face.name, "", c.size); err != nil {
			t.Fatal(err)
		}
		pdf.SetXY(c.x, c.y)
		if err := pdf.CellWithOption(&gopdf.Rect{W: c.w, H: c.h}, "\U0010FFFD", gopdf.CellOption{Align: gopdf.Left | gopdf.Middle}); err != nil {
			t.Fatal(err)
		}
	}
	var buf bytes.Buffer
	if _, err := pdf.WriteTo(&buf); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

const dpi = 150

func pagesPNG(t *testing.T, dir, name string, pdf []byte) []*image.Gray {
	t.Helper()
	p := filepath.Join(dir, name+".pdf")
	if err := os.WriteFile(p, pdf, 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("pdftoppm", "-gray", "-png", "-r", strconv.Itoa(dpi), p, filepath.Join(dir, name)).CombinedOutput(); err != nil {
		t.Fatalf("pdftoppm: %v\n%s", err, out)
	}
	var pages []*image.Gray
	for i := 1; ; i++ {
		f, err := os.Open(filepath.Join(dir, fmt.Sprintf("%s-%d.png", name, i)))
		if err != nil {
			break
		}
		img, err := png.Decode(f)
		f.Close()
		if err != nil {
			t.Fatal(err)
		}
		g := image.NewGray(img.Bounds())
		draw.Draw(g, g.Bounds(), img, img.Bounds().Min, draw.Src)
		pages = append(pages, g)
	}
	return pages
}

// cellPixels is the character's cell on a page image, at least an em wide:
// the .notdef box of a narrow character (a comma) is wider than its cell.
func cellPixels(c placed) image.Rectangle {
	px := func(mm float64) int { return int(mm / 25.4 * dpi) }
	em := c.size * 25.4 / 72
	return image.Rect(px(c.x), px(c.y), px(c.x+max(c.w, em))+1, px(c.y+c.h)+1)
}

func ink(g *image.Gray, r image.Rectangle) int {
	n := 0
	for y := r.Min.Y; y < r.Max.Y; y++ {
		for x := r.Min.X; x < r.Max.X; x++ {
			if g.GrayAt(x, y).Y < 128 {
				n++
			}
		}
	}
	return n
}

func inkBounds(g *image.Gray, r image.Rectangle) image.Rectangle {
	var b image.Rectangle
	for y := r.Min.Y; y < r.Max.Y; y++ {
		for x := r.Min.X; x < r.Max.X; x++ {
			if g.GrayAt(x, y).Y < 128 {
				b = b.Union(image.Rect(x, y, x+1, y+1))
			}
		}
	}
	return b
}

// diff is the share of pixels inked in either cell that are inked in only
// one of them.
func diff(a, b *image.Gray, r image.Rectangle) float64 {
	either, one := 0, 0
	for y := r.Min.Y; y < r.Max.Y; y++ {
		for x := r.Min.X; x < r.Max.X; x++ {
			ia, ib := a.GrayAt(x, y).Y < 128, b.GrayAt(x, y).Y < 128
			if ia || ib {
				either++
			}
			if ia != ib {
				one++
			}
		}
	}
	if either == 0 {
		return 0
	}
	return float64(one) / float64(either)
}

var (
	objRE    = regexp.MustCompile(`(?s)(\d+) 0 obj\s*(.*?)endobj`)
	refRE    = func(key string) *regexp.Regexp { return regexp.MustCompile(`/` + key + `\s*\[?\s*(\d+) 0 R`) }
	bfRE     = regexp.MustCompile(`<([0-9A-F]{4})><([0-9A-F]{4})><([0-9A-F]+)>`)
	streamRE = regexp.MustCompile(`(?s)stream\r?\n(.*)endstream`)
)

// embeddedCoverage reads the PDF as a reader would: for each Type0 font,
// its ToUnicode map (glyph ID → character, Identity-H) and the TrueType
// program of its descendant font; a character is covered when its glyph is
// not .notdef and has an outline in that program.
func embeddedCoverage(t *testing.T, pdf []byte) map[rune]bool {
	t.Helper()
	objs := map[string]string{}
	for _, m := range objRE.FindAllSubmatch(pdf, -1) {
		objs[string(m[1])] = string(m[2])
	}
	ref := func(obj, key string) string {
		m := refRE(key).FindStringSubmatch(objs[obj])
		if m == nil {
			return ""
		}
		return m[1]
	}
	stream := func(obj string) []byte {
		m := streamRE.FindStringSubmatch(objs[obj])
		if m == nil {
			t.Fatalf("object %s has no stream", obj)
		}
		data := []byte(m[1])
		if strings.Contains(objs[obj], "/FlateDecode") {
			zr, err := zlib.NewReader(bytes.NewReader(data))
			if err != nil {
				t.Fatalf("object %s: %v", obj, err)
			}
			if data, err = io.ReadAll(zr); err != nil && !errors.Is(err, io.ErrUnexpectedEOF) {
				t.Fatalf("object %s: %v", obj, err)
			}
		}
		return data
	}
	covered := map[rune]bool{}
	fonts := 0
	for id, body := range objs {
		if !strings.Contains(body, "/Subtype /Type0") {
			continue
		}
		fonts++
		program := ref(ref(ref(id, "DescendantFonts"), "FontDescriptor"), "FontFile2")
		if program == "" {
			t.Fatalf("font %s is not embedded", id)
		}
		outlined, err := glyphsWithOutline(stream(program))
		if err != nil {
			t.Fatalf("embedded font %s: %v", program, err)
		}
		for _, m := range bfRE.FindAllStringSubmatch(string(stream(ref(id, "ToUnicode"))), -1) {
			gid, _ := strconv.ParseUint(m[1], 16, 16)
			var units []uint16
			for i := 0; i+4 <= len(m[3]); i += 4 {
				u, _ := strconv.ParseUint(m[3][i:i+4], 16, 16)
				units = append(units, uint16(u))
			}
			rs := utf16.Decode(units)
			if len(rs) != 1 || gid == 0 {
				continue
			}
			if outlined(int(gid)) || rs[0] == ' ' {
				covered[rs[0]] = true
			}
		}
	}
	if fonts < 2 {
		t.Fatalf("%d fonts in the PDF, want the main face and the fallback", fonts)
	}
	return covered
}

// glyphsWithOutline reads a TrueType program's loca table (an embedded
// subset has no cmap; the PDF's ToUnicode is its map): a glyph has an
// outline when its glyf entry is not empty.
func glyphsWithOutline(ttf []byte) (func(gid int) bool, error) {
	if len(ttf) < 12 {
		return nil, errors.New("too short")
	}
	tables := map[string][]byte{}
	n := int(binary.BigEndian.Uint16(ttf[4:]))
	for i := 0; i < n; i++ {
		rec := ttf[12+16*i:]
		off, size := binary.BigEndian.Uint32(rec[8:]), binary.BigEndian.Uint32(rec[12:])
		if int(off+size) > len(ttf) {
			return nil, fmt.Errorf("table %s out of range", rec[:4])
		}
		tables[string(rec[:4])] = ttf[off : off+size]
	}
	head, loca := tables["head"], tables["loca"]
	if len(head) < 54 || loca == nil || tables["glyf"] == nil {
		return nil, errors.New("no head, loca or glyf table")
	}
	long := binary.BigEndian.Uint16(head[50:]) == 1
	at := func(i int) uint32 {
		if long {
			if 4*i+4 > len(loca) {
				return 0
			}
			return binary.BigEndian.Uint32(loca[4*i:])
		}
		if 2*i+2 > len(loca) {
			return 0
		}
		return 2 * uint32(binary.BigEndian.Uint16(loca[2*i:]))
	}
	return func(gid int) bool { return at(gid+1) > at(gid) }, nil
}
