package ui

import (
	"bytes"
	"encoding/json"
	"io/fs"
	"testing"
	"unicode"

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
