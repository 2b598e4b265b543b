package material

import (
	"image"
	"math/rand/v2"
	"testing"

	"certdesk/app/material/testimg"
)

// TestVerifyAgreesWithImageJPEG holds the server's fast verifier to the
// client's verdict: for valid files of every layout we accept, and for the
// same files truncated and with corrupted entropy data, whatever image/jpeg
// (the client's decoder on Windows) reads in full, verifyJPEG passes, and
// every truncated file is refused. Where verifyJPEG is the more lenient
// (libjpeg-turbo decodes some damaged files image/jpeg refuses) the count
// is logged.
func TestVerifyAgreesWithImageJPEG(t *testing.T) {
	page := testimg.JPEG(testimg.Scan(400, 560, 7), 80, 200)
	gray := encode(t, toGray(testimg.Scan(300, 420, 8)), 85)
	bases := []struct {
		name string
		b    []byte
	}{
		{"baseline 4:2:0", page},
		{"gray", gray},
		{"progressive", magick(t, page, "-interlace", "JPEG")},
		{"restart intervals", jpegtran(t, page, "-restart", "4B")},
		{"4:4:4", magick(t, page, "-sampling-factor", "1x1")},
		{"cmyk", magick(t, page, "-colorspace", "CMYK")},
	}
	rng := rand.New(rand.NewPCG(1, 2))
	for _, base := range bases {
		if err := verifyJPEG(base.b); err != nil {
			t.Fatalf("%s: %s refused a valid file: %v", base.name, verifier, err)
		}
		_, sos, err := walkSegments(base.b)
		if err != nil {
			t.Fatalf("%s: %v", base.name, err)
		}
		cases := [][]byte{}
		for i := 0; i < 40; i++ { // truncated anywhere in the image data
			cases = append(cases, base.b[:sos+rng.IntN(len(base.b)-sos)])
		}
		for i := 0; i < 120; i++ { // one to three corrupted bytes
			c := append([]byte(nil), base.b...)
			for n := 1 + rng.IntN(3); n > 0; n-- {
				c[sos+rng.IntN(len(c)-sos-2)] = byte(rng.IntN(256))
			}
			cases = append(cases, c)
		}
		lenient, refused := 0, 0
		for i, c := range cases {
			_, full := decodeJPEG(c)
			fast := verifyJPEG(c)
			switch {
			case full == nil && fast != nil:
				t.Errorf("%s case %d (%d bytes): image/jpeg reads it, %s refuses: %v", base.name, i, len(c), verifier, fast)
			case i < 40 && fast == nil:
				t.Errorf("%s: truncated to %d of %d bytes and passed", base.name, len(c), len(base.b))
			case full != nil && fast == nil:
				lenient++
			}
			if fast != nil {
				refused++
			}
		}
		t.Logf("%s: %d damaged files, %d refused, %d passed that image/jpeg refuses", base.name, len(cases), refused, lenient)
	}
}

func toGray(img image.Image) *image.Gray {
	g := image.NewGray(img.Bounds())
	for y := img.Bounds().Min.Y; y < img.Bounds().Max.Y; y++ {
		for x := img.Bounds().Min.X; x < img.Bounds().Max.X; x++ {
			g.Set(x, y, img.At(x, y))
		}
	}
	return g
}

func BenchmarkVerify(b *testing.B) {
	page := testimg.JPEG(testimg.Scan(1654, 2339, 100), 80, 200) // A4 at 200 DPI
	b.Run(verifier, func(b *testing.B) {
		b.SetBytes(int64(len(page)))
		for b.Loop() {
			if err := verifyJPEG(page); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run(verifier+" parallel", func(b *testing.B) {
		b.SetBytes(int64(len(page)))
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if err := verifyJPEG(page); err != nil {
					b.Error(err)
				}
			}
		})
	})
	b.Run("image/jpeg full decode", func(b *testing.B) {
		b.SetBytes(int64(len(page)))
		for b.Loop() {
			if _, err := decodeJPEG(page); err != nil {
				b.Fatal(err)
			}
		}
	})
}
