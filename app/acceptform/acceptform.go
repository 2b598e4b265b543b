// Package acceptform makes the printable acceptance form (受理表) of an
// application as a PDF on signintech/gopdf: three A4 pages, as the seed's
// "打印申请表" prints them — the 数字证书业务受理表 with the application's
// data and the signature and seal boxes, the 电子认证服务协议, and the
// 授权委托书 — with CJK TrueType fonts embedded (subset by the library):
// every character is printed by the first face of a chain that has it
// (faces.go), and a form with a character no face prints is refused.
package acceptform

import (
	"bytes"
	"fmt"
	"strings"
	"time"
	"unicode"

	"github.com/signintech/gopdf"

	"certdesk/app/apply"
)

// Input is what the form shows.
type Input struct {
	AppID     string
	Kind      apply.Kind
	Form      apply.Values
	Fee       apply.Quote
	Agreement string // the service agreement's text
	Version   string // the agreement's version
	CAName    string
	Date      time.Time
}

const (
	margin = 18.0
	width  = 210.0 - 2*margin
	lineH  = 8.0 // a table row's line, mm
)

// doc is the PDF being written, in mm from the top left, with the face
// chain each text is split over.
type doc struct {
	pdf     *gopdf.GoPdf
	faces   *faces
	added   map[*face]bool
	size    float64
	x, y    float64
	missing []rune
	err     error
	page    int
	// trace, when set (by tests), is told where each character is put:
	// its page (from 1), face, size and cell in mm.
	trace func(page int, r rune, f *face, size, x, y, w, h float64)
}

// Render returns the PDF, or an *UnprintableError when a character of the
// form has no glyph in the embedded fonts or the PC's.
func Render(in Input) ([]byte, error) {
	return render(in, SystemFonts())
}

func render(in Input, systemFonts []string) ([]byte, error) {
	return renderTraced(in, systemFonts, nil)
}

func renderTraced(in Input, systemFonts []string, trace func(int, rune, *face, float64, float64, float64, float64, float64)) ([]byte, error) {
	if in.CAName == "" {
		in.CAName = "电子认证服务机构"
	}
	fs, err := newFaces(systemFonts)
	if err != nil {
		return nil, fmt.Errorf("acceptance form: %w", err)
	}
	pdf := &gopdf.GoPdf{}
	pdf.Start(gopdf.Config{PageSize: gopdf.Rect{W: 210, H: 297}, Unit: gopdf.UnitMM}) // A4 exactly; gopdf's PageSizeA4 is rounded to 595 × 842 pt
	pdf.SetInfo(gopdf.PdfInfo{Title: "数字证书业务受理表 " + in.AppID, Creator: "CertDesk", Producer: "CertDesk", CreationDate: in.Date})
	pdf.SetLineWidth(0.2)
	d := &doc{pdf: pdf, faces: fs, added: map[*face]bool{}, trace: trace}
	page1(d, in)
	page2(d, in)
	page3(d, in)
	if len(d.missing) > 0 {
		return nil, &UnprintableError{Chars: d.missing}
	}
	if d.err != nil {
		return nil, fmt.Errorf("acceptance form: %w", d.err)
	}
	var buf bytes.Buffer
	if _, err := pdf.WriteTo(&buf); err != nil {
		return nil, fmt.Errorf("acceptance form: %w", err)
	}
	return buf.Bytes(), nil
}

func (d *doc) fail(err error) {
	if d.err == nil && err != nil {
		d.err = err
	}
}

// use makes f the current font at the current size, adding it to the PDF
// the first time.
func (d *doc) use(f *face) {
	if !d.added[f] {
		d.fail(d.pdf.AddTTFFontData(f.name, f.data))
		d.added[f] = true
	}
	d.fail(d.pdf.SetFont(f.name, "", d.size))
}

func (d *doc) runs(s string) []run {
	rs, missing := d.faces.runs(s)
	for _, r := range missing {
		if !containsRune(d.missing, r) {
			d.missing = append(d.missing, r)
		}
	}
	return rs
}

