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

// A value holding '&' lets the same sign content be split into other
// pairs: the signature is genuine, the parameters are not what was signed.
func TestResplitRefused(t *testing.T) {
	key, _ := rsa.GenerateKey(rand.Reader, 2048)
	p := url.Values{"notify_type": {"trade_status_sync"}, "out_trade_no": {"A"}, "subject": {"X&out_trade_no=B"}, "total_amount": {"520.00"}}
	if err := Sign(key, p); err != nil {
		t.Fatal(err)
	}
	forged := url.Values{"notify_type": {"trade_status_sync&out_trade_no=A&subject=X"}, "out_trade_no": {"B"}, "total_amount": {"520.00"},
		"sign": p["sign"], "sign_type": p["sign_type"]}
	if SignContent(forged) != SignContent(p) {
		t.Fatal("test premise: the two contents should be equal")
	}
	for name, v := range map[string]url.Values{"original": p, "re-split": forged} {
		if err := Verify(&key.PublicKey, v); !errors.Is(err, ErrAmbiguous) {
			t.Errorf("%s: %v, want ErrAmbiguous", name, err)
		}
	}
	for name, v := range map[string]url.Values{
		"repeated key": {"a": {"1", "2"}},
		"odd key":      {"a=b": {"1"}},
		"upper key":    {"A": {"1"}},
	} {
		if err := Unambiguous(v); !errors.Is(err, ErrAmbiguous) {
			t.Errorf("%s: %v", name, err)
		}
	}
	if err := Unambiguous(url.Values{"fund_bill_list": {`[{"amount":"520.00","fundChannel":"ALIPAYACCOUNT"}]`}, "sign": {"a+b/c=="}}); err != nil {
		t.Errorf("an ordinary notify refused: %v", err)
	}
}
