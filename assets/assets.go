// Package assets holds what CertDesk embeds: the CJK font and the UI
// translations (zh-CN first, English second); icons and the agreement text
// come with the later screens.
package assets

import "embed"

// CJKFont is Noto Sans CJK SC, subset to what CertDesk shows (see
// fonts/README.md): embedded so that no Chinese character is ever a box,
// whatever fonts the Windows PC has.
//
//go:embed fonts/NotoSansSC-CertDesk.otf
var CJKFont []byte

// PDFFont is WenQuanYi Micro Hei (TrueType), embedded and subset into the
// printed acceptance form (see fonts/README.md).
//
//go:embed fonts/WQYMicroHei.ttf
var PDFFont []byte

// PDFFallback is Hanazono Mincho A subset to the characters of the BMP's
// CJK blocks that WenQuanYi lacks, CJK Extension A first among them (䶮):
// the form's second face (see fonts/README.md).
//
//go:embed fonts/HanaMinA-CertDesk.ttf
var PDFFallback []byte

// Translations are Fyne lang files, one per locale.
//
//go:embed translations/*.json
var Translations embed.FS
