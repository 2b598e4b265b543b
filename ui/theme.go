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
// than embedding a second 11 MB font).
type Theme struct{ fyne.Theme }

// NewTheme wraps the default theme.
func NewTheme() *Theme { return &Theme{Theme: theme.DefaultTheme()} }

// Font returns the embedded CJK face.
func (t *Theme) Font(fyne.TextStyle) fyne.Resource { return cjkFont }

// Color, Icon and Size are the default theme's.
func (t *Theme) Color(n fyne.ThemeColorName, v fyne.ThemeVariant) color.Color {
	return t.Theme.Color(n, v)
}
