package material

import (
	"bytes"
	"encoding/binary"
	"image"
	"image/jpeg"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"certdesk/app/material/testimg"
)

var (
	scanImage  = testimg.Scan
	photoImage = testimg.Photo
)

func encode(t testing.TB, img image.Image, q int) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := jpeg.Encode(&buf, img, &jpeg.Options{Quality: q}); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// withJFIF inserts a JFIF APP0 segment with the given units and density.
func withJFIF(b []byte, units byte, x, y uint16) []byte {
	seg := []byte{0xFF, 0xE0, 0, 16, 'J', 'F', 'I', 'F', 0, 1, 1, units, 0, 0, 0, 0, 0, 0}
	binary.BigEndian.PutUint16(seg[12:], x)
	binary.BigEndian.PutUint16(seg[14:], y)
	return splice(b, seg)
}

type exifSpec struct {
	xres, yres  uint32 // numerator over 1; 0 = absent
	unit        uint16 // 0 = absent
	orientation uint16 // 0 = absent
	gps         bool
}

// withEXIF inserts a little-endian EXIF APP1 segment with IFD0 holding the
// tags of spec, and a GPS IFD with a latitude when spec.gps.
func withEXIF(b []byte, spec exifSpec) []byte {
	type entry struct {
		tag, typ uint16
		count    uint32
		val      []byte // inline (<=4 bytes) or out of line
	}
	le := binary.LittleEndian
	u16 := func(v uint16) []byte { b := make([]byte, 2); le.PutUint16(b, v); return b }
	rat := func(n uint32) []byte { b := make([]byte, 8); le.PutUint32(b, n); le.PutUint32(b[4:], 1); return b }
	var es []entry
	if spec.orientation != 0 {
		es = append(es, entry{0x0112, 3, 1, u16(spec.orientation)})
	}
	if spec.xres != 0 {
		es = append(es, entry{0x011A, 5, 1, rat(spec.xres)})
	}
	if spec.yres != 0 {
		es = append(es, entry{0x011B, 5, 1, rat(spec.yres)})
	}
	if spec.unit != 0 {
		es = append(es, entry{0x0128, 3, 1, u16(spec.unit)})
	}
	if spec.gps {
		es = append(es, entry{0x8825, 4, 1, nil}) // offset patched below
	}
	tiff := []byte{'I', 'I', 42, 0, 8, 0, 0, 0}
	ifdSize := 2 + 12*len(es) + 4
	extra := 8 + ifdSize // where out-of-line values go
	var ifd, data []byte
	ifd = append(ifd, u16(uint16(len(es)))...)
	gpsAt := 0
	for _, e := range es {
		ifd = append(ifd, u16(e.tag)...)
		ifd = append(ifd, u16(e.typ)...)
		c := make([]byte, 4)
		le.PutUint32(c, e.count)
		ifd = append(ifd, c...)
		v := make([]byte, 4)
		switch {
		case e.tag == 0x8825:
			gpsAt = len(ifd)
		case len(e.val) <= 4:
			copy(v, e.val)
		default:
			le.PutUint32(v, uint32(extra+len(data)))
			data = append(data, e.val...)
		}
		ifd = append(ifd, v...)
	}
	ifd = append(ifd, 0, 0, 0, 0)
	tiff = append(tiff, ifd...)
	tiff = append(tiff, data...)
	if spec.gps {
		gpsOff := len(tiff)
		le.PutUint32(tiff[8+gpsAt:], uint32(gpsOff))
		// GPS IFD: GPSLatitudeRef "N".
		g := append(u16(1), u16(0x0001)...)
		g = append(g, u16(2)...)
		g = append(g, 2, 0, 0, 0, 'N', 0, 0, 0, 0, 0, 0, 0)
		tiff = append(tiff, g...)
	}
	payload := append([]byte("Exif\x00\x00"), tiff...)
	seg := []byte{0xFF, 0xE1, 0, 0}
	binary.BigEndian.PutUint16(seg[2:], uint16(len(payload)+2))
	return splice(b, append(seg, payload...))
}

// splice puts a segment right after SOI.
func splice(b, seg []byte) []byte {
	out := append([]byte{}, b[:2]...)
	out = append(out, seg...)
	return append(out, b[2:]...)
}

// magick runs ImageMagick for the variants image/jpeg cannot write
// (progressive, CMYK). The README's test command installs it; on a machine
// without it the test is skipped, except in CI where it must be there.
func magick(t testing.TB, in []byte, args ...string) []byte {
	t.Helper()
	return runTool(t, "convert", in, func(src, dst string) []string {
		return append(append([]string{src}, args...), dst)
	})
}

// jpegtran (libjpeg-turbo-progs) rewrites a JPEG losslessly into layouts
// neither image/jpeg nor ImageMagick 6 writes: restart intervals
// ("-restart 4B") and one sequential scan per component ("-scans" with a
// script). A "-scans" argument is followed by the script's text.
func jpegtran(t testing.TB, in []byte, args ...string) []byte {
	t.Helper()
	return runTool(t, "jpegtran", in, func(src, dst string) []string {
		var out []string
		for i := 0; i < len(args); i++ {
			out = append(out, args[i])
			if args[i] == "-scans" && i+1 < len(args) {
				script := filepath.Join(filepath.Dir(dst), "scans.txt")
				if err := os.WriteFile(script, []byte(args[i+1]), 0o644); err != nil {
					t.Fatal(err)
				}
				out = append(out, script)
				i++
			}
		}
		return append(out, "-outfile", dst, src)
	})
}

// runTool runs an image tool from the test command's Debian packages on
// in; skipped where it is missing, except in CI where it must be there.
func runTool(t testing.TB, tool string, in []byte, argv func(src, dst string) []string) []byte {
	t.Helper()
	if _, err := exec.LookPath(tool); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("%s is required in CI: %v", tool, err)
		}
		t.Skipf("%s not installed", tool)
	}
	dir := t.TempDir()
	src, dst := filepath.Join(dir, "in.jpg"), filepath.Join(dir, "out.jpg")
	if err := os.WriteFile(src, in, 0o644); err != nil {
		t.Fatal(err)
	}
	args := argv(src, dst)
	if out, err := exec.Command(tool, args...).CombinedOutput(); err != nil {
		t.Fatalf("%s %v: %v\n%s", tool, args, err, out)
	}
	b, err := os.ReadFile(dst)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// exiftool writes EXIF the way cameras and photo tools do (big-endian by
// default), as a reference for our reader. Required in CI like magick.
func exiftool(t testing.TB, in []byte, args ...string) []byte {
	t.Helper()
	if _, err := exec.LookPath("exiftool"); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("exiftool is required in CI: %v", err)
		}
		t.Skip("exiftool not installed")
	}
	p := filepath.Join(t.TempDir(), "x.jpg")
	if err := os.WriteFile(p, in, 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("exiftool", append(append([]string{"-q", "-overwrite_original"}, args...), p)...)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("exiftool %v: %v\n%s", args, err, out)
	}
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
