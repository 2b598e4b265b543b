package ui

import (
	"image/color"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/theme"

	"certdesk/assets"
)

// cjkFont is the embedded CJK face as a Fyne resource.
var cjkFont = fyne.NewStaticResource("NotoSansSC-CertDesk.otf", assets.CJKFont)

// Theme is Fyne's default theme with the embedded CJK font for every text
// style (one face: the bold style is drawn with the regular face rather
// than embedding a second 6.6 MB font).
type Theme struct{ fyne.Theme }

// NewTheme wraps the default theme.
func NewTheme() *Theme { return &Theme{Theme: theme.DefaultTheme()} }

// Font returns the embedded CJK face for the styles CertDesk writes
// Chinese in (regular and bold); monospace, italic and symbol text keep
// Fyne's own small faces. Both styles share one parsed face (about 8 MB
// of memory) through ui/third_party/fyne.patch; unpatched Fyne parses it
// once per style.
func (t *Theme) Font(s fyne.TextStyle) fyne.Resource {
	if s.Monospace || s.Italic || s.Symbol {
		return t.Theme.Font(s)
	}
	return cjkFont
}

// Color, Icon and Size are the default theme's, but for green text on the
// light theme: Fyne's success green #43f436 on white is 1.5:1 ("注册成功" was
// hard to read); this one is 5.1:1 (WCAG AA asks 4.5).
func (t *Theme) Color(n fyne.ThemeColorName, v fyne.ThemeVariant) color.Color {
	if n == theme.ColorNameSuccess && v == theme.VariantLight {
		return color.NRGBA{0x1b, 0x7f, 0x3a, 0xff}
	}
	return t.Theme.Color(n, v)
}
