package ui

import (
	"image/color"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/canvas"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/layout"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"
	qrcode "github.com/skip2/go-qrcode"
)

// Small widgets more than one screen uses.

// qrImage renders payload as a QR code of side px pixels.
func qrImage(payload string, px float32) fyne.CanvasObject {
	q, err := qrcode.New(payload, qrcode.Medium)
	if err != nil {
		return widget.NewLabel(payload)
	}
	img := canvas.NewImageFromImage(q.Image(512))
	img.FillMode = canvas.ImageFillContain
	img.ScaleMode = canvas.ImageScalePixels
	img.SetMinSize(fyne.NewSize(px, px))
	return img
}

// copyable is a value the user will type into their bank's site: shown,
// with a button that copies it.
func copyable(v string, w fyne.Window) fyne.CanvasObject {
	l := widget.NewLabel(v)
	l.Wrapping = fyne.TextWrapWord
	b := widget.NewButton(T("pay.copy"), func() {
		if w != nil {
			w.Clipboard().SetContent(v)
		}
	})
	return container.NewBorder(nil, nil, nil, b, l)
}

// chip is a rounded label: text in fg on bg, with an outline when given.
func chip(text string, bg, fg, outline color.Color) fyne.CanvasObject {
	r := canvas.NewRectangle(bg)
	r.CornerRadius = theme.InputRadiusSize()
	if outline != nil {
		r.StrokeColor, r.StrokeWidth = outline, 1
	}
	t := canvas.NewText(text, fg)
	t.TextSize = theme.TextSize()
	return container.NewStack(r, container.New(layout.NewCustomPaddedLayout(4, 4, 6, 6), t))
}
