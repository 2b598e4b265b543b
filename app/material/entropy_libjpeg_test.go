//go:build cgo && linux

package material

import (
	"bytes"
	"fmt"
	"image/jpeg"
	"math/rand/v2"
	"testing"

	"certdesk/app/material/testimg"
)

// TestCheckEntropyAgreesWithLibjpeg runs both over the same damaged files
// (truncated anywhere, one to three bytes of the image data changed) of
// every sequential layout. checkEntropy must never pass what libjpeg
// refuses; without restart intervals the verdicts must be the same on every
// file. Within restart intervals checkEntropy is the stricter: libjpeg
// drops the rest of an interval whose blocks ended early with only a
// warning it calls extraneous data, checkEntropy refuses it (and
// verifyJPEG then asks image/jpeg, which resynchronises too).
func TestCheckEntropyAgreesWithLibjpeg(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	for name, base := range sequentialBases(t) {
		_, sos, err := walkSegments(base)
		if err != nil {
			t.Fatal(err)
		}
		restarts := bytes.Contains(base[:sos], []byte{0xFF, 0xDD})
		refused, stricter := 0, 0
		for i := range 300 {
			c := append([]byte(nil), base...)
			if i < 60 {
				c = c[:sos+rng.IntN(len(c)-sos)]
			} else {
				for n := 1 + rng.IntN(3); n > 0; n-- {
					c[sos+rng.IntN(len(c)-sos-2)] = byte(rng.IntN(256))
				}
			}
			ours, theirs := checkEntropy(c), libjpegVerify(c)
			switch {
			case ours == nil && theirs != nil:
				t.Errorf("%s case %d: checkEntropy passed what libjpeg refuses: %v", name, i, theirs)
			case ours != nil && theirs == nil && restarts:
				stricter++
			case ours != nil && theirs == nil:
				t.Errorf("%s case %d: checkEntropy refused what libjpeg reads: %v", name, i, ours)
			}
			if ours != nil {
				refused++
			}
		}
		t.Logf("%s: 300 damaged files, %d refused (%d of them read by libjpeg)", name, refused, stricter)
	}
}

func FuzzCheckEntropy(f *testing.F) {
	f.Add(testimg.JPEG(testimg.Scan(64, 48, 1), 80, 200))
	f.Fuzz(func(t *testing.T, b []byte) {
		if _, err := jpeg.DecodeConfig(bytes.NewReader(b)); err != nil {
			return // verifyJPEG refuses it before checkEntropy
		}
		var c entropyChecker
		if c.check(b) == nil {
			if _, err := decodeJPEG(b); err != nil && libjpegVerify(b) != nil {
				t.Fatalf("passed a file neither image/jpeg nor libjpeg reads: %v", err)
			}
		}
	})
}

// BenchmarkCheckEntropy compares checkEntropy with libjpeg-turbo's 1/8
// scale decode (what the server used before) on an A4 scan, same run:
//
//	go test -run '^$' -bench CheckEntropy ./app/material
func BenchmarkCheckEntropy(b *testing.B) {
	page := testimg.JPEG(testimg.Scan(1654, 2339, 100), 80, 200) // A4 at 200 DPI
	for _, v := range []struct {
		name string
		f    func([]byte) error
	}{{"entropy check", checkEntropy}, {"libjpeg-turbo 1/8 scale", libjpegVerify},
		// The end-of-image walk that finds bytes after EOI: a second
		// pass over every upload, measured beside the check it joins.
		{"trailing-data walk", func(b []byte) error {
			if n := trailingBytes(b); n != 0 {
				return fmt.Errorf("%d trailing bytes in a clean page", n)
			}
			return nil
		}}} {
		b.Run(v.name, func(b *testing.B) {
			b.SetBytes(int64(len(page)))
			for b.Loop() {
				if err := v.f(page); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
