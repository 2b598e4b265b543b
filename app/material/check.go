package material

import (
	"fmt"
	"math"

	"certdesk/app/apply"
)

// Severity says whether a problem makes the CA refuse the file.
type Severity string

const (
	// Error: the CA refuses the file as it is.
	Error Severity = "error"
	// Warning: accepted, but worth fixing (privacy, legibility, viewers).
	Warning Severity = "warning"
)

// Problem is one thing wrong with a file, with what to do about it.
type Problem struct {
	Code     string     `json:"code"`
	Severity Severity   `json:"severity"`
	Message  apply.Text `json:"message"`
	Hint     apply.Text `json:"hint"`
	// Fixable: Repair can fix it without the applicant rescanning.
	Fixable bool `json:"fixable"`
}

// Problem codes, stable on the wire.
const (
	PEmpty       = "file.empty"
	PNotJPEG     = "format.not_jpeg"
	PHEIC        = "format.heic"
	PPDF         = "format.pdf"
	PUnknown     = "format.unknown"
	PCorrupt     = "file.corrupt"
	PUnsupported = "jpeg.unsupported"
	PTooLarge    = "file.too_large"
	PNoDPI       = "dpi.missing"
	PLowDPI      = "dpi.low"
	PDPIConflict = "dpi.conflict"
	PCMYK        = "color.cmyk"
	PProgressive = "jpeg.progressive"
	POrientation = "exif.orientation"
	PGPS         = "exif.gps"
	PLowPixels   = "pixels.low"
	PHuge        = "pixels.huge"
	PTrailing    = "file.trailing_data"
)

// A4 is what every material is printed or copied on (seed: 复印到一张A4纸).
const a4LongInch = 11.69

// Verdict is the result of checking one file against one rule.
type Verdict struct {
	Rule     apply.MaterialRule `json:"rule"`
	Info     Info               `json:"info"`
	Problems []Problem          `json:"problems"`
}

// OK reports whether the CA accepts the file: no error-level problem.
func (v Verdict) OK() bool {
	for _, p := range v.Problems {
		if p.Severity == Error {
			return false
		}
	}
	return true
}

// Fixable reports whether Repair would leave no error-level problem.
func (v Verdict) Fixable() bool {
	for _, p := range v.Problems {
		if p.Severity == Error && !p.Fixable {
			return false
		}
	}
	return true
}

// CheckBytes inspects data and checks it against rule.
func CheckBytes(b []byte, rule apply.MaterialRule) Verdict {
	return Check(Inspect(b), rule)
}

