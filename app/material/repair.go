package material

import (
	"bytes"
	"errors"
	"fmt"
	"image"
	"image/color"
	"image/draw"
	"image/jpeg"
	"math"
	"sync"

	// Formats an applicant may pick by mistake and that Repair converts.
	_ "image/gif"
	_ "image/png"

	_ "golang.org/x/image/bmp"
	_ "golang.org/x/image/tiff"
	_ "golang.org/x/image/webp"

	"certdesk/app/apply"
)

// ErrNotFixable is returned when a file has a problem only a new scan or a
// new export can solve; the Report's Before verdict says which.
var ErrNotFixable = errors.New("the file cannot be repaired automatically")

// Action is one thing Repair did.
type Action struct {
	Code string     `json:"code"`
	Text apply.Text `json:"text"`
}

// Report describes a repair: the verdict before and after, and what was done.
type Report struct {
	Before  Verdict  `json:"before"`
	After   Verdict  `json:"after"`
	Actions []Action `json:"actions"`
	// Quality is the JPEG quality chosen when the image was re-encoded,
	// 0 when the pixels were kept byte for byte.
	Quality int `json:"quality,omitempty"`
}

// Qualities tried when re-encoding. Above 95 a JPEG roughly doubles in size
// for no difference a reviewer can see; below 40 text blurs.
const (
	maxQuality = 95
	minQuality = 40
)

// Repair makes a file acceptable for rule where it can: converts other
// formats to JPEG, converts CMYK to RGB, applies the EXIF orientation,
// re-encodes to fit the size limit at the highest quality that fits,
// records the density the rule needs and strips EXIF, GPS and other
// metadata. When only metadata is wrong the image data is kept byte for
// byte. The result is inspected again; Report.After must be OK.
func Repair(b []byte, rule apply.MaterialRule) ([]byte, Report, error) {
	info, img := inspect(b, true, MaxPixels)
	rep := Report{Before: Check(info, rule)}
	if !rep.Before.Fixable() {
		return nil, rep, ErrNotFixable
	}
	maxBytes := rule.MaxBytes
	if maxBytes <= 0 {
		maxBytes = apply.MaxMaterialBytes
	}
	dpi := rule.MinDPI
	if info.DPI >= float64(rule.MinDPI) {
		dpi = int(math.Round(info.DPI)) // keep a higher density that is true
	}
	if dpi <= 0 {
		dpi = apply.DocumentDPI
	}

	if info.TrailingBytes > 0 {
		b = b[:len(b)-int(info.TrailingBytes)]
		info.Bytes = int64(len(b))
		rep.Actions = append(rep.Actions, Action{"trim", apply.Text{ZH: fmt.Sprintf("已去掉图片结尾之后附带的 %s 数据", humanBytes(info.TrailingBytes)), EN: fmt.Sprintf("Cut off %s of data after the end of the picture", humanBytes(info.TrailingBytes))}})
	}
	var out []byte
	reencode := info.Format != FormatJPEG || info.Progressive || info.Orientation > 1 ||
		info.ColorSpace == "cmyk" || info.ColorSpace == "ycck" || info.Bytes > maxBytes
	if !reencode {
		var err error
		out, err = rewriteMetadata(b, dpi)
		if err != nil {
			return nil, rep, fmt.Errorf("rewrite metadata: %w", err)
		}
		reencode = int64(len(out)) > maxBytes // the new header pushed it over
	}
	if reencode {
		if img == nil {
			var err error
			img, _, err = image.Decode(bytes.NewReader(b))
			if err != nil {
				return nil, rep, fmt.Errorf("decode %s: %w", info.Format, err)
			}
		}
		if info.Format != FormatJPEG {
			rep.Actions = append(rep.Actions, Action{"convert", apply.Text{ZH: "已从 " + upper(info.Format) + " 转换为 JPG", EN: "Converted from " + upper(info.Format) + " to JPG"}})
		}
		img = normalise(img, info)
		if info.ColorSpace == "cmyk" || info.ColorSpace == "ycck" {
			rep.Actions = append(rep.Actions, Action{"cmyk", apply.Text{ZH: "已从 CMYK 转换为 RGB 颜色", EN: "Converted CMYK to RGB colour"}})
		}
		if info.Orientation > 1 {
			img = orient(img, info.Orientation)
			rep.Actions = append(rep.Actions, Action{"orient", apply.Text{ZH: "已按拍摄方向把图片转正", EN: "Rotated the image upright"}})
		}
		enc, q, err := encodeToFit(img, maxBytes-int64(len(jfifSegment(dpi))))
		if err != nil {
			return nil, rep, err
		}
		out = insertJFIF(enc, dpi)
		rep.Quality = q
		rep.Actions = append(rep.Actions, Action{"reencode", apply.Text{
			ZH: fmt.Sprintf("已重新压缩为标准 JPG(质量 %d),%s → %s", q, humanBytes(info.Bytes), humanBytes(int64(len(out)))),
			EN: fmt.Sprintf("Re-encoded as a baseline JPEG (quality %d), %s → %s", q, humanBytes(info.Bytes), humanBytes(int64(len(out))))}})
	}
	if math.Abs(info.DPI-float64(dpi)) > 0.5 || info.DPISource == "both" || info.DPISource == "exif" {
		rep.Actions = append(rep.Actions, Action{"dpi", apply.Text{ZH: fmt.Sprintf("分辨率记录为 %d DPI", dpi), EN: fmt.Sprintf("Recorded %d DPI", dpi)}})
	}
	if info.HasEXIF {
		rep.Actions = append(rep.Actions, Action{"strip", apply.Text{ZH: "已删除 EXIF 信息(含拍摄地点等隐私)", EN: "Removed EXIF metadata (location and other private data)"}})
	}
	if len(rep.Actions) == 0 {
		rep.Actions = append(rep.Actions, Action{"none", apply.Text{ZH: "文件已符合要求,无需修改", EN: "The file already meets the rules; nothing changed"}})
	}
	rep.After = CheckBytes(out, rule)
	if !rep.After.OK() {
		return nil, rep, fmt.Errorf("repaired file still fails: %v", rep.After.Problems)
	}
	return out, rep, nil
}

