package alipay

import (
	"context"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"certdesk/app/apply"
)

// Client calls Alipay's open API (当面付: precreate, query, close,
// refund) at a gateway, signing requests with the app's key and checking
// every response's signature with Alipay's public key. The protocol is a
// signed form POST and a signed JSON answer; it is written here over
// net/http rather than through smartwalle/alipay because the signing is
// already ours (rsa2.go) and the four calls are a page.
type Client struct {
	Gateway   string          // https://openapi.alipay.com/gateway.do
	AppID     string          //
	Key       *rsa.PrivateKey // the app's private key: signs requests
	AlipayKey *rsa.PublicKey  // Alipay's public key: responses and notifies
	HTTP      *http.Client
	Now       func() time.Time
}

// Trade is a trade as Alipay reports it.
type Trade struct {
	Status    string // WAIT_BUYER_PAY, TRADE_SUCCESS, TRADE_FINISHED, TRADE_CLOSED
	TradeNo   string
	AmountFen int64
}

// APIError is Alipay's refusal of a call.
type APIError struct {
	Code, Msg, SubCode, SubMsg string
}

func (e *APIError) Error() string {
	return fmt.Sprintf("alipay %s %s: %s %s", e.Code, e.Msg, e.SubCode, e.SubMsg)
}

// ErrResponseSignature: an answer not signed by Alipay's key.
var ErrResponseSignature = errors.New("alipay response signature does not verify")

var beijing = time.FixedZone("CST", 8*3600)

// call makes one API call and returns its verified response object.
func (c *Client) call(ctx context.Context, method string, biz any, notifyURL string) (json.RawMessage, error) {
	bc, err := json.Marshal(biz)
	if err != nil {
		return nil, err
	}
	now := time.Now
	if c.Now != nil {
		now = c.Now
	}
	p := url.Values{"app_id": {c.AppID}, "method": {method}, "format": {"JSON"}, "charset": {"utf-8"},
		"timestamp": {now().In(beijing).Format("2006-01-02 15:04:05")}, "version": {"1.0"}, "biz_content": {string(bc)}}
	if notifyURL != "" {
		p.Set("notify_url", notifyURL)
	}
	if err := Sign(c.Key, p); err != nil {
		return nil, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.Gateway, strings.NewReader(p.Encode()))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded;charset=utf-8")
	hc := c.HTTP
	if hc == nil {
		hc = &http.Client{Timeout: 15 * time.Second}
	}
	res, err := hc.Do(req)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", method, err)
	}
	defer res.Body.Close()
	body, err := io.ReadAll(io.LimitReader(res.Body, 1<<20))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", method, err)
	}
	var env map[string]json.RawMessage
	if err := json.Unmarshal(body, &env); err != nil {
		return nil, fmt.Errorf("%s: status %d, not JSON", method, res.StatusCode)
	}
	raw := env[strings.ReplaceAll(method, ".", "_")+"_response"]
	var sig string
	_ = json.Unmarshal(env["sign"], &sig)
	if err := verifyBytes(c.AlipayKey, raw, sig); err != nil {
		// An error answer of the gateway itself (bad app ID, bad
		// signature) comes as error_response; it is unsigned when the
		// app is unknown, so it is reported, not trusted.
		if er, ok := env["error_response"]; ok {
			var e APIError
			_ = json.Unmarshal(er, &struct {
				Code    *string `json:"code"`
				Msg     *string `json:"msg"`
				SubCode *string `json:"sub_code"`
				SubMsg  *string `json:"sub_msg"`
			}{&e.Code, &e.Msg, &e.SubCode, &e.SubMsg})
			return nil, &e
		}
		return nil, fmt.Errorf("%s: %w", method, err)
	}
	var head struct {
		Code    string `json:"code"`
		Msg     string `json:"msg"`
		SubCode string `json:"sub_code"`
		SubMsg  string `json:"sub_msg"`
	}
	if err := json.Unmarshal(raw, &head); err != nil {
		return nil, fmt.Errorf("%s: %w", method, err)
	}
	if head.Code != "10000" {
		return nil, &APIError{head.Code, head.Msg, head.SubCode, head.SubMsg}
	}
	return raw, nil
}

