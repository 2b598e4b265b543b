// Package payprov puts the real payment providers behind the service's
// PayProvider: Alipay's open API today (over app/server/alipay's client).
// The development sandbox (devprov) speaks the same protocol, so the same
// adapter runs in development and in production.
package payprov

import (
	"context"
	"errors"
	"net/url"

	"certdesk/app/server/alipay"
	"certdesk/app/server/service"
)

// Alipay is 当面付 (face-to-face payment: the applicant scans a QR code).
type Alipay struct{ C *alipay.Client }

// AppID is the merchant app the notifies must name.
func (a Alipay) AppID() string { return a.C.AppID }

// Precreate opens the trade; the QR code expires with the payment.
func (a Alipay) Precreate(ctx context.Context, outTradeNo string, amountFen int64, subject, notifyURL string) (string, error) {
	return a.C.Precreate(ctx, outTradeNo, amountFen, subject, notifyURL, service.PaymentTTL)
}

// Query asks for a trade whose notify is late. A trade Alipay does not
// know yet (not scanned) is still waiting.
func (a Alipay) Query(ctx context.Context, outTradeNo string) (service.PayStatus, error) {
	t, err := a.C.Query(ctx, outTradeNo)
	var ae *alipay.APIError
	if errors.As(err, &ae) && ae.SubCode == "ACQ.TRADE_NOT_EXIST" {
		return service.PayStatus{TradeStatus: "WAIT_BUYER_PAY"}, nil
	}
	if err != nil {
		return service.PayStatus{}, err
	}
	return service.PayStatus{TradeStatus: t.Status, TradeNo: t.TradeNo, AmountFen: t.AmountFen}, nil
}

// Close closes an unpaid trade; one Alipay never saw needs no closing.
func (a Alipay) Close(ctx context.Context, outTradeNo string) error {
	err := a.C.Close(ctx, outTradeNo)
	var ae *alipay.APIError
	if errors.As(err, &ae) && ae.SubCode == "ACQ.TRADE_NOT_EXIST" {
		return nil
	}
	return err
}

// Refund returns a paid trade's money.
func (a Alipay) Refund(ctx context.Context, outTradeNo string, amountFen int64, requestNo, reason string) error {
	return a.C.Refund(ctx, outTradeNo, amountFen, requestNo, reason)
}

// VerifyNotify checks the notify's signature.
func (a Alipay) VerifyNotify(params url.Values) error { return a.C.VerifyNotify(params) }
