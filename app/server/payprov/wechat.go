package payprov

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"time"

	"certdesk/app/server/service"
	"certdesk/app/server/wechatpay"
)

// WeChat is WeChat Pay Native (the applicant scans the code_url).
type WeChat struct {
	C   *wechatpay.Client
	Now func() time.Time
}

// AppID is the merchant number.
func (w WeChat) AppID() string { return w.C.MchID }

// Precreate opens the order, expiring with the payment.
func (w WeChat) Precreate(ctx context.Context, outTradeNo string, amountFen int64, subject, notifyURL string) (string, error) {
	now := time.Now
	if w.Now != nil {
		now = w.Now
	}
	return w.C.Native(ctx, outTradeNo, amountFen, subject, notifyURL, now().Add(service.PaymentTTL))
}

// Query maps WeChat Pay's trade states to the service's.
func (w WeChat) Query(ctx context.Context, outTradeNo string) (service.PayStatus, error) {
	t, err := w.C.Query(ctx, outTradeNo)
	var ae *wechatpay.APIError
	if errors.As(err, &ae) && ae.Code == "ORDER_NOT_EXIST" {
		return service.PayStatus{TradeStatus: "WAIT_BUYER_PAY"}, nil
	}
	if err != nil {
		return service.PayStatus{}, err
	}
	st := "WAIT_BUYER_PAY"
	switch t.TradeState {
	case "SUCCESS", "REFUND": // REFUND: paid, then (part) refunded
		st = "TRADE_SUCCESS"
	case "CLOSED", "REVOKED", "PAYERROR":
		st = "TRADE_CLOSED"
	}
	return service.PayStatus{TradeStatus: st, TradeNo: t.TransactionID, AmountFen: t.Amount.Total}, nil
}

// Close closes an unpaid order; one never created needs no closing.
func (w WeChat) Close(ctx context.Context, outTradeNo string) error {
	err := w.C.Close(ctx, outTradeNo)
	var ae *wechatpay.APIError
	if errors.As(err, &ae) && ae.Code == "ORDER_NOT_EXIST" {
		return nil
	}
	return err
}

// Refund returns a paid order's money.
func (w WeChat) Refund(ctx context.Context, outTradeNo string, amountFen int64, requestNo, reason string) error {
	return w.C.Refund(ctx, outTradeNo, amountFen, requestNo, reason)
}

// VerifyNotify: WeChat Pay's notify is not a form (ParseNotify reads it).
func (w WeChat) VerifyNotify(url.Values) error {
	return errors.New("wechatpay notifies come as signed JSON to their own route")
}

// ParseNotify verifies and opens the notify.
func (w WeChat) ParseNotify(h http.Header, body []byte) (string, string, int64, bool, error) {
	_, t, err := w.C.ParseNotify(h, body)
	if err != nil {
		return "", "", 0, false, err
	}
	return t.OutTradeNo, t.TransactionID, t.Amount.Total, t.TradeState == "SUCCESS", nil
}
