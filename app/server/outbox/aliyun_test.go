package outbox

import (
	"context"
	"crypto/hmac"
	"crypto/sha1"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"certdesk/app/server/store"
)

// aliyunGateway is a loopback stand-in for dysmsapi that checks requests
// as Alibaba Cloud documents it: the signature recomputed independently
// (url.Values encoding with the documented replacements, not the
// adapter's encoder), the timestamp within 15 minutes, each nonce once.
type aliyunGateway struct {
	secret string
	mu     sync.Mutex
	nonces map[string]bool
	got    []url.Values
}

func (g *aliyunGateway) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	reply := func(status int, code, msg string) {
		w.WriteHeader(status)
		_ = json.NewEncoder(w).Encode(map[string]string{"Code": code, "Message": msg, "RequestId": "req-1"})
	}
	if err := r.ParseForm(); err != nil || r.Method != http.MethodPost {
		reply(400, "InvalidParameter", "bad request")
		return
	}
	form := r.PostForm
	sig := form.Get("Signature")
	rest := url.Values{}
	for k, v := range form {
		if k != "Signature" {
			rest[k] = v
		}
	}
	enc := strings.NewReplacer("+", "%20", "*", "%2A", "%7E", "~")
	canonical := enc.Replace(rest.Encode()) // Encode sorts by key
	toSign := "POST&%2F&" + enc.Replace(url.QueryEscape(canonical))
	m := hmac.New(sha1.New, []byte(g.secret+"&"))
	m.Write([]byte(toSign))
	want := base64.StdEncoding.EncodeToString(m.Sum(nil))
	if !hmac.Equal([]byte(sig), []byte(want)) {
		reply(400, "SignatureDoesNotMatch", "Specified signature is not matched with our calculation.")
		return
	}
	ts, err := time.Parse("2006-01-02T15:04:05Z", form.Get("Timestamp"))
	if err != nil || time.Since(ts).Abs() > 15*time.Minute {
		reply(400, "InvalidTimeStamp.Expired", "Specified time stamp or date value is expired.")
		return
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.nonces[form.Get("SignatureNonce")] {
		reply(400, "SignatureNonceUsed", "Specified signature nonce was used already.")
		return
	}
	g.nonces[form.Get("SignatureNonce")] = true
	if !strings.HasPrefix(form.Get("PhoneNumbers"), "1") || len(form.Get("PhoneNumbers")) != 11 {
		reply(200, "isv.MOBILE_NUMBER_ILLEGAL", "invalid mobile")
		return
	}
	g.got = append(g.got, form)
	_ = json.NewEncoder(w).Encode(map[string]string{"Code": "OK", "Message": "OK", "RequestId": "req-2", "BizId": "biz-1"})
}

func TestAliyunSMS(t *testing.T) {
	g := &aliyunGateway{secret: "tEsTsEcReT+/=", nonces: map[string]bool{}}
	srv := httptest.NewServer(g)
	defer srv.Close()
	ctx := context.Background()
	sms := &AliyunSMS{Endpoint: srv.URL, AccessKeyID: "LTAI5tTest", AccessKeySecret: g.secret, SignName: "证书助手",
		Templates: map[string]string{"status": "SMS_100001", "download_code": "SMS_100002"}}
	msg := func(subject, mobile string, params map[string]string) *Outgoing {
		return &Outgoing{Message: &store.Message{ID: store.NewID(), Channel: "sms", Recipient: mobile, Subject: subject, Params: params}}
	}
	// Variables with what encodings differ on: CJK, spaces, * ~ + / =.
	if err := sms.Send(ctx, msg("status:paid", "13800138000", map[string]string{"kind": "单位证书", "state": "已缴费 *~+/=", "app": "ab12cd34"})); err != nil {
		t.Fatalf("send: %v", err)
	}
	got := g.got[0]
	var vars map[string]string
	_ = json.Unmarshal([]byte(got.Get("TemplateParam")), &vars)
	if got.Get("TemplateCode") != "SMS_100001" || got.Get("SignName") != "证书助手" || got.Get("PhoneNumbers") != "13800138000" || vars["state"] != "已缴费 *~+/=" {
		t.Fatalf("gateway got %v", got)
	}
	// A wrong secret is what the gateway refuses.
	bad := &AliyunSMS{Endpoint: srv.URL, AccessKeyID: "LTAI5tTest", AccessKeySecret: "wrong", SignName: "证书助手", Templates: sms.Templates}
	var ge *GatewayError
	if err := bad.Send(ctx, msg("status:paid", "13800138001", nil)); !errors.As(err, &ge) || ge.Code != "SignatureDoesNotMatch" {
		t.Fatalf("wrong secret: %v", err)
	}
	// Two codes to one mobile within a minute: the second waits.
	if err := sms.Send(ctx, msg("download_code", "13900139000", map[string]string{"code": "12345678"})); err != nil {
		t.Fatal(err)
	}
	if err := sms.Send(ctx, msg("download_code", "13900139000", map[string]string{"code": "87654321"})); !errors.Is(err, ErrRateLimited) {
		t.Fatalf("second code in a minute: %v", err)
	}
	if err := sms.Send(ctx, msg("unlock_code", "13900139000", nil)); err == nil || !strings.Contains(err.Error(), "no template") {
		t.Fatalf("a kind without a template: %v", err)
	}

	// Through the outbox: an undeliverable message is retried and keeps the
	// gateway's reason for staff to see; a good one is sent once.
	st, err := store.Open(ctx, filepath.Join(t.TempDir(), "o.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	now := time.Now()
	for _, m := range []*store.Message{
		{ID: store.NewID(), Channel: "sms", Recipient: "23800138000", Subject: "status:paid", Body: "b", CreatedAt: now, Params: map[string]string{"state": "已缴费"}},
		{ID: store.NewID(), Channel: "sms", Recipient: "13700137000", Subject: "status:paid", Body: "b", CreatedAt: now, Params: map[string]string{"state": "已缴费"}},
	} {
		if err := st.InTx(ctx, func(tx *store.Tx) error { return tx.Enqueue(ctx, m) }); err != nil {
			t.Fatal(err)
		}
	}
	w := &Worker{Store: st, Provider: Router{SMS: sms}, Log: slog.New(slog.NewTextHandler(io.Discard, nil)), Now: func() time.Time { return now }}
	if n, err := w.Once(ctx); n != 1 || err != nil {
		t.Fatalf("outbox sent %d (%v)", n, err)
	}
	msgs, _ := st.Messages(ctx, "", 10)
	for _, m := range msgs {
		if m.Recipient == "23800138000" && (!m.SentAt.IsZero() || !strings.Contains(m.LastError, "isv.MOBILE_NUMBER_ILLEGAL") || m.Attempts != 1) {
			t.Fatalf("undeliverable: %+v", m)
		}
		if m.Recipient == "13700137000" && m.SentAt.IsZero() {
			t.Fatalf("not sent: %+v", m)
		}
	}
}