// verifyBytes checks a signature over exact bytes (a response object as
// it stands in the answer).
func verifyBytes(pub *rsa.PublicKey, content []byte, sig string) error {
	if len(content) == 0 || pub == nil {
		return ErrResponseSignature
	}
	s, err := base64.StdEncoding.DecodeString(sig)
	if err != nil {
		return ErrResponseSignature
	}
	h := sha256.Sum256(content)
	if rsa.VerifyPKCS1v15(pub, crypto.SHA256, h[:], s) != nil {
		return ErrResponseSignature
	}
	return nil
}

// SignBytes signs exact bytes (the sandbox signs its answers with it).
func SignBytes(key *rsa.PrivateKey, content []byte) (string, error) {
	h := sha256.Sum256(content)
	s, err := rsa.SignPKCS1v15(rand.Reader, key, crypto.SHA256, h[:])
	if err != nil {
		return "", err
	}
	return base64.StdEncoding.EncodeToString(s), nil
}

// Precreate opens a trade (alipay.trade.precreate) and returns its QR
// code's content.
func (c *Client) Precreate(ctx context.Context, outTradeNo string, amountFen int64, subject, notifyURL string, timeout time.Duration) (string, error) {
	raw, err := c.call(ctx, "alipay.trade.precreate", map[string]string{"out_trade_no": outTradeNo, "total_amount": apply.FormatFen(amountFen),
		"subject": subject, "timeout_express": fmt.Sprintf("%dm", max(1, int(timeout.Minutes())))}, notifyURL)
	if err != nil {
		return "", err
	}
	var r struct {
		OutTradeNo string `json:"out_trade_no"`
		QRCode     string `json:"qr_code"`
	}
	if err := json.Unmarshal(raw, &r); err != nil || r.QRCode == "" || r.OutTradeNo != outTradeNo {
		return "", fmt.Errorf("precreate %s: no QR code for this trade in the answer", outTradeNo)
	}
	return r.QRCode, nil
}

// Query reads a trade (alipay.trade.query).
func (c *Client) Query(ctx context.Context, outTradeNo string) (Trade, error) {
	raw, err := c.call(ctx, "alipay.trade.query", map[string]string{"out_trade_no": outTradeNo}, "")
	if err != nil {
		return Trade{}, err
	}
	var r struct {
		OutTradeNo  string `json:"out_trade_no"`
		TradeNo     string `json:"trade_no"`
		TradeStatus string `json:"trade_status"`
		TotalAmount string `json:"total_amount"`
	}
	if err := json.Unmarshal(raw, &r); err != nil || r.OutTradeNo != outTradeNo {
		return Trade{}, fmt.Errorf("query %s: the answer is about another trade", outTradeNo)
	}
	fen, err := apply.ParseYuan(r.TotalAmount)
	if err != nil {
		return Trade{}, fmt.Errorf("query %s: %w", outTradeNo, err)
	}
	return Trade{Status: r.TradeStatus, TradeNo: r.TradeNo, AmountFen: fen}, nil
}

// Close closes an unpaid trade (alipay.trade.close).
func (c *Client) Close(ctx context.Context, outTradeNo string) error {
	_, err := c.call(ctx, "alipay.trade.close", map[string]string{"out_trade_no": outTradeNo}, "")
	return err
}

// Refund returns money of a paid trade (alipay.trade.refund); requestNo
// makes a retry the same refund, never a second one.
func (c *Client) Refund(ctx context.Context, outTradeNo string, amountFen int64, requestNo, reason string) error {
	raw, err := c.call(ctx, "alipay.trade.refund", map[string]string{"out_trade_no": outTradeNo, "refund_amount": apply.FormatFen(amountFen),
		"out_request_no": requestNo, "refund_reason": reason}, "")
	if err != nil {
		return err
	}
	var r struct {
		OutTradeNo string `json:"out_trade_no"`
		RefundFee  string `json:"refund_fee"`
	}
	if err := json.Unmarshal(raw, &r); err != nil || r.OutTradeNo != outTradeNo {
		return fmt.Errorf("refund %s: the answer is about another trade", outTradeNo)
	}
	if fen, err := apply.ParseYuan(r.RefundFee); err != nil || fen < amountFen {
		return fmt.Errorf("refund %s: refunded %q, asked %s", outTradeNo, r.RefundFee, apply.FormatFen(amountFen))
	}
	return nil
}

// VerifyNotify checks an asynchronous notify with Alipay's public key.
func (c *Client) VerifyNotify(params url.Values) error { return Verify(c.AlipayKey, params) }
