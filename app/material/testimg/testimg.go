// Package testimg generates real images for tests and benchmarks: scans
// of A4 pages and camera-like photos, deterministic for a seed. It is
// imported only by _test files.
package testimg

import (
	"bytes"
	"image"
	"image/color"
	"image/jpeg"
	"math"
	"math/rand/v2"
)

// Scan draws an A4-like page: white paper with grey noise, lines of
// dark "text" strokes and a red stamp, the content of a real scan.
func Scan(w, h int, seed uint64) *image.RGBA {
	r := rand.New(rand.NewPCG(seed, 7))
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			v := uint8(244)
			if r.IntN(8) == 0 {
				v = uint8(236 + r.IntN(12)) // paper grain
			}
			img.Pix[y*img.Stride+x*4+0] = v
			img.Pix[y*img.Stride+x*4+1] = v
			img.Pix[y*img.Stride+x*4+2] = v - 4
			img.Pix[y*img.Stride+x*4+3] = 255
		}
	}
	line := max(h/60, 8)
	for y := line * 3; y < h-line*3; y += line * 2 {
		for x := w / 10; x < w-w/10; {
			glyph := line/2 + r.IntN(line)
			for gy := 0; gy < line; gy++ {
				for gx := 0; gx < glyph; gx++ {
					if r.IntN(3) == 0 {
						set(img, x+gx, y+gy, color.RGBA{20, 20, 30, 255})
					}
				}
			}
			x += glyph + line/3
		}
	}
	cx, cy, rad := w*3/4, h*4/5, float64(w)/10
	for y := cy - int(rad); y < cy+int(rad); y++ {
		for x := cx - int(rad); x < cx+int(rad); x++ {
			d := math.Hypot(float64(x-cx), float64(y-cy))
			if d < rad && (d > rad*0.85 || r.IntN(6) == 0) {
				set(img, x, y, color.RGBA{200, 30, 40, 255})
			}
		}
	}
	return img
}

// Photo is a camera-like photo: smooth gradients, texture and sensor
// noise, which is what makes phone photos large.
func Photo(w, h int, seed uint64) *image.RGBA {
	r := rand.New(rand.NewPCG(seed, 11))
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			fx, fy := float64(x)/float64(w), float64(y)/float64(h)
			tex := 30 * math.Sin(fx*40+math.Sin(fy*23)*3) * math.Cos(fy*31)
			n := func() float64 { return r.NormFloat64() * 9 }
			o := y*img.Stride + x*4
			img.Pix[o+0] = clamp(120 + 90*fx + tex + n())
			img.Pix[o+1] = clamp(100 + 80*fy - tex/2 + n())
			img.Pix[o+2] = clamp(150 - 60*fx + 40*fy + n())
			img.Pix[o+3] = 255
		}
	}
	return img
}

func clamp(v float64) uint8 {
	return uint8(math.Max(0, math.Min(255, v)))
}

func set(img *image.RGBA, x, y int, c color.RGBA) {
	if image.Pt(x, y).In(img.Rect) {
		img.SetRGBA(x, y, c)
	}
}

// JPEG encodes img at quality q with a JFIF density of dpi (none when 0),
// as a scanner driver writes it.
func JPEG(img image.Image, q int, dpi uint16) []byte {
	var buf bytes.Buffer
	if err := jpeg.Encode(&buf, img, &jpeg.Options{Quality: q}); err != nil {
		panic(err)
	}
	b := buf.Bytes()
	if dpi == 0 {
		return b
	}
	seg := []byte{0xFF, 0xE0, 0, 16, 'J', 'F', 'I', 'F', 0, 1, 1, 1, byte(dpi >> 8), byte(dpi), byte(dpi >> 8), byte(dpi), 0, 0}
	out := append([]byte{}, b[:2]...)
	out = append(out, seg...)
	return append(out, b[2:]...)
}
