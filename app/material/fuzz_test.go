package material

import (
	"bytes"
	"runtime"
	"testing"
	"time"
)

// FuzzInspect feeds arbitrary bytes to the inspector and the checker: they
// must never panic, never read out of bounds and stay self-consistent. The
// seed corpus (testdata/fuzz/FuzzInspect) holds the generated variants of
// the unit tests; `go test -fuzz FuzzInspect ./app/material` grows it.
func FuzzInspect(f *testing.F) {
	page := encode(f, scanImage(120, 170, 1), 80)
	f.Add(page)
	f.Add(withJFIF(page, 1, 100, 100))
	f.Add(withJFIF(page, 2, 40, 40))
	f.Add(withEXIF(page, exifSpec{xres: 300, yres: 300, unit: 2, orientation: 6, gps: true}))
	f.Add(withEXIF(withJFIF(page, 1, 300, 300), exifSpec{xres: 72, unit: 3}))
	f.Add(page[:len(page)/2])
	f.Add([]byte("\x89PNG\r\n\x1a\n"))
	f.Add([]byte{0xFF, 0xD8, 0xFF})
	f.Fuzz(func(t *testing.T, b []byte) {
		watchdog := time.AfterFunc(5*time.Second, func() {
			buf := make([]byte, 1<<20)
			n := runtime.Stack(buf, true)
			panic("input took over 5 s:\n" + string(buf[:n]))
		})
		defer watchdog.Stop()
		// A small decode limit keeps each run fast; the decoder path is the
		// same as at MaxPixels.
		info, img := inspect(b, true, 1<<20)
		if info.Decoded != (img != nil) {
			t.Fatalf("decoded flag %v with image %v", info.Decoded, img != nil)
		}
		// The server's verifier (libjpeg on Linux) must pass whatever the
		// client's decoder (image/jpeg, the only one on Windows) reads.
		if vi, _ := inspect(b, false, 1<<20); info.Decoded && !vi.Decoded {
			t.Fatalf("verifier %s says decoded=%v (%s), image/jpeg says %v (%s)", verifier, vi.Decoded, vi.DecodeError, info.Decoded, info.DecodeError)
		}
		if info.Bytes != int64(len(b)) {
			t.Fatalf("size %d for %d bytes", info.Bytes, len(b))
		}
		v := Check(info, docRule)
		if v.OK() && (info.Format != FormatJPEG || !info.Decoded) {
			t.Fatalf("accepted an undecoded or non-JPEG file: %+v", info)
		}
		if info.Format == FormatJPEG && info.DecodeError == "" {
			// The metadata rewrite must keep the image data byte for byte.
			out, err := rewriteMetadata(b, 100)
			if err != nil {
				return
			}
			_, sosA, errA := walkSegments(b)
			_, sosB, errB := walkSegments(out)
			if errA != nil || errB != nil || !bytes.Equal(b[sosA:], out[sosB:]) {
				t.Fatalf("rewrite changed the image data: %v %v", errA, errB)
			}
		}
	})
}
