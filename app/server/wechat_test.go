package server

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"testing"
	"time"

	"certdesk/app/api"
	"certdesk/app/apply"
	"certdesk/app/server/service"
	"certdesk/app/server/wechatpay"
)

// TestWeChatPay: WeChat Pay Native through the real adapter and the
// sandbox over HTTP — paid by notify; paid by query after a lost notify;
// closed after its time; refunded for a cancelled application; forged
// notifies (another key, a changed amount, another order's ID, an Alipay
// notify for a WeChat order) refused; a replay applied once.
func TestWeChatPay(t *testing.T) {
	clk := &clock{}
	s := startDevServer(t, "", clk)
	ctx := context.Background()
	c := applicant(t, s)
	toPay := func(username string) (api.Application, api.Payment) {
		a := submitted(c, username)
		for _, ev := range []apply.Event{apply.EvMaterialsComplete, apply.EvIdentityVerified} {
			if err := s.Service.SystemStep(ctx, a.ID, ev, "test"); err != nil {
				t.Fatal(err)
			}
		}
		// Alipay first, then WeChat Pay: the Alipay order is closed there.
		var ali, pay api.Payment
		c.ok(c.do("POST", "/applications/"+a.ID+"/payment", api.StartPaymentRequest{Method: api.PayOnline}), &ali)
		c.ok(c.do("POST", "/applications/"+a.ID+"/payment", api.StartPaymentRequest{Method: api.PayWeChat}), &pay)
		if st, _, _, _ := s.Sandbox.Trade(ali.OrderID); st != "TRADE_CLOSED" {
			t.Fatalf("the replaced Alipay order is %s", st)
		}
		if pay.Method != api.PayWeChat || pay.Status != "pending" || pay.QR == "" || len(pay.Methods) != 3 {
			t.Fatalf("wechat order: %+v", pay)
		}
		return a, pay
	}
	post := func(body []byte, h http.Header) int {
		req, _ := http.NewRequest("POST", s.URL+api.Prefix+api.PathWeChatNotify, bytes.NewReader(body))
		req.Header = h.Clone()
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		return res.StatusCode
	}
	paidTimes := func(id string) int {
		n := 0
		for _, h := range c.app(id).History {
			if h.Event == apply.EvConfirmPayment {
				n++
			}
		}
		return n
	}

	// Paid by notify (the buyer's page sends it); a replay changes nothing.
	a, pay := toPay("wx01")
	if err := s.WeChat.Pay(ctx, pay.OrderID, true); err != nil {
		t.Fatal(err)
	}
	if st := c.app(a.ID).State; st != apply.StatePaid {
		t.Fatalf("after the notify: %s", st)
	}
	body, h, _ := s.WeChat.NotifyFor(pay.OrderID)
	if post(body, h) != 204 || post(body, h) != 204 || paidTimes(a.ID) != 1 {
		t.Fatalf("replayed notify: paid %d times", paidTimes(a.ID))
	}

	// Forged notifies for an unpaid order.
	b, pb := toPay("wx02")
	forge := func(mut func(*wechatpay.Transaction)) ([]byte, http.Header) {
		tr := wechatpay.Transaction{AppID: s.WeChat.AppID, MchID: s.WeChat.MchID, OutTradeNo: pb.OrderID, TransactionID: "4200forged", TradeState: "SUCCESS"}
		tr.Amount.Total = pb.Quote.TotalFen
		mut(&tr)
		plain, _ := json.Marshal(tr)
		body, h, _ := s.WeChat.SealNotify(plain)
		return body, h
	}
	for name, mut := range map[string]func(*wechatpay.Transaction){
		"changed amount": func(tr *wechatpay.Transaction) { tr.Amount.Total = 1 },
		"another order":  func(tr *wechatpay.Transaction) { tr.OutTradeNo = pay.OrderID + "x" },
	} {
		fb, fh := forge(mut)
		if post(fb, fh) != 400 {
			t.Fatalf("%s: accepted", name)
		}
	}
	good, gh := forge(func(*wechatpay.Transaction) {})
	gh.Set("Wechatpay-Signature", gh.Get("Wechatpay-Signature")[:10]+"AAAA"+gh.Get("Wechatpay-Signature")[14:])
	if post(good, gh) != 400 {
		t.Fatal("a notify with a broken signature accepted")
	}
	// Alipay's (genuinely signed) notify naming the WeChat order.
	ali := url.Values{"notify_id": {"n1"}, "app_id": {s.Sandbox.AppID()}, "out_trade_no": {pb.OrderID}, "trade_no": {"2026ali"},
		"total_amount": {apply.FormatFen(pb.Quote.TotalFen)}, "trade_status": {"TRADE_SUCCESS"}}
	_ = s.Sandbox.SignNotify(ali)
	if res, err := http.PostForm(s.URL+api.Prefix+api.PathPayNotify, ali); err != nil || res.StatusCode != 400 {
		t.Fatalf("an Alipay notify for a WeChat order: %v %v", res.StatusCode, err)
	}
	if st := c.app(b.ID).State; st != apply.StatePaymentPending {
		t.Fatalf("forged notifies moved the application to %s", st)
	}

	// Lost notify: the query finds it once the notify is late.
	if err := s.WeChat.Pay(ctx, pb.OrderID, false); err != nil {
		t.Fatal(err)
	}
	clk.Add(10 * time.Second)
	var got api.Payment
	c.ok(c.do("GET", "/applications/"+b.ID+"/payment", nil), &got)
	if got.Status != "paid" || c.app(b.ID).State != apply.StatePaid {
		t.Fatalf("query fallback: %+v", got)
	}

	// Unpaid past its time: closed here and at WeChat Pay.
	_, pd := toPay("wx03")
	clk.Add(service.PaymentTTL + time.Minute)
	c.ok(c.do("GET", "/applications/"+submittedID(t, s, pd.OrderID)+"/payment", nil), &got)
	if st, _, _, _ := s.WeChat.Trade(pd.OrderID); got.Status != "closed" || st != "CLOSED" {
		t.Fatalf("timed out: %s, sandbox %s", got.Status, st)
	}

	// A cancel closes the open order at WeChat Pay.
	e, pe := toPay("wx04")
	c.ok(c.do("DELETE", "/applications/"+e.ID, nil), nil)
	if st, _, _, _ := s.WeChat.Trade(pe.OrderID); st != "CLOSED" {
		t.Fatalf("cancel did not close the order: %s", st)
	}
	// Paid just before a cancel: flagged, refunded through the API by finance.
	_, pf := toPay("wx05")
	if err := s.WeChat.Pay(ctx, pf.OrderID, false); err != nil {
		t.Fatal(err)
	}
	fid := submittedID(t, s, pf.OrderID)
	c.ok(c.do("DELETE", "/applications/"+fid, nil), nil) // closing a paid order fails at WeChat Pay: logged
	fb, fh, _ := s.WeChat.NotifyFor(pf.OrderID)
	if post(fb, fh) != 204 {
		t.Fatal("the late notify for a cancelled application was refused")
	}
	p, _ := s.Store.LatestPayment(ctx, fid)
	if !p.RefundNeeded || p.Status != "paid" {
		t.Fatalf("paid after cancel: %+v", p)
	}
	if err := s.Service.RecordRefund(ctx, service.Operator("finance"), p.ID, "申请已取消"); err != nil {
		t.Fatal(err)
	}
	if st, fen, refunded, _ := s.WeChat.Trade(pf.OrderID); st != "REFUND" || refunded != fen {
		t.Fatalf("refund at WeChat Pay: %s %d/%d", st, refunded, fen)
	}
}

// submittedID is the application of an order.
func submittedID(t *testing.T, s *Server, orderID string) string {
	t.Helper()
	p, err := s.Store.PaymentByID(context.Background(), orderID)
	if err != nil {
		t.Fatal(err)
	}
	return p.ApplicationID
}
