// Package material inspects and repairs the JPEG scans an applicant uploads:
// it reads the real bytes (never the file name), finds what the CA would
// refuse — wrong format, too large, too low a density, CMYK, a corrupt
// file — and says so in words, then repairs what can be repaired and reports
// before and after. It has no knowledge of files, networks or the UI.
package material

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"image"
	"image/jpeg"
	"math"
)

// Format is the real format of a file, from its first bytes.
type Format string

const (
	FormatJPEG    Format = "jpeg"
	FormatPNG     Format = "png"
	FormatGIF     Format = "gif"
	FormatBMP     Format = "bmp"
	FormatTIFF    Format = "tiff"
	FormatWebP    Format = "webp"
	FormatHEIC    Format = "heic"
	FormatPDF     Format = "pdf"
	FormatEmpty   Format = "empty"
	FormatUnknown Format = "unknown"
)

// Sniff names the format of data from its signature.
func Sniff(b []byte) Format {
	switch {
	case len(b) == 0:
		return FormatEmpty
	case len(b) >= 3 && b[0] == 0xFF && b[1] == 0xD8 && b[2] == 0xFF:
		return FormatJPEG
	case bytes.HasPrefix(b, []byte("\x89PNG\r\n\x1a\n")):
		return FormatPNG
	case bytes.HasPrefix(b, []byte("GIF87a")) || bytes.HasPrefix(b, []byte("GIF89a")):
		return FormatGIF
	case bytes.HasPrefix(b, []byte("BM")) && len(b) >= 26:
		return FormatBMP
	case bytes.HasPrefix(b, []byte("II*\x00")) || bytes.HasPrefix(b, []byte("MM\x00*")):
		return FormatTIFF
	case len(b) >= 12 && bytes.Equal(b[:4], []byte("RIFF")) && bytes.Equal(b[8:12], []byte("WEBP")):
		return FormatWebP
	case bytes.HasPrefix(b, []byte("%PDF-")):
		return FormatPDF
	case len(b) >= 12 && bytes.Equal(b[4:8], []byte("ftyp")):
		// ISO BMFF: HEIC/HEIF from iPhones and newer Android phones.
		switch string(b[8:12]) {
		case "heic", "heix", "hevc", "hevx", "heim", "heis", "mif1", "msf1", "avif":
			return FormatHEIC
		}
	}
	return FormatUnknown
}

// Density is a declared resolution.
type Density struct {
	X, Y float64 // dots per inch
	// Unit as written in the file: "inch", "cm", or "none" (JFIF aspect
	// ratio only, which declares no density).
	Unit string
}

// DPI is the smaller axis, the one that decides whether a rule is met.
func (d Density) DPI() float64 { return math.Min(d.X, d.Y) }

// Info is everything the inspector learnt about a file.
type Info struct {
	Format      Format   `json:"format"`
	Bytes       int64    `json:"bytes"`
	Width       int      `json:"width"`
	Height      int      `json:"height"`
	Components  int      `json:"components"`            // 1 gray, 3 colour, 4 CMYK/YCCK
	ColorSpace  string   `json:"color_space,omitempty"` // gray, ycbcr, rgb, cmyk, ycck
	Progressive bool     `json:"progressive"`
	Variant     string   `json:"variant,omitempty"` // baseline, extended, progressive, lossless, arithmetic
	JFIF        *Density `json:"jfif_density,omitempty"`
	EXIF        *Density `json:"exif_density,omitempty"`
	// DPI is the density this file declares: the lower of JFIF and EXIF
	// when both are present (see DPISource), 0 when none is.
	DPI         float64 `json:"dpi"`
	DPISource   string  `json:"dpi_source,omitempty"` // jfif, exif, both, ""
	Orientation int     `json:"orientation"`          // EXIF 1..8, 0 when absent
	HasEXIF     bool    `json:"has_exif"`
	HasGPS      bool    `json:"has_gps"`
	Decoded     bool    `json:"decoded"`
	DecodeError string  `json:"decode_error,omitempty"`
	EXIFError   string  `json:"exif_error,omitempty"`
	// TrailingBytes follow the end-of-image marker and are not padding:
	// another file riding along (see imageEnd). Repair cuts them.
	TrailingBytes int64 `json:"trailing_bytes,omitempty"`
}

// MaxPixels bounds what is decoded. A decoder allocates the whole image
// from the dimensions in the header before reading any pixel, so a 2 MB file
// claiming 65535×65535 pixels would take 12 GB. 120 megapixels admits the
// largest phone cameras (108 MP) and a 600 DPI A3 scan.
const MaxPixels = 120_000_000

// Inspect reads a file's bytes and decodes every block of the image to catch
// truncated and corrupt files. It never fails: what it could not read is
// recorded in the Info, and Check turns that into problems.
func Inspect(b []byte) Info {
	info, _ := inspect(b, false, MaxPixels)
	return info
}