func (d *doc) measure(rs []run) float64 {
	w := 0.0
	for _, r := range rs {
		d.use(r.face)
		rw, err := d.pdf.MeasureTextWidth(r.text)
		d.fail(err)
		w += rw
	}
	return w
}

// line prints one line of text in a box w by h at (x, y), vertically
// centred, left-aligned or centred.
func (d *doc) line(x, y, w, h float64, s string, center bool) {
	rs := d.runs(s)
	if center {
		x += (w - d.measure(rs)) / 2
	}
	for _, r := range rs {
		d.use(r.face)
		rw, err := d.pdf.MeasureTextWidth(r.text)
		d.fail(err)
		d.pdf.SetXY(x, y)
		d.fail(d.pdf.CellWithOption(&gopdf.Rect{W: rw, H: h}, r.text, gopdf.CellOption{Align: gopdf.Left | gopdf.Middle}))
		if d.trace != nil {
			cx := x
			for _, c := range r.text {
				cw, err := d.pdf.MeasureTextWidth(string(c))
				d.fail(err)
				d.trace(d.page, c, r.face, d.size, cx, y, cw, h)
				cx += cw
			}
		}
		x += rw
	}
}

// wrap breaks s into lines no wider than w: at a newline, else before the
// character that would overflow (Chinese breaks anywhere), moving a Latin
// word or number that would be cut to the next line whole.
func (d *doc) wrap(s string, w float64) []string {
	var lines []string
	for _, para := range strings.Split(s, "\n") {
		cur := []rune{}
		curW := 0.0
		for _, r := range para {
			rw := d.measure(d.runs(string(r)))
			if curW+rw > w && len(cur) > 0 {
				keep, move := splitWord(cur)
				lines = append(lines, strings.TrimRight(string(keep), " "))
				cur = append([]rune{}, move...)
				curW = d.measure(d.runs(string(cur)))
				if r == ' ' && len(cur) == 0 {
					continue
				}
			}
			cur = append(cur, r)
			curW += rw
		}
		lines = append(lines, string(cur))
	}
	return lines
}

// splitWord cuts a trailing Latin word or number off line, unless it is
// the whole line.
func splitWord(line []rune) (keep, move []rune) {
	i := len(line)
	for i > 0 && line[i-1] < 0x80 && (unicode.IsLetter(line[i-1]) || unicode.IsDigit(line[i-1])) {
		i--
	}
	if i == 0 || i == len(line) {
		return line, nil
	}
	return line[:i], line[i:]
}

// multi prints s wrapped to w from the current position, lh mm a line.
func (d *doc) multi(w, lh float64, s string) {
	for _, l := range d.wrap(s, w) {
		d.breakPage(lh)
		d.line(d.x, d.y, w, lh, l, false)
		d.y += lh
	}
}

// breakPage starts a new page when h more mm would not fit.
func (d *doc) breakPage(h float64) {
	if d.y+h > 297-margin {
		d.pdf.AddPage()
		d.page++
		d.y = margin
	}
}

func (d *doc) rect(x, y, w, h float64) {
	d.pdf.RectFromUpperLeftWithStyle(x, y, w, h, "D")
}

func title(d *doc, t, sub string) {
	d.pdf.AddPage()
	d.page++
	d.x, d.y = margin, margin
	d.size = 18
	d.line(margin, d.y, width, 12, t, true)
	d.y += 12
	d.size = 9
	if sub != "" {
		d.line(margin, d.y, width, 6, sub, true)
	}
	d.y += 6 + 3
}

// row prints one labelled value in a bordered table row.
func row(d *doc, label, value string) {
	d.size = 10
	lines := d.wrap(value, width-45-2)
	h := lineH * float64(max(1, len(lines)))
	d.breakPage(h)
	d.rect(margin, d.y, 45, h)
	d.rect(margin+45, d.y, width-45, h)
	d.line(margin+1, d.y, 43, lineH, label, false)
	for i, l := range lines {
		d.line(margin+46, d.y+lineH*float64(i), width-47, lineH, l, false)
	}
	d.y += h
}

