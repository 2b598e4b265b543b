package ui

import (
	"bytes"
	"encoding/json"
	"io/fs"
	"os"
	"os/exec"
	"runtime"
	"testing"
	"unicode"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/test"
	"github.com/go-text/typesetting/font"

	"certdesk/app/apply"
	"certdesk/app/material"
	"certdesk/assets"
)

// Every character CertDesk shows has a glyph in the embedded font: the UI
// strings, every domain text (labels, errors, hints, states), and names
// outside GB2312 that applicants really have.
func TestEmbeddedFontCoversWhatWeShow(t *testing.T) {
	face, err := font.ParseTTF(bytes.NewReader(assets.CJKFont))
	if err != nil {
		t.Fatal(err)
	}
	missing := map[rune]string{}
	check := func(where, s string) {
		for _, r := range s {
			if unicode.IsControl(r) || r == ' ' {
				continue
			}
			if _, ok := face.NominalGlyph(r); !ok {
				missing[r] = where
			}
		}
	}
	check("rare names", "堃喆赟珺玥琇昇䶮犇淼焱垚鑫")
	_ = fs.WalkDir(assets.Translations, ".", func(p string, d fs.DirEntry, err error) error {
		if d == nil || d.IsDir() {
			return nil
		}
		b, _ := assets.Translations.ReadFile(p)
		var m map[string]string
		json.Unmarshal(b, &m)
		for k, v := range m {
			check(p+":"+k, v)
		}
		return nil
	})
	for _, k := range apply.Kinds {
		for _, f := range apply.Schema(k) {
			check("field "+f.Key, f.Label.ZH+f.Help.ZH)
			for _, c := range f.Choices {
				check("choice", c.Label.ZH)
			}
			_, fe := f.Check("\x00bad", apply.Values{}, testNowUI)
			if fe != nil {
				check("error "+string(fe.Code), fe.Message.ZH)
			}
		}
		for _, r := range apply.Materials(k, apply.Options{Seal: true, Signature: true}, false) {
			check("material", r.Label.ZH+r.Steps.ZH)
		}
		for _, p := range apply.PaperMaterials(k, false) {
			check("paper", p.Label.ZH+p.Copies.ZH)
		}
	}
	for _, s := range apply.States {
		check("state", s.Label(apply.ZH)+apply.NextAction(s).ZH)
	}
	for _, b := range [][]byte{nil, []byte("x"), []byte("%PDF-1")} {
		for _, p := range material.CheckBytes(b, apply.MaterialRule{MinDPI: 100}).Problems {
			check("problem "+p.Code, p.Message.ZH+p.Hint.ZH)
		}
	}
	for r, where := range missing {
		t.Errorf("no glyph for %q (U+%04X), used in %s", r, r, where)
	}
}

// The CJK face is parsed once for every text style that uses it, and
// fallback faces only when a character needs one (ui/third_party/fyne.patch).
// Unpatched Fyne parses the 6.6 MB face again for bold text
// and Fyne's Latin fallbacks with it. Measured in a fresh process, since
// other tests fill Fyne's font cache.
func TestOneParsedFaceForEveryStyle(t *testing.T) {
	if os.Getenv("CERTDESK_FACE_CHILD") == "" {
		cmd := exec.Command(os.Args[0], "-test.run=^TestOneParsedFaceForEveryStyle$", "-test.v")
		cmd.Env = append(os.Environ(), "CERTDESK_FACE_CHILD=1")
		out, err := cmd.CombinedOutput()
		t.Logf("%s", out)
		if err != nil {
			t.Fatal(err)
		}
		return
	}
	a := test.NewTempApp(t)
	a.Settings().SetTheme(NewTheme())
	heap := func() float64 {
		runtime.GC()
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		return float64(ms.HeapAlloc) / (1 << 20)
	}
	const text = "证书助手 CertDesk 堃喆赟 0123"
	before := heap()
	regular := fyne.MeasureText(text, 14, fyne.TextStyle{})
	afterRegular := heap()
	bold := fyne.MeasureText(text, 14, fyne.TextStyle{Bold: true})
	afterBold := heap()
	t.Logf("regular face %.1f MiB, bold %.1f MiB more", afterRegular-before, afterBold-afterRegular)
	if afterRegular-before < 5 {
		t.Fatalf("the CJK face took only %.1f MiB: the measurement no longer sees the parse", afterRegular-before)
	}
	if afterRegular-before > 18 {
		t.Errorf("regular text took %.1f MiB: fallback faces parsed up front?", afterRegular-before)
	}
	if afterBold-afterRegular > 2 {
		t.Errorf("bold text took %.1f MiB more: the CJK face was parsed again (is go.mod's replace of Fyne in place?)", afterBold-afterRegular)
	}
	if regular != bold {
		t.Errorf("regular %v and bold %v measure differently with one face", regular, bold)
	}
	// Ā is not in the CJK subset: Fyne's own Latin face is parsed now,
	// the first time a character needs it.
	latin := fyne.MeasureText("ĀāĀ", 14, fyne.TextStyle{})
	afterLatin := heap()
	t.Logf("fallback face %.1f MB on first use", afterLatin-afterBold)
	if latin.Width < 14 || afterLatin-afterBold < 0.5 {
		t.Errorf("a character outside the CJK face measured %v and loaded %.1f MB: no fallback face", latin, afterLatin-afterBold)
	}
}