// inspect checks that the whole image decodes; with wantImage it returns
// the decoded image too, so Repair decodes only once. Without it, the check
// is verifyJPEG, which on Linux skips the pixel reconstruction. Images over
// maxPixels are not decoded.
func inspect(b []byte, wantImage bool, maxPixels int) (info Info, img image.Image) {
	info.Bytes = int64(len(b))
	info.Format = Sniff(b)
	if info.Format != FormatJPEG {
		if cfg, _, err := image.DecodeConfig(bytes.NewReader(b)); err == nil {
			info.Width, info.Height = cfg.Width, cfg.Height
		}
		return info, nil
	}
	segs, _, err := walkSegments(b)
	if err != nil {
		info.DecodeError = err.Error()
	}
	var adobeTransform = -1
	for _, s := range segs {
		switch {
		case s.marker == mAPP0:
			if u, x, y, ok := jfifDensity(s.data); ok && info.JFIF == nil {
				info.JFIF = jfifToDensity(u, x, y)
			}
		case s.marker == mAPP1 && bytes.HasPrefix(s.data, exifPrefix):
			info.HasEXIF = true
			readEXIF(s.data[len(exifPrefix):], &info)
		case s.marker == mAPP14 && len(s.data) >= 12 && bytes.HasPrefix(s.data, []byte("Adobe")):
			adobeTransform = int(s.data[11])
		case isSOF(s.marker):
			readSOF(s.marker, s.data, &info)
		}
	}
	info.ColorSpace = colorSpace(info.Components, adobeTransform)
	info.TrailingBytes = int64(trailingBytes(b))
	info.DPI, info.DPISource = effectiveDPI(info.JFIF, info.EXIF)
	if info.DecodeError != "" || info.Width*info.Height > maxPixels {
		return info, nil
	}
	if !wantImage {
		if err := verifyJPEG(b); err != nil {
			info.DecodeError = err.Error()
			return info, nil
		}
		info.Decoded = true
		return info, nil
	}
	img, err = decodeJPEG(b)
	if err != nil {
		info.DecodeError = err.Error()
		return info, nil
	}
	info.Decoded = true
	return info, img
}

// decodeJPEG decodes with image/jpeg, turning its rare panics on hostile
// input into errors.
func decodeJPEG(b []byte) (img image.Image, err error) {
	defer func() {
		if r := recover(); r != nil {
			img, err = nil, fmt.Errorf("decoder failed: %v", r)
		}
	}()
	return jpeg.Decode(bytes.NewReader(b))
}

func isSOF(m byte) bool {
	return m >= 0xC0 && m <= 0xCF && m != 0xC4 && m != 0xC8 && m != 0xCC
}

func readSOF(m byte, p []byte, info *Info) {
	if len(p) < 6 || info.Width != 0 {
		return
	}
	info.Height = int(binary.BigEndian.Uint16(p[1:]))
	info.Width = int(binary.BigEndian.Uint16(p[3:]))
	info.Components = int(p[5])
	switch m {
	case 0xC0:
		info.Variant = "baseline"
	case 0xC1:
		info.Variant = "extended"
	case 0xC2:
		info.Variant, info.Progressive = "progressive", true
	case 0xC3, 0xC7, 0xCB, 0xCF:
		info.Variant = "lossless"
	default:
		info.Variant = "arithmetic"
		if m == 0xC6 || m == 0xCA || m == 0xCE {
			info.Progressive = true
		}
	}
}

func colorSpace(components, adobeTransform int) string {
	switch components {
	case 1:
		return "gray"
	case 3:
		if adobeTransform == 0 {
			return "rgb"
		}
		return "ycbcr"
	case 4:
		if adobeTransform == 2 {
			return "ycck"
		}
		return "cmyk"
	}
	return ""
}

func jfifToDensity(units byte, x, y uint16) *Density {
	switch units {
	case 1:
		return &Density{X: float64(x), Y: float64(y), Unit: "inch"}
	case 2:
		return &Density{X: float64(x) * 2.54, Y: float64(y) * 2.54, Unit: "cm"}
	}
	// Units 0 is a pixel aspect ratio: no density at all.
	return &Density{Unit: "none"}
}

// effectiveDPI decides what the file declares. A CA's checker may read
// either JFIF or EXIF (ImageMagick lets EXIF win: JFIF 300 with EXIF 72 is
// "72" to identify; other readers take JFIF), so a file passes only if
// both do: the lower of the two is the density we report.
func effectiveDPI(j, e *Density) (float64, string) {
	jd, ed := 0.0, 0.0
	if j != nil {
		jd = j.DPI()
	}
	if e != nil {
		ed = e.DPI()
	}
	switch {
	case jd > 0 && ed > 0:
		return math.Min(jd, ed), "both"
	case jd > 0:
		return jd, "jfif"
	case ed > 0:
		return ed, "exif"
	}
	return 0, ""
}
