package alipay_test

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

	"certdesk/app/server/alipay"
	"certdesk/app/server/devprov"
)

// TestClientAgainstTheSandbox: the open API client against the sandbox
// gateway over loopback HTTP — precreate, query, close, refund — and the
// answers it must not believe.
func TestClientAgainstTheSandbox(t *testing.T) {
	var handler http.Handler
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { handler.ServeHTTP(w, r) }))
	defer srv.Close()
	sb, err := devprov.NewSandbox(srv.URL, srv.Client(), slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /dev/alipay/gateway.do", sb.ServeGateway)
	handler = mux
	ctx := context.Background()
	c := &alipay.Client{Gateway: sb.GatewayURL(), AppID: sb.AppID(), Key: sb.AppKey(), AlipayKey: sb.PublicKey(), HTTP: srv.Client()}

	qr, err := c.Precreate(ctx, "cd001", 50000, "数字证书服务费", srv.URL+"/notify", 15*time.Minute)
	if err != nil || !strings.HasSuffix(qr, "/dev/pay/cd001") {
		t.Fatalf("precreate: %q %v", qr, err)
	}
	if tr, err := c.Query(ctx, "cd001"); err != nil || tr.Status != "WAIT_BUYER_PAY" || tr.AmountFen != 50000 {
		t.Fatalf("query: %+v %v", tr, err)
	}
	if err := c.Close(ctx, "cd001"); err != nil {
		t.Fatalf("close: %v", err)
	}
	if tr, _ := c.Query(ctx, "cd001"); tr.Status != "TRADE_CLOSED" {
		t.Fatalf("after close: %+v", tr)
	}
	var ae *alipay.APIError
	if _, err := c.Query(ctx, "nosuch"); !errors.As(err, &ae) || ae.SubCode != "ACQ.TRADE_NOT_EXIST" {
		t.Fatalf("unknown trade: %v", err)
	}

	// Paid without a notify: the query finds it; a refund is made once.
	if _, err := c.Precreate(ctx, "cd002", 30050, "数字证书服务费", srv.URL+"/notify", time.Minute); err != nil {
		t.Fatal(err)
	}
	if err := sb.Pay(ctx, "cd002", false); err != nil {
		t.Fatal(err)
	}
	if tr, err := c.Query(ctx, "cd002"); err != nil || tr.Status != "TRADE_SUCCESS" || tr.TradeNo == "" || tr.AmountFen != 30050 {
		t.Fatalf("paid trade: %+v %v", tr, err)
	}
	if err := c.Close(ctx, "cd002"); !errors.As(err, &ae) || ae.SubCode != "ACQ.TRADE_STATUS_ERROR" {
		t.Fatalf("closing a paid trade: %v", err)
	}
	for i := 0; i < 2; i++ { // a retry with the same request number is the same refund
		if err := c.Refund(ctx, "cd002", 30050, "cd002-refund", "申请已取消"); err != nil {
			t.Fatalf("refund %d: %v", i, err)
		}
	}
	if _, _, refunded, _ := sb.Trade("cd002"); refunded != 30050 {
		t.Fatalf("refunded %d fen", refunded)
	}
	if err := c.Refund(ctx, "cd002", 1, "cd002-again", "x"); !errors.As(err, &ae) || ae.SubCode != "ACQ.REFUND_AMT_NOT_EQUAL_TOTAL" {
		t.Fatalf("refund past the amount: %v", err)
	}

	// A request signed with another key is refused by the gateway.
	other, _ := rsa.GenerateKey(rand.Reader, 2048)
	bad := *c
	bad.Key = other
	if _, err := bad.Query(ctx, "cd002"); !errors.As(err, &ae) || ae.SubCode != "isv.invalid-signature" {
		t.Fatalf("a request signed by another key: %v", err)
	}
	// An answer changed on the way (or signed by someone else) is not believed.
	handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rec := httptest.NewRecorder()
		mux.ServeHTTP(rec, r)
		_, _ = io.WriteString(w, strings.Replace(rec.Body.String(), "/dev/pay/", "/evil/pay/", 1))
	})
	if _, err := c.Precreate(ctx, "cd003", 100, "x", srv.URL+"/notify", time.Minute); !errors.Is(err, alipay.ErrResponseSignature) {
		t.Fatalf("a changed answer: %v", err)
	}
	wrongKey := *c
	wrongKey.AlipayKey = &other.PublicKey
	handler = mux
	if _, err := wrongKey.Query(ctx, "cd002"); !errors.Is(err, alipay.ErrResponseSignature) {
		t.Fatalf("an answer not signed by Alipay's key: %v", err)
	}
}
