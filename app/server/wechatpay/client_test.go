package wechatpay_test

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"certdesk/app/server/devprov"
	"certdesk/app/server/wechatpay"
)

// TestClientAgainstTheSandbox: API v3 Native against the sandbox over
// loopback HTTP — order, query, close, refund, the notify — and what the
// client must not believe.
func TestClientAgainstTheSandbox(t *testing.T) {
	var handler http.Handler
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { handler.ServeHTTP(w, r) }))
	defer srv.Close()
	sb, err := devprov.NewWeChat(srv.URL, srv.Client(), slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/dev/wechatpay/v3/", sb.ServeAPI)
	handler = mux
	ctx := context.Background()
	c := &wechatpay.Client{BaseURL: sb.BaseURL(), MchID: sb.MchID, AppID: sb.AppID, SerialNo: sb.Serial, Key: sb.Merchant,
		PlatformKey: &sb.Platform.PublicKey, APIv3Key: sb.APIv3Key, HTTP: srv.Client()}

	code, err := c.Native(ctx, "wx001", 50000, "数字证书服务费", srv.URL+"/notify", time.Now().Add(15*time.Minute))
	if err != nil || !strings.HasSuffix(code, "/dev/wxpay/wx001") {
		t.Fatalf("native: %q %v", code, err)
	}
	if tr, err := c.Query(ctx, "wx001"); err != nil || tr.TradeState != "NOTPAY" || tr.Amount.Total != 50000 {
		t.Fatalf("query: %+v %v", tr, err)
	}
	if err := c.Close(ctx, "wx001"); err != nil {
		t.Fatalf("close: %v", err)
	}
	if tr, _ := c.Query(ctx, "wx001"); tr.TradeState != "CLOSED" {
		t.Fatalf("after close: %+v", tr)
	}
	var ae *wechatpay.APIError
	if _, err := c.Query(ctx, "nosuch"); !errors.As(err, &ae) || ae.Code != "ORDER_NOT_EXIST" {
		t.Fatalf("unknown order: %v", err)
	}

	if _, err := c.Native(ctx, "wx002", 30050, "数字证书服务费", srv.URL+"/notify", time.Now().Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	if err := sb.Pay(ctx, "wx002", false); err != nil {
		t.Fatal(err)
	}
	if tr, err := c.Query(ctx, "wx002"); err != nil || tr.TradeState != "SUCCESS" || tr.TransactionID == "" {
		t.Fatalf("paid: %+v %v", tr, err)
	}
	// The notify: verified, decrypted, for this merchant.
	body, h, _ := sb.NotifyFor("wx002")
	n, tr, err := c.ParseNotify(h, body)
	if err != nil || tr.OutTradeNo != "wx002" || tr.TradeState != "SUCCESS" || tr.Amount.Total != 30050 || n.EventType != "TRANSACTION.SUCCESS" {
		t.Fatalf("notify: %+v %+v %v", n, tr, err)
	}
	// A changed ciphertext does not open; a changed body does not verify.
	if _, _, err := c.ParseNotify(h, []byte(strings.Replace(string(body), `"TRANSACTION.SUCCESS"`, `"TRANSACTION.SUCCESX"`, 1))); !errors.Is(err, wechatpay.ErrSignature) {
		t.Fatalf("a changed notify: %v", err)
	}
	other, _ := rsa.GenerateKey(rand.Reader, 2048)
	forged := sb.Platform
	sb.Platform = other // someone else signs and encrypts with the right key
	fb, fh, _ := sb.NotifyFor("wx002")
	sb.Platform = forged
	if _, _, err := c.ParseNotify(fh, fb); !errors.Is(err, wechatpay.ErrSignature) {
		t.Fatalf("a notify signed by another key: %v", err)
	}
	wrong, wh, _ := sb.SealNotify([]byte(`{"appid":"wxother","mchid":"1900000999","out_trade_no":"wx002","trade_state":"SUCCESS","amount":{"total":30050}}`))
	if _, _, err := c.ParseNotify(wh, wrong); err == nil || !strings.Contains(err.Error(), "another merchant") {
		t.Fatalf("a notify for another merchant: %v", err)
	}

	for i := 0; i < 2; i++ {
		if err := c.Refund(ctx, "wx002", 30050, "wx002-refund", "申请已取消"); err != nil {
			t.Fatalf("refund %d: %v", i, err)
		}
	}
	if _, _, refunded, _ := sb.Trade("wx002"); refunded != 30050 {
		t.Fatalf("refunded %d", refunded)
	}
	if err := c.Close(ctx, "wx002"); !errors.As(err, &ae) || ae.Code != "ORDERPAID" {
		t.Fatalf("closing a paid order: %v", err)
	}
	bad := *c
	bad.Key = other
	if _, err := bad.Query(ctx, "wx002"); !errors.As(err, &ae) || ae.Status != 401 || ae.Code != "SIGN_ERROR" {
		t.Fatalf("a request signed by another key: %v", err)
	}
	handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rec := httptest.NewRecorder()
		mux.ServeHTTP(rec, r)
		for k, v := range rec.Header() {
			w.Header()[k] = v
		}
		w.WriteHeader(rec.Code)
		_, _ = io.WriteString(w, strings.Replace(rec.Body.String(), "/dev/wxpay/", "/evil/pay/", 1))
	})
	if _, err := c.Native(ctx, "wx003", 100, "x", srv.URL+"/notify", time.Now().Add(time.Minute)); !errors.Is(err, wechatpay.ErrSignature) {
		t.Fatalf("a changed answer: %v", err)
	}
}
