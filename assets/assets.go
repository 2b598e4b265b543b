// Package assets holds what CertDesk embeds: UI translations (zh-CN first,
// English second) and, with later screens, fonts, icons and the agreement
// text.
package assets

import "embed"

// Translations are Fyne lang files, one per locale.
//
//go:embed translations/*.json
var Translations embed.FS
