// Package wechatpay speaks WeChat Pay's API v3 for Native payment (the
// applicant scans a code_url QR code): signed requests
// (WECHATPAY2-SHA256-RSA2048 with the merchant's key), answers and
// notifies verified with the platform certificate's key, and the notify's
// resource decrypted with the API v3 key (AEAD_AES_256_GCM). Written over
// net/http: the official Go SDK (wechatpay-apiv3/wechatpay-go) would do
// it too, but brings its own HTTP stack and certificate downloader for
// four calls whose scheme is a page of documented crypto.
package wechatpay

import (
	"bytes"
	"context"
	"crypto"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// Client calls the merchant API.
type Client struct {
	BaseURL     string          // https://api.mch.weixin.qq.com
	MchID       string          // 商户号
	AppID       string          // the app the payment is made in
	SerialNo    string          // the merchant certificate's serial
	Key         *rsa.PrivateKey // the merchant's key: signs requests
	PlatformKey *rsa.PublicKey  // the platform certificate's key: answers and notifies
	APIv3Key    []byte          // 32 bytes: decrypts notifies
	HTTP        *http.Client
	Now         func() time.Time
}

// ErrSignature: an answer or notify not signed by the platform key, or
// outside the five minutes WeChat Pay allows.
var ErrSignature = errors.New("wechatpay: signature does not verify")

// APIError is WeChat Pay's refusal.
type APIError struct {
	Status  int
	Code    string
	Message string
}

func (e *APIError) Error() string {
	return fmt.Sprintf("wechatpay %d %s: %s", e.Status, e.Code, e.Message)
}

// Message is what is signed: lines ended by \n.
func Message(parts ...string) string { return strings.Join(parts, "\n") + "\n" }

// SignRSA signs with SHA256withRSA, base64.
func SignRSA(key *rsa.PrivateKey, msg string) (string, error) {
	h := sha256.Sum256([]byte(msg))
	s, err := rsa.SignPKCS1v15(rand.Reader, key, crypto.SHA256, h[:])
	if err != nil {
		return "", err
	}
	return base64.StdEncoding.EncodeToString(s), nil
}

// VerifyRSA checks a SHA256withRSA signature.
func VerifyRSA(pub *rsa.PublicKey, msg, sig string) error {
	s, err := base64.StdEncoding.DecodeString(sig)
	if err != nil || pub == nil {
		return ErrSignature
	}
	h := sha256.Sum256([]byte(msg))
	if rsa.VerifyPKCS1v15(pub, crypto.SHA256, h[:], s) != nil {
		return ErrSignature
	}
	return nil
}

// Authorization is the request's Authorization header.
func Authorization(mchID, serial string, key *rsa.PrivateKey, method, pathQuery string, body []byte, now time.Time) (string, error) {
	var n [16]byte
	_, _ = rand.Read(n[:])
	nonce := hex.EncodeToString(n[:])
	ts := strconv.FormatInt(now.Unix(), 10)
	sig, err := SignRSA(key, Message(method, pathQuery, ts, nonce, string(body)))
	if err != nil {
		return "", err
	}
	return fmt.Sprintf(`WECHATPAY2-SHA256-RSA2048 mchid="%s",nonce_str="%s",signature="%s",timestamp="%s",serial_no="%s"`, mchID, nonce, sig, ts, serial), nil
}

// ParseAuthorization reads the header's fields (the sandbox checks them).
func ParseAuthorization(h string) (map[string]string, bool) {
	rest, ok := strings.CutPrefix(h, "WECHATPAY2-SHA256-RSA2048 ")
	if !ok {
		return nil, false
	}
	out := map[string]string{}
	for _, kv := range strings.Split(rest, ",") {
		k, v, ok := strings.Cut(strings.TrimSpace(kv), "=")
		if !ok || len(v) < 2 || v[0] != '"' || v[len(v)-1] != '"' {
			return nil, false
		}
		out[k] = v[1 : len(v)-1]
	}
	return out, true
}

// VerifyResponse checks the signature headers of an answer or notify.
func VerifyResponse(pub *rsa.PublicKey, h http.Header, body []byte, now time.Time) error {
	ts, nonce, sig := h.Get("Wechatpay-Timestamp"), h.Get("Wechatpay-Nonce"), h.Get("Wechatpay-Signature")
	sec, err := strconv.ParseInt(ts, 10, 64)
	if err != nil || now.Sub(time.Unix(sec, 0)).Abs() > 5*time.Minute || nonce == "" {
		return ErrSignature
	}
	return VerifyRSA(pub, Message(ts, nonce, string(body)), sig)
}

// SignResponse sets the signature headers (the sandbox signs with it).
func SignResponse(key *rsa.PrivateKey, serial string, h http.Header, body []byte, now time.Time) error {
	var n [16]byte
	_, _ = rand.Read(n[:])
	ts, nonce := strconv.FormatInt(now.Unix(), 10), hex.EncodeToString(n[:])
	sig, err := SignRSA(key, Message(ts, nonce, string(body)))
	if err != nil {
		return err
	}
	h.Set("Wechatpay-Timestamp", ts)
	h.Set("Wechatpay-Nonce", nonce)
	h.Set("Wechatpay-Signature", sig)
	h.Set("Wechatpay-Serial", serial)
	return nil
}

// Resource is a notify's encrypted payload.
type Resource struct {
	Algorithm      string `json:"algorithm"`
	Ciphertext     string `json:"ciphertext"`
	AssociatedData string `json:"associated_data"`
	Nonce          string `json:"nonce"`
	OriginalType   string `json:"original_type"`
}

// Notify is the notify's envelope.
type Notify struct {
	ID           string   `json:"id"`
	CreateTime   string   `json:"create_time"`
	EventType    string   `json:"event_type"`
	ResourceType string   `json:"resource_type"`
	Resource     Resource `json:"resource"`
	Summary      string   `json:"summary"`
}

// Decrypt opens a resource with the API v3 key.
func Decrypt(apiV3Key []byte, r Resource) ([]byte, error) {
	if r.Algorithm != "AEAD_AES_256_GCM" || len(apiV3Key) != 32 {
		return nil, errors.New("wechatpay: not an AEAD_AES_256_GCM resource, or the API v3 key is not 32 bytes")
	}
	ct, err := base64.StdEncoding.DecodeString(r.Ciphertext)
	if err != nil {
		return nil, err
	}
	block, _ := aes.NewCipher(apiV3Key)
	gcm, err := cipher.NewGCMWithNonceSize(block, len(r.Nonce))
	if err != nil {
		return nil, err
	}
	return gcm.Open(nil, []byte(r.Nonce), ct, []byte(r.AssociatedData))
}

// Encrypt seals a resource (the sandbox's notifies).
func Encrypt(apiV3Key []byte, plain []byte, associated string) (Resource, error) {
	block, err := aes.NewCipher(apiV3Key)
	if err != nil {
		return Resource{}, err
	}
	gcm, _ := cipher.NewGCM(block)
	var n [6]byte
	_, _ = rand.Read(n[:])
	nonce := hex.EncodeToString(n[:]) // 12 characters, as WeChat Pay's nonces are
	ct := gcm.Seal(nil, []byte(nonce), plain, []byte(associated))
	return Resource{Algorithm: "AEAD_AES_256_GCM", Ciphertext: base64.StdEncoding.EncodeToString(ct), AssociatedData: associated, Nonce: nonce, OriginalType: "transaction"}, nil
}

// Transaction is a payment as WeChat Pay reports it.
type Transaction struct {
	AppID         string `json:"appid"`
	MchID         string `json:"mchid"`
	OutTradeNo    string `json:"out_trade_no"`
	TransactionID string `json:"transaction_id"`
	TradeState    string `json:"trade_state"` // SUCCESS, NOTPAY, CLOSED, REFUND, USERPAYING, PAYERROR
	Amount        struct {
		Total    int64  `json:"total"`
		Currency string `json:"currency"`
	} `json:"amount"`
}

func (c *Client) now() time.Time {
	if c.Now != nil {
		return c.Now()
	}
	return time.Now()
}

// do makes one call; out receives the verified JSON answer.
func (c *Client) do(ctx context.Context, method, pathQuery string, in, out any) error {
	var body []byte
	if in != nil {
		var err error
		if body, err = json.Marshal(in); err != nil {
			return err
		}
	}
	auth, err := Authorization(c.MchID, c.SerialNo, c.Key, method, pathQuery, body, c.now())
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, method, strings.TrimRight(c.BaseURL, "/")+pathQuery, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", auth)
	req.Header.Set("Accept", "application/json")
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	hc := c.HTTP
	if hc == nil {
		hc = &http.Client{Timeout: 15 * time.Second}
	}
	res, err := hc.Do(req)
	if err != nil {
		return fmt.Errorf("wechatpay %s: %w", pathQuery, err)
	}
	defer res.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(res.Body, 1<<20))
	if err != nil {
		return err
	}
	if res.StatusCode/100 != 2 {
		var e struct{ Code, Message string }
		_ = json.Unmarshal(raw, &e)
		return &APIError{Status: res.StatusCode, Code: e.Code, Message: e.Message}
	}
	if err := VerifyResponse(c.PlatformKey, res.Header, raw, c.now()); err != nil {
		return fmt.Errorf("wechatpay %s: %w", pathQuery, err)
	}
	if out != nil && len(raw) > 0 {
		return json.Unmarshal(raw, out)
	}
	return nil
}

