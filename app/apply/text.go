package apply

import (
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Invisible reports the first character of s that must never reach a
// certificate, a printed form, an SMS or a console, with its position
// (1-based, in characters); ok is false when there is none.
//
// Refused: control characters (Cc), format characters (Cf: the bidi
// overrides and isolates U+202A–U+202E, U+2066–U+2069, zero-width
// characters, soft hyphen), private use (Co), surrogates (Cs), unassigned
// code points (Cn, in the Unicode version Go ships), line and paragraph
// separators (Zl, Zp), and bytes that are not UTF-8. A bidi override
// signed into a certificate's O makes a reader see another name; a
// zero-width character makes two names that look alike differ.
// Everything else (letters of every script and plane, marks, variation
// selectors, digits, punctuation, symbols, spaces) is allowed.
func Invisible(s string) (pos int, r rune, ok bool) {
	for i := 0; i < len(s); {
		r, n := utf8.DecodeRuneInString(s[i:])
		pos++
		if r == utf8.RuneError && n == 1 {
			return pos, r, true
		}
		if !visible(r) {
			return pos, r, true
		}
		i += n
	}
	return 0, 0, false
}

func visible(r rune) bool {
	return unicode.In(r, unicode.L, unicode.M, unicode.N, unicode.P, unicode.S, unicode.Zs)
}

// InvisibleMessage words the refusal of character r at position pos of the
// field labelled label.
func InvisibleMessage(label Text, pos int, r rune) Text {
	name := fmt.Sprintf("U+%04X", r)
	return Text{
		fmt.Sprintf("%s第 %d 个字符是看不见的控制字符(%s),常见于从网页或文档复制的文字;请删除该字符,或清空后手动重新输入", label.ZH, pos, name),
		fmt.Sprintf("%s has an invisible control character (%s) at position %d, usually copied in from a web page or a document; delete it, or clear the field and type it again", label.EN, name, pos),
	}
}

// CheckText is the invisible-character check of free text that is not a
// form field (a reviewer's reason, a note): nil when s is clean.
func CheckText(field string, label Text, s string) *FieldError {
	if pos, r, bad := Invisible(s); bad {
		return &FieldError{Field: field, Code: CodeInvisible, Message: InvisibleMessage(label, pos, r)}
	}
	return nil
}

// CheckValuesText runs the invisible-character check alone over every
// field of a partial form (a draft being autosaved, which is not validated
// in full until it is submitted), so nothing invisible is ever stored.
func CheckValuesText(k Kind, v Values) FieldErrors {
	var errs FieldErrors
	for _, f := range Schema(k) {
		x, ok := v[f.Key]
		if !ok {
			continue
		}
		if fe := f.invisible(x); fe != nil {
			errs = append(errs, *fe)
		}
	}
	return errs
}

// invisible is the field's invisible-character check. Whitespace at the
// ends (a newline pasted from a spreadsheet) is not refused: the field's
// check trims it.
func (f *Field) invisible(v string) *FieldError {
	return CheckText(f.Key, f.Label, strings.Trim(v, " \t\r\n"))
}

// Display is a stored value as people read it: a choice's label instead of
// its code (居民身份证, not resident), 是/否 for a tick box.
func (f *Field) Display(v string, lang Lang) string {
	switch f.Type {
	case TypeBool:
		if v == "true" {
			return Text{"是", "Yes"}.In(lang)
		}
		return Text{"否", "No"}.In(lang)
	case TypeChoice:
		for _, c := range f.Choices {
			if c.Value == v {
				return c.Label.In(lang)
			}
		}
	}
	return v
}
