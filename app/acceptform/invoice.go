package acceptform

import (
	"bytes"
	"fmt"
	"time"

	"github.com/signintech/gopdf"

	"certdesk/app/apply"
)

// Invoice is what the e-invoice PDF (电子发票开具申请 / 收款凭证) shows: the
// buyer as a Chinese invoice request needs them, the items of the fee
// schedule, the tax and the total in figures and in capitals. The tax
// authority's 数电发票 itself is issued by the CA's invoicing system; this
// is its request and the applicant's receipt.
type Invoice struct {
	Number     string
	Date       time.Time
	AppID      string
	SellerName string
	SellerTax  string // the CA's taxpayer ID (统一社会信用代码)
	BuyerName  string
	BuyerTax   string // an organisation's credit code; "" for a person
	Personal   bool
	Items      []apply.FeeItem // amounts include tax
	TaxRateBP  int             // basis points: 600 is 6 %
	PaidBy     string          // how it was paid, with the trade number
}

// taxOf is the tax inside a tax-inclusive amount, rounded half up to the
// fen: fen × r / (1 + r).
func taxOf(fen int64, bp int) int64 {
	if bp <= 0 {
		return 0
	}
	return (fen*int64(bp)*2 + (10000 + int64(bp))) / ((10000 + int64(bp)) * 2)
}

// RenderInvoice returns the invoice PDF on the acceptance form's faces.
func RenderInvoice(in Invoice) ([]byte, error) {
	fs, err := newFaces(SystemFonts())
	if err != nil {
		return nil, fmt.Errorf("invoice: %w", err)
	}
	pdf := &gopdf.GoPdf{}
	pdf.Start(gopdf.Config{PageSize: gopdf.Rect{W: 210, H: 297}, Unit: gopdf.UnitMM})
	pdf.SetInfo(gopdf.PdfInfo{Title: "电子发票 " + in.Number, Creator: "CertDesk", Producer: "CertDesk", CreationDate: in.Date})
	pdf.SetLineWidth(0.2)
	d := &doc{pdf: pdf, faces: fs, added: map[*face]bool{}}
	title(d, "电子发票(开票申请及收款凭证)", fmt.Sprintf("发票号码 %s  ·  开票日期 %s", in.Number, in.Date.Format("2006年01月02日")))
	row(d, "购买方名称", in.BuyerName)
	if in.Personal {
		row(d, "购买方类型", "个人")
	} else {
		row(d, "统一社会信用代码/纳税人识别号", in.BuyerTax)
	}
	row(d, "销售方名称", in.SellerName)
	if in.SellerTax != "" {
		row(d, "销售方纳税人识别号", in.SellerTax)
	}
	row(d, "申请编号", in.AppID)
	d.y += 4
	cols := []float64{70, 30, 20, 26, 28} // 项目, 金额, 税率, 税额, 价税合计
	head := []string{"项目名称", "金额(不含税)", "税率", "税额", "价税合计"}
	cells := func(vals []string) {
		d.size = 9
		x := margin
		for i, v := range vals {
			d.rect(x, d.y, cols[i], lineH)
			d.line(x+1, d.y, cols[i]-2, lineH, v, i > 0)
			x += cols[i]
		}
		d.y += lineH
	}
	cells(head)
	var total, taxTotal int64
	rate := fmt.Sprintf("%d%%", in.TaxRateBP/100)
	if in.TaxRateBP%100 != 0 {
		rate = fmt.Sprintf("%.2f%%", float64(in.TaxRateBP)/100)
	}
	for _, it := range in.Items {
		tax := taxOf(it.Fen, in.TaxRateBP)
		total += it.Fen
		taxTotal += tax
		cells([]string{"*信息技术服务*" + it.Label.ZH, apply.FormatFen(it.Fen - tax), rate, apply.FormatFen(tax), apply.FormatFen(it.Fen)})
	}
	cells([]string{"合计", apply.FormatFen(total - taxTotal), "", apply.FormatFen(taxTotal), apply.FormatFen(total)})
	d.y += 2
	caps, err := apply.Capitals(total)
	if err != nil {
		return nil, fmt.Errorf("invoice: %w", err)
	}
	row(d, "价税合计(大写)", caps)
	row(d, "价税合计(小写)", "¥"+apply.FormatFen(total))
	if in.PaidBy != "" {
		row(d, "收款方式", in.PaidBy)
	}
	d.y += 4
	d.size = 9
	d.multi(width, 5.5, "说明:本文件为数字证书服务费的开票申请及收款凭证。增值税电子普通发票(数电发票)由"+in.SellerName+
		"的开票系统向税务机关开具后另行发送;如需更正购买方信息,请在开具前联系客服。")
	if len(d.missing) > 0 {
		return nil, &UnprintableError{Chars: d.missing}
	}
	if d.err != nil {
		return nil, fmt.Errorf("invoice: %w", d.err)
	}
	var buf bytes.Buffer
	if _, err := pdf.WriteTo(&buf); err != nil {
		return nil, fmt.Errorf("invoice: %w", err)
	}
	return buf.Bytes(), nil
}
