package alipay

import (
	"crypto/rand"
	"crypto/rsa"
	"errors"
	"net/url"
	"testing"
)

func TestSignVerify(t *testing.T) {
	key, _ := rsa.GenerateKey(rand.Reader, 2048)
	other, _ := rsa.GenerateKey(rand.Reader, 2048)
	p := url.Values{"out_trade_no": {"cd1"}, "total_amount": {"520.00"}, "trade_status": {"TRADE_SUCCESS"}, "app_id": {"2026"}, "empty": {""}}
	if got := SignContent(p); got != "app_id=2026&out_trade_no=cd1&total_amount=520.00&trade_status=TRADE_SUCCESS" {
		t.Fatalf("content %q", got)
	}
	if err := Sign(key, p); err != nil {
		t.Fatal(err)
	}
	if err := Verify(&key.PublicKey, p); err != nil {
		t.Fatalf("own signature: %v", err)
	}
	if err := Verify(&other.PublicKey, p); !errors.Is(err, ErrSignature) {
		t.Fatal("another key verified")
	}
	p.Set("total_amount", "0.01")
	if err := Verify(&key.PublicKey, p); !errors.Is(err, ErrSignature) {
		t.Fatal("a changed amount verified")
	}
}
