package material

import (
	"bytes"
	"errors"
	"testing"

	"certdesk/app/material/testimg"
)

// sequentialBases are valid files of every sequential layout checkEntropy
// reads, made by image/jpeg and ImageMagick (libjpeg-turbo).
func sequentialBases(t *testing.T) map[string][]byte {
	page := testimg.JPEG(testimg.Scan(400, 560, 7), 80, 200)
	return map[string][]byte{
		"baseline 4:2:0":                   page,
		"odd size":                         testimg.JPEG(testimg.Scan(397, 555, 9), 90, 200),
		"gray":                             encode(t, toGray(testimg.Scan(300, 420, 8)), 85),
		"restart intervals":                jpegtran(t, page, "-restart", "4B"),
		"one scan per component":           jpegtran(t, page, "-scans", "0;\n1;\n2;\n"),
		"one scan per component, restarts": jpegtran(t, page, "-scans", "0;\n2;\n1;\n", "-restart", "3B"),
		"4:4:4":                            magick(t, page, "-sampling-factor", "1x1"),
		"4:2:2":                            magick(t, page, "-sampling-factor", "2x1"),
		"cmyk":                             magick(t, page, "-colorspace", "CMYK"),
		"optimised tables":                 magick(t, page, "-define", "jpeg:optimize-coding=true"),
	}
}

func TestCheckEntropyReadsValidFiles(t *testing.T) {
	for name, b := range sequentialBases(t) {
		if err := checkEntropy(b); err != nil {
			t.Errorf("%s: refused a valid file: %v", name, err)
		}
	}
	page := testimg.JPEG(testimg.Scan(400, 560, 7), 80, 200)
	if err := checkEntropy(magick(t, page, "-interlace", "JPEG")); !errors.Is(err, errNotSequential) {
		t.Errorf("progressive: %v, want errNotSequential", err)
	}
}

// TestCheckEntropyRefuses names each kind of damage that makes a file
// unreadable and checks it is refused.
func TestCheckEntropyRefuses(t *testing.T) {
	page := testimg.JPEG(testimg.Scan(400, 560, 7), 80, 200)
	rst := jpegtran(t, page, "-restart", "4B")
	_, sos, err := walkSegments(page)
	if err != nil {
		t.Fatal(err)
	}
	// Swap the numbers of the first two restart markers.
	swapped := append([]byte(nil), rst...)
	if i := bytes.Index(swapped, []byte{0xFF, 0xD0}); i > 0 {
		j := bytes.Index(swapped[i+2:], []byte{0xFF, 0xD1}) + i + 2
		swapped[i+1], swapped[j+1] = 0xD1, 0xD0
	} else {
		t.Fatal("no restart marker in the restart-interval file")
	}
	// All-ones bits are never a valid Huffman code.
	ones := append([]byte(nil), page[:sos]...)
	for range 64 {
		ones = append(ones, 0xFF, 0x00)
	}
	ones = append(ones, 0xFF, 0xD9)
	cases := map[string][]byte{
		"truncated in the data":        page[:sos+(len(page)-sos)/2],
		"truncated before EOI":         page[:len(page)-2],
		"data cut and EOI appended":    append(append([]byte(nil), page[:sos+(len(page)-sos)/2]...), 0xFF, 0xD9),
		"marker inside the data":       append(append(append([]byte(nil), page[:sos+100]...), 0xFF, 0xE5, 0, 4, 1, 2), page[sos+100:]...),
		"bad Huffman code":             ones,
		"restart markers out of order": swapped,
		"no scan":                      append(append([]byte(nil), page[:sos-14]...), 0xFF, 0xD9),
		"not a JPEG":                   []byte("GIF89a........"),
	}
	for name, b := range cases {
		if err := checkEntropy(b); err == nil {
			t.Errorf("%s: passed", name)
		} else {
			t.Logf("%s: %v", name, err)
		}
	}
}
