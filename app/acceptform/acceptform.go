// Package acceptform makes the printable acceptance form (受理表) of an
// application as a PDF on go-pdf/fpdf: three A4 pages, as the seed's
// "打印申请表" prints them — the 数字证书业务受理表 with the application's
// data and the signature and seal boxes, the 电子认证服务协议, and the
// 授权委托书 — with a CJK TrueType font embedded (subset by the library).
package acceptform

import (
	"bytes"
	"fmt"
	"time"

	"github.com/go-pdf/fpdf"

	"certdesk/app/apply"
	"certdesk/assets"
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
	fontName = "wqy"
	margin   = 18.0
	width    = 210.0 - 2*margin
)

// Render returns the PDF.
func Render(in Input) ([]byte, error) {
	if in.CAName == "" {
		in.CAName = "电子认证服务机构"
	}
	pdf := fpdf.New("P", "mm", "A4", "")
	pdf.SetMargins(margin, margin, margin)
	pdf.SetAutoPageBreak(true, margin)
	pdf.AddUTF8FontFromBytes(fontName, "", assets.PDFFont)
	pdf.SetTitle("数字证书业务受理表 "+in.AppID, true)
	pdf.SetCreator("CertDesk", true)
	if err := pdf.Error(); err != nil {
		return nil, fmt.Errorf("acceptance form font: %w", err)
	}
	page1(pdf, in)
	page2(pdf, in)
	page3(pdf, in)
	var buf bytes.Buffer
	if err := pdf.Output(&buf); err != nil {
		return nil, fmt.Errorf("acceptance form: %w", err)
	}
	return buf.Bytes(), nil
}

func title(pdf *fpdf.Fpdf, t, sub string) {
	pdf.AddPage()
	pdf.SetFont(fontName, "", 18)
	pdf.CellFormat(width, 12, t, "", 1, "C", false, 0, "")
	pdf.SetFont(fontName, "", 9)
	pdf.CellFormat(width, 6, sub, "", 1, "C", false, 0, "")
	pdf.Ln(3)
}

// row prints one labelled value in a bordered table row.
func row(pdf *fpdf.Fpdf, label, value string) {
	pdf.SetFont(fontName, "", 10)
	x, y := pdf.GetXY()
	lines := pdf.SplitText(value, width-45-2)
	h := 8.0 * float64(max(1, len(lines)))
	pdf.Rect(x, y, 45, h, "D")
	pdf.Rect(x+45, y, width-45, h, "D")
	pdf.SetXY(x+1, y)
	pdf.CellFormat(43, 8, label, "", 0, "L", false, 0, "")
	for i, l := range lines {
		pdf.SetXY(x+46, y+8*float64(i))
		pdf.CellFormat(width-47, 8, l, "", 0, "L", false, 0, "")
	}
	pdf.SetXY(x, y+h)
}

// box draws a signature or seal box with its caption.
func box(pdf *fpdf.Fpdf, x, y, w, h float64, caption string) {
	pdf.Rect(x, y, w, h, "D")
	pdf.SetFont(fontName, "", 9)
	pdf.SetXY(x, y+h-7)
	pdf.CellFormat(w, 6, caption, "", 0, "C", false, 0, "")
}

func yes(b bool) string {
	if b {
		return "办理"
	}
	return "不办理"
}

func page1(pdf *fpdf.Fpdf, in Input) {
	title(pdf, "数字证书业务受理表", fmt.Sprintf("申请编号 %s  ·  %s  ·  %s", in.AppID, in.Kind.Label(apply.ZH), in.Date.Format("2006年01月02日")))
	for _, f := range apply.Schema(in.Kind) {
		if !f.IsActive(in.Form) || f.Type == apply.TypeSecret || f.Type == apply.TypeBool {
			continue
		}
		v := in.Form[f.Key]
		for _, c := range f.Choices {
			if c.Value == v {
				v = c.Label.ZH
			}
		}
		row(pdf, f.Label.ZH, v)
	}
	o := in.Form.Options()
	row(pdf, "签章服务", yes(o.Seal))
	row(pdf, "签名服务", yes(o.Signature))
	if in.Kind == apply.KindPersonal && in.Form.HandlerIsApplicant(in.Kind) {
		row(pdf, "经办人", "与申请人为同一人")
	}
	row(pdf, "费用", fmt.Sprintf("%s 元", apply.FormatFen(in.Fee.TotalFen)))
	pdf.Ln(4)
	pdf.SetFont(fontName, "", 9)
	pdf.MultiCell(width, 5, "申请人确认以上信息真实、准确、完整,并已阅读、同意《电子认证服务协议》。请签字并加盖单位公章后扫描上传,原件邮寄或交受理点。", "", "L", false)
	y := pdf.GetY() + 4
	box(pdf, margin, y, width/2-4, 40, "经办人签字 / 日期")
	box(pdf, margin+width/2+4, y, width/2-4, 40, "单位盖章")
}

func page2(pdf *fpdf.Fpdf, in Input) {
	title(pdf, "电子认证服务协议", "版本 "+in.Version+"  ·  此页无需上传,须提交纸质原件")
	pdf.SetFont(fontName, "", 10)
	pdf.MultiCell(width, 6, in.Agreement, "", "L", false)
	pdf.Ln(6)
	pdf.MultiCell(width, 6, fmt.Sprintf("订户:%s\n电子认证服务机构:%s", subject(in), in.CAName), "", "L", false)
	y := pdf.GetY() + 6
	box(pdf, margin, y, width/2-4, 40, "订户盖章 / 日期")
	box(pdf, margin+width/2+4, y, width/2-4, 40, "经办人签字")
}

func page3(pdf *fpdf.Fpdf, in Input) {
	title(pdf, "授权委托书", "")
	v := in.Form
	name, idn := v[apply.FHandlerName], v[apply.FHandlerID]
	if in.Form.HandlerIsApplicant(in.Kind) {
		name, idn = v[apply.FApplicantName], v[apply.FApplicantID]
	}
	pdf.SetFont(fontName, "", 11)
	text := fmt.Sprintf("致 %s:\n\n兹委托 %s(证件号码 %s)代表我单位 %s(统一社会信用代码 %s)办理数字证书(%s,证书用户名 %s)的申请、材料提交、缴费及领取等相关业务。受托人在委托权限内签署的文件和办理的事项,我单位均予以承认。\n\n委托期限:自签署之日起至该证书业务办结之日止。",
		in.CAName, name, idn, v[apply.FOrgName], v[apply.FOrgCode], in.Kind.Label(apply.ZH), v[apply.FUsername])
	pdf.MultiCell(width, 7, text, "", "L", false)
	y := pdf.GetY() + 10
	box(pdf, margin, y, width/2-4, 40, "受托人签字")
	box(pdf, margin+width/2+4, y, width/2-4, 40, "委托单位盖章 / 日期")
}

func subject(in Input) string {
	if in.Kind == apply.KindPersonal {
		return in.Form[apply.FApplicantName] + "(" + in.Form[apply.FOrgName] + ")"
	}
	return in.Form[apply.FOrgName]
}
