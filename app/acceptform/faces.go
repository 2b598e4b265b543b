package acceptform

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"unicode"

	"github.com/go-text/typesetting/font"

	"certdesk/assets"
)

// A face is one TrueType font the form may print with. Faces are tried in
// order for each character: the first that has a glyph prints it. The
// library (gopdf) subsets each face it is given into the PDF, so a face
// only costs the glyphs the form uses, and a face no character needs is
// never added.
type face struct {
	name string
	data []byte
	cmap *font.Font
}

func parseFace(name string, data []byte) (*face, error) {
	f, err := font.ParseTTF(bytes.NewReader(data))
	if err != nil {
		return nil, fmt.Errorf("font %s: %w", name, err)
	}
	return &face{name: name, data: data, cmap: f.Font}, nil
}

func (f *face) has(r rune) bool {
	_, ok := f.cmap.NominalGlyph(r)
	return ok
}

// SystemFonts are the fonts of the PC tried after the embedded two, for the
// ideographs outside the BMP (CJK Extension B and later): SimSun-ExtB is on
// every Chinese Windows since Vista, SimSun-ExtG on Windows 11; on Linux
// Debian's fonts-hanazono and fonts-babelstone-han. They are not embedded
// in certdesk.exe because Extension B alone is 9.2 MB compressed and the
// installer's limit is 30 MB (see fonts/README.md).
func SystemFonts() []string {
	if runtime.GOOS == "windows" {
		dir := filepath.Join(os.Getenv("WINDIR"), "Fonts")
		return []string{filepath.Join(dir, "simsunb.ttf"), filepath.Join(dir, "SimsunExtG.ttf")}
	}
	return []string{
		"/usr/share/fonts/truetype/hanazono/HanaMinB.ttf",
		"/usr/share/fonts/truetype/babelstone/BabelStoneHan.ttf",
	}
}

// faces is the chain the form prints with: WenQuanYi Micro Hei, the
// embedded fallback (CJK Extension A and the BMP ideographs, radicals and
// forms WenQuanYi lacks), then each system font in paths that exists and
// parses. A system font is read only when the form has a character the
// embedded faces lack.
type faces struct {
	list  []*face
	paths []string // system fonts not read yet
}

func newFaces(paths []string) (*faces, error) {
	main, err := parseFace("wqy", assets.PDFFont)
	if err != nil {
		return nil, err
	}
	han, err := parseFace("han", assets.PDFFallback)
	if err != nil {
		return nil, err
	}
	return &faces{list: []*face{main, han}, paths: paths}, nil
}

// of returns the face that prints r, or nil when none does.
func (fs *faces) of(r rune) *face {
	for _, f := range fs.list {
		if f.has(r) {
			return f
		}
	}
	for len(fs.paths) > 0 {
		p := fs.paths[0]
		fs.paths = fs.paths[1:]
		data, err := os.ReadFile(p)
		if err != nil {
			continue // not installed on this PC
		}
		f, err := parseFace(fmt.Sprintf("sys%d", len(fs.list)), data)
		if err != nil {
			continue
		}
		fs.list = append(fs.list, f)
		if f.has(r) {
			return f
		}
	}
	return nil
}

// A run is text printed with one face.
type run struct {
	face *face
	text string
}

// runs splits s into runs of one face each. Spaces and marks stay in the
// run before them. Characters no face prints are returned apart, each once.
func (fs *faces) runs(s string) ([]run, []rune) {
	var out []run
	var missing []rune
	var cur *face
	var b strings.Builder
	flush := func() {
		if b.Len() > 0 {
			out = append(out, run{cur, b.String()})
			b.Reset()
		}
	}
	for _, r := range s {
		f := cur
		if f == nil || !(f.has(r) || (unicode.IsSpace(r) && r != '\n')) {
			f = fs.of(r)
		}
		if f == nil {
			if !containsRune(missing, r) {
				missing = append(missing, r)
			}
			continue
		}
		if f != cur {
			flush()
			cur = f
		}
		b.WriteRune(r)
	}
	flush()
	return out, missing
}

func containsRune(rs []rune, r rune) bool {
	for _, x := range rs {
		if x == r {
			return true
		}
	}
	return false
}

// UnprintableError is returned when the form has characters no font on
// this PC prints: a form with an empty box where a name's character should
// be is not a valid legal document, so none is made.
type UnprintableError struct {
	Chars []rune
}

func (e *UnprintableError) Error() string {
	return "acceptance form: no font prints " + quoteRunes(e.Chars)
}

func quoteRunes(rs []rune) string {
	parts := make([]string, len(rs))
	for i, r := range rs {
		parts[i] = fmt.Sprintf("%q (U+%04X)", r, r)
	}
	return strings.Join(parts, ", ")
}

// Fonts answers, as a field is typed, whether the form will print it: the
// face chain parsed once, safe for concurrent use.
type Fonts struct {
	mu sync.Mutex
	fs *faces
}

// NewFonts reads the embedded faces; the PC's are read when first needed.
func NewFonts() (*Fonts, error) {
	fs, err := newFaces(SystemFonts())
	if err != nil {
		return nil, err
	}
	return &Fonts{fs: fs}, nil
}

// Unprintable returns the characters of s that no font available to the
// form (embedded or on this PC) prints, each once; none when s prints.
func (f *Fonts) Unprintable(s string) []rune {
	f.mu.Lock()
	defer f.mu.Unlock()
	_, missing := f.fs.runs(s)
	return missing
}