// Native opens a Native order and returns its code_url.
func (c *Client) Native(ctx context.Context, outTradeNo string, amountFen int64, description, notifyURL string, expire time.Time) (string, error) {
	var out struct {
		CodeURL string `json:"code_url"`
	}
	err := c.do(ctx, http.MethodPost, "/v3/pay/transactions/native", map[string]any{
		"appid": c.AppID, "mchid": c.MchID, "description": description, "out_trade_no": outTradeNo,
		"time_expire": expire.Format(time.RFC3339), "notify_url": notifyURL,
		"amount": map[string]any{"total": amountFen, "currency": "CNY"},
	}, &out)
	if err != nil {
		return "", err
	}
	if out.CodeURL == "" {
		return "", fmt.Errorf("wechatpay native %s: no code_url", outTradeNo)
	}
	return out.CodeURL, nil
}

// Query reads an order by our number.
func (c *Client) Query(ctx context.Context, outTradeNo string) (*Transaction, error) {
	var t Transaction
	if err := c.do(ctx, http.MethodGet, "/v3/pay/transactions/out-trade-no/"+url.PathEscape(outTradeNo)+"?mchid="+url.QueryEscape(c.MchID), nil, &t); err != nil {
		return nil, err
	}
	if t.OutTradeNo != outTradeNo || t.MchID != c.MchID {
		return nil, fmt.Errorf("wechatpay query %s: the answer is about another order", outTradeNo)
	}
	return &t, nil
}

