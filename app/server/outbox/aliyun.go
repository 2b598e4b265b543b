package outbox

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha1"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"sync"
	"time"
)

// AliyunSMS sends the SMS channel through Alibaba Cloud SMS (短信服务,
// dysmsapi SendSms, API version 2017-05-25), signed as its RPC API is
// (signature version 1.0, HMAC-SHA1 over the canonical query). A template
// of the CA's, approved by Alibaba Cloud, is sent for each kind of message
// with the message's variables (Message.Params); free text is not allowed
// on that gateway. The signing is ours, about forty lines: Alibaba's Go SDK
// brings a large tree of its own for one call, and the scheme is documented
// (help.aliyun.com "RPC 风格接口签名").
type AliyunSMS struct {
	Endpoint        string // default https://dysmsapi.aliyuncs.com
	Region          string // default cn-hangzhou
	AccessKeyID     string
	AccessKeySecret string // never logged
	SignName        string
	// Templates maps a kind (status, download_code, unlock_code, renewal)
	// to its template code (SMS_…).
	Templates map[string]string
	// PerMobileHour caps the messages to one mobile in an hour (default
	// 20); a code (download, unlock) waits at least a minute after the
	// last one to the same mobile. A message over the cap is retried later
	// with the outbox's backoff, never dropped.
	PerMobileHour int
	HTTP          *http.Client
	Now           func() time.Time

	mu   sync.Mutex
	sent map[string][]sentSMS
}

type sentSMS struct {
	at   time.Time
	kind string
}

// ErrRateLimited is a message held back for its mobile's limit.
var ErrRateLimited = errors.New("sms: over the per-mobile limit, retried later")

// GatewayError is the gateway's refusal, with its code.
type GatewayError struct {
	Status    int
	Code      string
	Message   string
	RequestID string
}

func (e *GatewayError) Error() string {
	return fmt.Sprintf("aliyun sms %d %s: %s (request %s)", e.Status, e.Code, e.Message, e.RequestID)
}

// smsKind is the template a message needs.
func smsKind(subject string) string {
	switch {
	case strings.HasPrefix(subject, "status:"):
		return "status"
	case strings.HasPrefix(subject, "renewal_reminder"):
		return "renewal"
	}
	return subject
}

// AliyunEncode is the percent-encoding the signature uses: RFC 3986,
// unreserved characters kept, everything else as %XX (space as %20).
func AliyunEncode(s string) string {
	var b strings.Builder
	for _, c := range []byte(s) {
		if 'A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-' || c == '_' || c == '.' || c == '~' {
			b.WriteByte(c)
		} else {
			fmt.Fprintf(&b, "%%%02X", c)
		}
	}
	return b.String()
}

// AliyunSign signs the parameters of a request made with method.
func AliyunSign(method, secret string, params map[string]string) string {
	keys := make([]string, 0, len(params))
	for k := range params {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	pairs := make([]string, len(keys))
	for i, k := range keys {
		pairs[i] = AliyunEncode(k) + "=" + AliyunEncode(params[k])
	}
	toSign := method + "&" + AliyunEncode("/") + "&" + AliyunEncode(strings.Join(pairs, "&"))
	m := hmac.New(sha1.New, []byte(secret+"&"))
	m.Write([]byte(toSign))
	return base64.StdEncoding.EncodeToString(m.Sum(nil))
}

func (a *AliyunSMS) now() time.Time {
	if a.Now != nil {
		return a.Now()
	}
	return time.Now()
}

// allow counts a message against its mobile's limits.
func (a *AliyunSMS) allow(mobile, kind string) bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.sent == nil {
		a.sent = map[string][]sentSMS{}
	}
	now := a.now()
	limit := a.PerMobileHour
	if limit <= 0 {
		limit = 20
	}
	var keep []sentSMS
	for _, s := range a.sent[mobile] {
		if now.Sub(s.at) < time.Hour {
			keep = append(keep, s)
		}
	}
	a.sent[mobile] = keep
	if len(keep) >= limit {
		return false
	}
	if kind == "download_code" || kind == "unlock_code" {
		for _, s := range keep {
			if (s.kind == "download_code" || s.kind == "unlock_code") && now.Sub(s.at) < time.Minute {
				return false
			}
		}
	}
	a.sent[mobile] = append(keep, sentSMS{at: now, kind: kind})
	return true
}

// Send delivers one SMS; nil once the gateway accepted it.
func (a *AliyunSMS) Send(ctx context.Context, m *Outgoing) error {
	kind := smsKind(m.Subject)
	tpl := a.Templates[kind]
	if tpl == "" {
		return fmt.Errorf("aliyun sms: no template for %q messages (sms.templates.%s)", kind, kind)
	}
	if !a.allow(m.Recipient, kind) {
		return ErrRateLimited
	}
	vars, err := json.Marshal(m.Params)
	if err != nil {
		return err
	}
	var nonce [16]byte
	_, _ = rand.Read(nonce[:])
	region := a.Region
	if region == "" {
		region = "cn-hangzhou"
	}
	p := map[string]string{
		"AccessKeyId": a.AccessKeyID, "Action": "SendSms", "Format": "JSON", "RegionId": region,
		"SignatureMethod": "HMAC-SHA1", "SignatureNonce": hex.EncodeToString(nonce[:]), "SignatureVersion": "1.0",
		"Timestamp": a.now().UTC().Format("2006-01-02T15:04:05Z"), "Version": "2017-05-25",
		"PhoneNumbers": m.Recipient, "SignName": a.SignName, "TemplateCode": tpl, "TemplateParam": string(vars),
		"OutId": m.ID, // the gateway's receipts name our message
	}
	p["Signature"] = AliyunSign(http.MethodPost, a.AccessKeySecret, p)
	form := url.Values{}
	for k, v := range p {
		form.Set(k, v)
	}
	endpoint := a.Endpoint
	if endpoint == "" {
		endpoint = "https://dysmsapi.aliyuncs.com"
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, strings.TrimRight(endpoint, "/")+"/", strings.NewReader(form.Encode()))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	hc := a.HTTP
	if hc == nil {
		hc = &http.Client{Timeout: 15 * time.Second}
	}
	res, err := hc.Do(req)
	if err != nil {
		return fmt.Errorf("aliyun sms: %w", err)
	}
	defer res.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(res.Body, 64<<10))
	var out struct{ Code, Message, RequestId, BizId string }
	if err := json.Unmarshal(body, &out); err != nil {
		return fmt.Errorf("aliyun sms: status %d, unreadable answer", res.StatusCode)
	}
	if res.StatusCode != http.StatusOK || out.Code != "OK" {
		return &GatewayError{Status: res.StatusCode, Code: out.Code, Message: out.Message, RequestID: out.RequestId}
	}
	return nil
}
