package service

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"certdesk/app/acceptform"
	"certdesk/app/api"
	"certdesk/app/apply"
	"certdesk/app/server/outbox"
	"certdesk/app/server/store"
)

// InvoiceConfig is the seller's side of the e-invoice.
type InvoiceConfig struct {
	SellerName string // the CA as its invoices name it
	SellerTax  string // its taxpayer ID
	TaxRateBP  int    // basis points; 600 (6 %, 信息技术服务) by default
}

// Attachments makes the files of a message as it is sent: the e-invoice
// PDF for the invoice e-mail (outbox.Worker.Attach). It is made from the
// application and its payment as they are then, which cannot change after
// payment, so a retry sends the same invoice with the same number.
func (s *Service) Attachments(ctx context.Context, m *store.Message) ([]outbox.Attachment, error) {
	if m.Subject != "e-invoice" {
		return nil, nil
	}
	pdf, name, err := s.InvoicePDF(ctx, m.ApplicationID, m.ID)
	if err != nil {
		return nil, err
	}
	return []outbox.Attachment{{Name: name, ContentType: "application/pdf", Data: pdf}}, nil
}

// InvoiceNumber is the receipt's number: the day and the message that
// carries it, so it is the same on every retry.
func InvoiceNumber(m *store.Message) string {
	return "CD" + m.CreatedAt.In(chinaTime).Format("20060102") + strings.ToUpper(m.ID[:8])
}

// InvoicePDF renders the e-invoice of an application's payment.
func (s *Service) InvoicePDF(ctx context.Context, appID, messageID string) ([]byte, string, error) {
	a, err := s.st.Application(ctx, appID)
	if err != nil {
		return nil, "", fmt.Errorf("invoice %s: %w", appID, err)
	}
	m := &store.Message{ID: messageID, CreatedAt: s.now()}
	if msgs, err := s.st.Messages(ctx, appID, 1000); err == nil {
		for _, x := range msgs {
			if x.ID == messageID {
				m = x
			}
		}
	}
	q, err := s.quote(a)
	if err != nil {
		return nil, "", err
	}
	cfg := s.cfg.Invoice
	if cfg.SellerName == "" {
		cfg.SellerName = "电子认证服务机构"
	}
	if cfg.TaxRateBP == 0 {
		cfg.TaxRateBP = 600
	}
	in := acceptform.Invoice{Number: InvoiceNumber(m), Date: m.CreatedAt.In(chinaTime), AppID: a.ID, SellerName: cfg.SellerName, SellerTax: cfg.SellerTax,
		BuyerName: a.Subject, Items: q.Items, TaxRateBP: cfg.TaxRateBP}
	if a.Kind == apply.KindOrg {
		in.BuyerTax = a.Form[apply.FOrgCode]
	} else {
		in.Personal = true
	}
	pay, err := s.st.LatestPayment(ctx, appID)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return nil, "", err
	}
	if pay != nil && pay.Status == api.PaymentPaid {
		how := map[string]string{string(api.PayBankTransfer): "转账电汇", string(api.PayOnline): "支付宝", string(api.PayWeChat): "微信支付"}[pay.Method]
		in.PaidBy = strings.TrimSpace(how + " " + pay.TradeNo)
		if pay.AmountFen != q.TotalFen {
			return nil, "", fmt.Errorf("invoice %s: paid %d fen, schedule says %d", appID, pay.AmountFen, q.TotalFen)
		}
	}
	pdf, err := acceptform.RenderInvoice(in)
	if err != nil {
		return nil, "", err
	}
	return pdf, "电子发票-" + in.Number + ".pdf", nil
}