// Close closes an unpaid order.
func (c *Client) Close(ctx context.Context, outTradeNo string) error {
	return c.do(ctx, http.MethodPost, "/v3/pay/transactions/out-trade-no/"+url.PathEscape(outTradeNo)+"/close", map[string]string{"mchid": c.MchID}, nil)
}

// Refund returns a paid order's money; refundNo makes a retry the same
// refund.
func (c *Client) Refund(ctx context.Context, outTradeNo string, amountFen int64, refundNo, reason string) error {
	var out struct {
		Status string `json:"status"`
	}
	if err := c.do(ctx, http.MethodPost, "/v3/refund/domestic/refunds", map[string]any{"out_trade_no": outTradeNo, "out_refund_no": refundNo, "reason": reason,
		"amount": map[string]any{"refund": amountFen, "total": amountFen, "currency": "CNY"}}, &out); err != nil {
		return err
	}
	if out.Status != "SUCCESS" && out.Status != "PROCESSING" {
		return fmt.Errorf("wechatpay refund %s: status %q", outTradeNo, out.Status)
	}
	return nil
}

// ParseNotify verifies a notify (headers and body) and returns the paid
// transaction it carries.
func (c *Client) ParseNotify(h http.Header, body []byte) (*Notify, *Transaction, error) {
	if err := VerifyResponse(c.PlatformKey, h, body, c.now()); err != nil {
		return nil, nil, err
	}
	var n Notify
	if err := json.Unmarshal(body, &n); err != nil {
		return nil, nil, fmt.Errorf("wechatpay notify: %w", err)
	}
	plain, err := Decrypt(c.APIv3Key, n.Resource)
	if err != nil {
		return nil, nil, fmt.Errorf("wechatpay notify %s: %w", n.ID, err)
	}
	var t Transaction
	if err := json.Unmarshal(plain, &t); err != nil {
		return nil, nil, fmt.Errorf("wechatpay notify %s: %w", n.ID, err)
	}
	if t.MchID != c.MchID || t.AppID != c.AppID {
		return nil, nil, fmt.Errorf("wechatpay notify %s: for another merchant", n.ID)
	}
	return &n, &t, nil
}