// box draws a signature or seal box with its caption.
func box(d *doc, x, y, w, h float64, caption string) {
	d.rect(x, y, w, h)
	d.size = 9
	d.line(x, y+h-7, w, 6, caption, true)
}

// boxes draws two boxes side by side gap mm below the text.
func boxes(d *doc, gap float64, left, right string) {
	d.breakPage(gap + 40)
	y := d.y + gap
	box(d, margin, y, width/2-4, 40, left)
	box(d, margin+width/2+4, y, width/2-4, 40, right)
	d.y = y + 40
}

func yes(b bool) string {
	if b {
		return "办理"
	}
	return "不办理"
}

// A field is one printed row of page 1.
type field struct {
	Key, Label, Value string
}

// printed is page 1's rows from the form: every active field but the
// secret answer and the tick boxes (printed as 办理/不办理 below), choices
// by their label.
func printed(in Input) []field {
	var out []field
	for _, f := range apply.Schema(in.Kind) {
		if !f.IsActive(in.Form) || f.Type == apply.TypeSecret || f.Type == apply.TypeBool {
			continue
		}
		out = append(out, field{f.Key, f.Label.ZH, f.Display(in.Form[f.Key], apply.ZH)})
	}
	return out
}

func page1(d *doc, in Input) {
	title(d, "数字证书业务受理表", fmt.Sprintf("申请编号 %s  ·  %s  ·  %s", in.AppID, in.Kind.Label(apply.ZH), in.Date.Format("2006年01月02日")))
	for _, p := range printed(in) {
		row(d, p.Label, p.Value)
	}
	o := in.Form.Options()
	row(d, "签章服务", yes(o.Seal))
	row(d, "签名服务", yes(o.Signature))
	if in.Kind == apply.KindPersonal && in.Form.HandlerIsApplicant(in.Kind) {
		row(d, "经办人", "与申请人为同一人")
	}
	row(d, "费用", fmt.Sprintf("%s 元", apply.FormatFen(in.Fee.TotalFen)))
	d.y += 4
	d.size = 9
	d.multi(width, 5, "申请人确认以上信息真实、准确、完整,并已阅读、同意《电子认证服务协议》。请签字并加盖单位公章后扫描上传,原件邮寄或交受理点。")
	boxes(d, 4, "经办人签字 / 日期", "单位盖章")
}

func page2(d *doc, in Input) {
	title(d, "电子认证服务协议", "版本 "+in.Version+"  ·  此页无需上传,须提交纸质原件")
	d.size = 10
	d.multi(width, 6, in.Agreement)
	d.y += 6
	d.multi(width, 6, fmt.Sprintf("订户:%s\n电子认证服务机构:%s", subject(in), in.CAName))
	boxes(d, 6, "订户盖章 / 日期", "经办人签字")
}

func page3(d *doc, in Input) {
	title(d, "授权委托书", "")
	v := in.Form
	name, idn := v[apply.FHandlerName], v[apply.FHandlerID]
	if in.Form.HandlerIsApplicant(in.Kind) {
		name, idn = v[apply.FApplicantName], v[apply.FApplicantID]
	}
	d.size = 11
	text := fmt.Sprintf("致 %s:\n\n兹委托 %s(证件号码 %s)代表我单位 %s(统一社会信用代码 %s)办理数字证书(%s,证书用户名 %s)的申请、材料提交、缴费及领取等相关业务。受托人在委托权限内签署的文件和办理的事项,我单位均予以承认。\n\n委托期限:自签署之日起至该证书业务办结之日止。",
		in.CAName, name, idn, v[apply.FOrgName], v[apply.FOrgCode], in.Kind.Label(apply.ZH), v[apply.FUsername])
	d.multi(width, 7, text)
	boxes(d, 10, "受托人签字", "委托单位盖章 / 日期")
}

func subject(in Input) string {
	if in.Kind == apply.KindPersonal {
		return in.Form[apply.FApplicantName] + "(" + in.Form[apply.FOrgName] + ")"
	}
	return in.Form[apply.FOrgName]
}