// insertJFIF puts a JFIF density segment right after SOI of a file that
// has none (image/jpeg writes no APP0).
func insertJFIF(enc []byte, dpi int) []byte {
	seg := jfifSegment(dpi)
	out := make([]byte, 0, len(enc)+len(seg))
	out = append(out, enc[:2]...)
	out = append(out, seg...)
	return append(out, enc[2:]...)
}

// normalise returns an image the JPEG encoder takes on its fast paths
// (*image.YCbCr, *image.Gray, *image.RGBA), with transparency flattened on
// white as a scanner would have produced it.
func normalise(img image.Image, info Info) image.Image {
	switch m := img.(type) {
	case *image.YCbCr, *image.Gray:
		return m
	}
	b := img.Bounds()
	dst := image.NewRGBA(image.Rect(0, 0, b.Dx(), b.Dy()))
	draw.Draw(dst, dst.Bounds(), image.NewUniform(color.White), image.Point{}, draw.Src)
	draw.Draw(dst, dst.Bounds(), img, b.Min, draw.Over)
	return dst
}

// orient applies an EXIF orientation (2..8) to the pixels.
func orient(img image.Image, o int) image.Image {
	src := toRGBA(img)
	w, h := src.Rect.Dx(), src.Rect.Dy()
	dw, dh := w, h
	if o >= 5 {
		dw, dh = h, w
	}
	dst := image.NewRGBA(image.Rect(0, 0, dw, dh))
	for y := 0; y < h; y++ {
		row := src.Pix[y*src.Stride:]
		for x := 0; x < w; x++ {
			var dx, dy int
			switch o {
			case 2:
				dx, dy = w-1-x, y
			case 3:
				dx, dy = w-1-x, h-1-y
			case 4:
				dx, dy = x, h-1-y
			case 5:
				dx, dy = y, x
			case 6:
				dx, dy = h-1-y, x
			case 7:
				dx, dy = h-1-y, w-1-x
			case 8:
				dx, dy = y, w-1-x
			default:
				dx, dy = x, y
			}
			copy(dst.Pix[dy*dst.Stride+dx*4:dy*dst.Stride+dx*4+4], row[x*4:x*4+4])
		}
	}
	return dst
}

func toRGBA(img image.Image) *image.RGBA {
	if m, ok := img.(*image.RGBA); ok && m.Rect.Min == (image.Point{}) {
		return m
	}
	b := img.Bounds()
	dst := image.NewRGBA(image.Rect(0, 0, b.Dx(), b.Dy()))
	draw.Draw(dst, dst.Bounds(), img, b.Min, draw.Src)
	return dst
}

// countingWriter measures an encoding without keeping it.
type countingWriter struct{ n int64 }

func (c *countingWriter) Write(p []byte) (int, error) { c.n += int64(len(p)); return len(p), nil }

func encodedSize(img image.Image, q int) int64 {
	var c countingWriter
	_ = jpeg.Encode(&c, img, &jpeg.Options{Quality: q})
	return c.n
}