// Check turns an inspection into the problems that matter for rule.
func Check(info Info, rule apply.MaterialRule) Verdict {
	v := Verdict{Rule: rule, Info: info}
	add := func(p Problem) { v.Problems = append(v.Problems, p) }
	maxBytes := rule.MaxBytes
	if maxBytes <= 0 {
		maxBytes = apply.MaxMaterialBytes
	}

	switch info.Format {
	case FormatJPEG:
	case FormatEmpty:
		add(Problem{PEmpty, Error, apply.Text{ZH: "文件是空的(0 字节)", EN: "The file is empty (0 bytes)"},
			apply.Text{ZH: "请重新扫描或重新保存后再选择", EN: "Scan or save it again, then choose it again"}, false})
		return v
	case FormatHEIC:
		add(Problem{PHEIC, Error, apply.Text{ZH: "这是苹果/安卓手机的 HEIC 格式照片,不是 JPG", EN: "This is a HEIC photo from a phone, not a JPG"},
			apply.Text{ZH: "请另存为 JPG:iPhone 可在“设置 → 相机 → 格式”中选“兼容性最佳”后重拍,或用相册“导出”为 JPG", EN: "Save it as JPG: on an iPhone choose Settings → Camera → Formats → Most Compatible and take it again, or export it as JPG"}, false})
		return v
	case FormatPDF:
		add(Problem{PPDF, Error, apply.Text{ZH: "这是 PDF 文件,材料只接受 JPG 图片", EN: "This is a PDF; materials must be JPG images"},
			apply.Text{ZH: "请用扫描仪直接扫描为 JPG,或把 PDF 页面导出为 JPG 图片", EN: "Scan straight to JPG, or export the PDF page as a JPG image"}, false})
		return v
	case FormatPNG, FormatGIF, FormatBMP, FormatTIFF, FormatWebP:
		add(Problem{PNotJPEG, Error, apply.Text{ZH: fmt.Sprintf("文件实际是 %s 格式(与扩展名无关),材料只接受 JPG", upper(info.Format)), EN: fmt.Sprintf("The file is really %s (whatever its name says); materials must be JPG", upper(info.Format))},
			apply.Text{ZH: "点“一键修复”转换为 JPG", EN: "Use Fix to convert it to JPG"}, true})
	default:
		add(Problem{PUnknown, Error, apply.Text{ZH: "无法识别的文件,不是图片", EN: "Unrecognised file: not an image"},
			apply.Text{ZH: "请选择扫描得到的 JPG 图片", EN: "Choose the scanned JPG image"}, false})
		return v
	}

	if info.Width*info.Height > MaxPixels {
		add(Problem{PHuge, Error,
			apply.Text{ZH: fmt.Sprintf("图片有 %d×%d 像素,太大,无法处理", info.Width, info.Height), EN: fmt.Sprintf("The image has %d×%d pixels, too many to process", info.Width, info.Height)},
			apply.Text{ZH: "请在扫描软件中选择较低的分辨率(文档 100–300 DPI)重新扫描,或先缩小图片", EN: "Rescan at a lower resolution (100–300 DPI for documents) or scale the image down first"}, false})
		return v
	}
	if info.Format == FormatJPEG {
		switch {
		case info.Variant == "lossless" || info.Variant == "arithmetic":
			add(Problem{PUnsupported, Error, apply.Text{ZH: "这是不常见的 JPG 变体(" + info.Variant + "),审核系统无法打开", EN: "This is an uncommon JPEG variant (" + info.Variant + ") that the review system cannot open"},
				apply.Text{ZH: "请用扫描仪或画图软件重新保存为普通 JPG", EN: "Save it again as an ordinary JPG with the scanner or an image editor"}, false})
			return v
		case !info.Decoded:
			add(Problem{PCorrupt, Error, apply.Text{ZH: "图片已损坏或不完整,无法完整打开(" + info.DecodeError + ")", EN: "The image is damaged or incomplete and cannot be opened in full (" + info.DecodeError + ")"},
				apply.Text{ZH: "文件可能没有复制完整,请重新扫描或从原处重新复制", EN: "It was probably not copied completely: scan it again or copy it again from where it came from"}, false})
			return v
		}
	}

	if info.TrailingBytes > 0 {
		add(Problem{PTrailing, Error,
			apply.Text{ZH: fmt.Sprintf("图片结尾之后还附带了 %s 与图片无关的数据(可能是另一张照片或另一个文件)", humanBytes(info.TrailingBytes)), EN: fmt.Sprintf("%s of data that is not part of the picture follow its end (another photo or another file)", humanBytes(info.TrailingBytes))},
			apply.Text{ZH: "点“一键修复”去掉这些数据,图片本身不变", EN: "Use Fix to cut it off; the picture itself is kept as it is"}, true})
	}

	if info.Bytes > maxBytes {
		add(Problem{PTooLarge, Error,
			apply.Text{ZH: fmt.Sprintf("文件 %s,超过 %s 的上限", humanBytes(info.Bytes), humanBytes(maxBytes)), EN: fmt.Sprintf("The file is %s, over the %s limit", humanBytes(info.Bytes), humanBytes(maxBytes))},
			apply.Text{ZH: "点“一键修复”在不缩小尺寸的前提下压缩到上限以内", EN: "Use Fix to compress it under the limit at full size"}, true})
	}

	switch {
	case info.DPI == 0:
		add(Problem{PNoDPI, Error,
			apply.Text{ZH: fmt.Sprintf("图片没有记录分辨率(DPI),要求至少 %d DPI", rule.MinDPI), EN: fmt.Sprintf("The image declares no resolution (DPI); %d DPI is required", rule.MinDPI)},
			apply.Text{ZH: fmt.Sprintf("点“一键修复”写入 %d DPI;下次扫描时请在扫描软件中选择 %d DPI", rule.MinDPI, rule.MinDPI), EN: fmt.Sprintf("Use Fix to record %d DPI; next time choose %d DPI in the scanner software", rule.MinDPI, rule.MinDPI)}, true})
	case info.DPI+0.5 < float64(rule.MinDPI):
		add(Problem{PLowDPI, Error,
			apply.Text{ZH: fmt.Sprintf("分辨率为 %.0f DPI,要求至少 %d DPI", info.DPI, rule.MinDPI), EN: fmt.Sprintf("The resolution is %.0f DPI; at least %d DPI is required", info.DPI, rule.MinDPI)},
			apply.Text{ZH: fmt.Sprintf("点“一键修复”改为 %d DPI;若文字不清楚,请在扫描软件中选 %d DPI 重新扫描", rule.MinDPI, rule.MinDPI), EN: fmt.Sprintf("Use Fix to set %d DPI; if the text is not sharp, rescan at %d DPI", rule.MinDPI, rule.MinDPI)}, true})
	}
	if info.JFIF != nil && info.EXIF != nil && info.JFIF.DPI() > 0 && info.EXIF.DPI() > 0 && math.Abs(info.JFIF.DPI()-info.EXIF.DPI()) > 0.5 {
		add(Problem{PDPIConflict, Warning,
			apply.Text{ZH: fmt.Sprintf("文件中记录了两个不同的分辨率(JFIF %.0f DPI,EXIF %.0f DPI),按较低者计算", info.JFIF.DPI(), info.EXIF.DPI()), EN: fmt.Sprintf("The file records two resolutions (JFIF %.0f DPI, EXIF %.0f DPI); the lower one counts", info.JFIF.DPI(), info.EXIF.DPI())},
			apply.Text{ZH: "点“一键修复”统一为一个分辨率", EN: "Use Fix to record a single resolution"}, true})
	}

	if info.ColorSpace == "cmyk" || info.ColorSpace == "ycck" {
		add(Problem{PCMYK, Error,
			apply.Text{ZH: "图片是印刷用的 CMYK 颜色,审核系统的浏览器可能无法显示", EN: "The image uses print CMYK colour, which the review system's browser may not show"},
			apply.Text{ZH: "点“一键修复”转换为普通 RGB 颜色", EN: "Use Fix to convert it to ordinary RGB colour"}, true})
	}
	if info.Progressive {
		add(Problem{PProgressive, Warning,
			apply.Text{ZH: "图片是“渐进式”JPG,部分旧系统显示不完整", EN: "The image is a progressive JPEG, which some old systems show incompletely"},
			apply.Text{ZH: "点“一键修复”转为标准 JPG", EN: "Use Fix to save it as a baseline JPEG"}, true})
	}
	if info.Orientation > 1 {
		add(Problem{POrientation, Warning,
			apply.Text{ZH: "照片带有旋转标记,审核人员看到的可能是横着或倒着的", EN: "The photo carries a rotation flag, so the reviewer may see it sideways or upside down"},
			apply.Text{ZH: "点“一键修复”把图片真正转正", EN: "Use Fix to rotate the pixels upright"}, true})
	}
	if info.HasGPS {
		add(Problem{PGPS, Warning,
			apply.Text{ZH: "照片中含有拍摄地点(GPS 位置)信息", EN: "The photo contains the location where it was taken (GPS)"},
			apply.Text{ZH: "点“一键修复”删除位置等隐私信息", EN: "Use Fix to remove the location and other private metadata"}, true})
	}
	if long := max(info.Width, info.Height); long > 0 && rule.MinDPI > 0 {
		need := int(math.Ceil(float64(rule.MinDPI) * a4LongInch * 0.9))
		if long < need {
			add(Problem{PLowPixels, Warning,
				apply.Text{ZH: fmt.Sprintf("图片只有 %d×%d 像素,按 A4 纸计算不足 %d DPI,文字可能看不清", info.Width, info.Height, rule.MinDPI), EN: fmt.Sprintf("The image is only %d×%d pixels, under %d DPI for an A4 page; text may be illegible", info.Width, info.Height, rule.MinDPI)},
				apply.Text{ZH: fmt.Sprintf("请在扫描软件中选择 %d DPI 重新扫描(长边约 %d 像素)", rule.MinDPI, int(float64(rule.MinDPI)*a4LongInch)), EN: fmt.Sprintf("Rescan at %d DPI (about %d pixels on the long side)", rule.MinDPI, int(float64(rule.MinDPI)*a4LongInch))}, false})
		}
	}
	return v
}

func upper(f Format) string {
	switch f {
	case FormatPNG:
		return "PNG"
	case FormatGIF:
		return "GIF"
	case FormatBMP:
		return "BMP"
	case FormatTIFF:
		return "TIFF"
	case FormatWebP:
		return "WebP"
	}
	return string(f)
}

// humanBytes renders sizes the way Windows Explorer does (1 MB = 1024 KB).
func humanBytes(n int64) string {
	switch {
	case n >= 1<<20:
		return fmt.Sprintf("%.2f MB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.0f KB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d B", n)
}