// encodeToFit finds the highest quality whose encoding fits in limit bytes.
// Encoding is the slow part, so the search runs on a sample of the image
// (every fourth or eighth band of 16 rows, which keeps the local detail the
// size depends on), two qualities at a time on two cores, then confirms on
// the full image.
func encodeToFit(img image.Image, limit int64) ([]byte, int, error) {
	full := func(q int) []byte {
		var buf bytes.Buffer
		_ = jpeg.Encode(&buf, img, &jpeg.Options{Quality: q})
		return buf.Bytes()
	}
	// Small images: when the top quality fits no search is needed. (The
	// size is asked only of small ones: for a large one it was a full
	// encode thrown away, a fifth of the CPU of a fix.)
	if img.Bounds().Dx()*img.Bounds().Dy() < 1<<20 {
		if b := full(maxQuality); int64(len(b)) <= limit {
			return b, maxQuality, nil
		}
	}
	sample, frac := bandSample(img)
	var mu sync.Mutex
	sizes := map[int]int64{} // the sample's encoded size per quality
	sampleSize := func(q int) int64 {
		mu.Lock()
		n, ok := sizes[q]
		mu.Unlock()
		if !ok {
			n = encodedSize(sample, q)
			mu.Lock()
			sizes[q] = n
			mu.Unlock()
		}
		return n
	}
	// 3 % in hand: a page photographed with a phone (print in some bands,
	// paper in others) was under-estimated by 2.8 %, which cost a second
	// full encode; the step up below wins back a margin that was too wide.
	fits := func(q int) bool { return float64(sampleSize(q))/frac <= float64(limit)*0.97 }
	lo, hi := minQuality, maxQuality // invariant: answer in [lo, hi]
	for hi-lo > 1 {
		a := lo + (hi-lo)/3
		b := lo + 2*(hi-lo)/3
		if b == a {
			b = a + 1
		}
		var fa, fb bool
		parallel(func() { fa = fits(a) }, func() { fb = fits(b) })
		switch {
		case fb:
			lo = b
		case fa:
			lo, hi = a, b-1
		default:
			hi = a - 1
		}
		if hi < lo {
			hi = lo
		}
	}
	if hi > lo && fits(hi) {
		lo = hi
	}
	// Confirm on the full image, one encoding at a time, stepping down
	// until one fits: the estimate keeps 3 % in hand, so the first one
	// nearly always does. (Encoding the next quality up beside it on the
	// other core every time cost a full encode's CPU, mostly for nothing.)
	for q := lo; q >= minQuality; q-- {
		b := full(q)
		if int64(len(b)) > limit {
			continue
		}
		// The next quality up is encoded only when the sample says it
		// would fit too, scaled from this one's true size: that is when
		// the 3 % in hand was too much.
		if up := q + 1; up <= maxQuality {
			if est := float64(len(b)) * float64(sampleSize(up)) / float64(sampleSize(q)); est <= float64(limit)*1.005 {
				if c := full(up); int64(len(c)) <= limit {
					return c, up, nil
				}
			}
		}
		return b, q, nil
	}
	return nil, 0, fmt.Errorf("even at quality %d the image is over %s: %w", minQuality, humanBytes(limit), ErrNotFixable)
}

func parallel(a, b func()) {
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { defer wg.Done(); b() }()
	a()
	wg.Wait()
}

// bandSample copies every fourth (eighth) band of 16 rows into a smaller image of
// the same type and returns it with the fraction of pixels it holds.
func bandSample(img image.Image) (image.Image, float64) {
	const band = 16
	b := img.Bounds()
	h := b.Dy()
	// Every fourth band; every eighth for a tall image (a phone photo's
	// 3,024 rows still give 24 bands): the search's encodings were the
	// larger part of a fix's CPU.
	every := 4
	if h >= 2000 {
		every = 8
	}
	if h < band*every*2 || b.Min != (image.Point{}) {
		return img, 1
	}
	var rows []int
	for y := 0; y+band <= h; y += band * every {
		rows = append(rows, y)
	}
	sh := len(rows) * band
	frac := float64(sh) / float64(h)
	switch m := img.(type) {
	case *image.YCbCr:
		s := image.NewYCbCr(image.Rect(0, 0, b.Dx(), sh), m.SubsampleRatio)
		cShift := 0
		switch m.SubsampleRatio {
		case image.YCbCrSubsampleRatio420, image.YCbCrSubsampleRatio440, image.YCbCrSubsampleRatio410:
			cShift = 1
		}
		for i, y := range rows {
			for r := 0; r < band; r++ {
				copy(s.Y[(i*band+r)*s.YStride:][:s.YStride], m.Y[(y+r)*m.YStride:][:s.YStride])
			}
			for r := 0; r < band>>cShift; r++ {
				so := (i*band>>cShift + r) * s.CStride
				mo := ((y >> cShift) + r) * m.CStride
				copy(s.Cb[so:so+s.CStride], m.Cb[mo:mo+s.CStride])
				copy(s.Cr[so:so+s.CStride], m.Cr[mo:mo+s.CStride])
			}
		}
		return s, frac
	case *image.Gray:
		s := image.NewGray(image.Rect(0, 0, b.Dx(), sh))
		for i, y := range rows {
			for r := 0; r < band; r++ {
				copy(s.Pix[(i*band+r)*s.Stride:][:b.Dx()], m.Pix[(y+r)*m.Stride:][:b.Dx()])
			}
		}
		return s, frac
	case *image.RGBA:
		s := image.NewRGBA(image.Rect(0, 0, b.Dx(), sh))
		for i, y := range rows {
			for r := 0; r < band; r++ {
				copy(s.Pix[(i*band+r)*s.Stride:][:b.Dx()*4], m.Pix[(y+r)*m.Stride:][:b.Dx()*4])
			}
		}
		return s, frac
	}
	return img, 1
}
