package service

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"certdesk/app/api"
	"certdesk/app/apply"
	"certdesk/app/server/store"
)

// PayProvider is an online payment provider shaped like Alipay's
// 当面付 (face-to-face payment): precreate returns a QR code, the provider
// notifies asynchronously with an RSA2 signature, query and close are the
// fallbacks. The development sandbox and a real gateway both implement it.
type PayProvider interface {
	AppID() string
	Precreate(ctx context.Context, outTradeNo string, amountFen int64, subject, notifyURL string) (qr string, err error)
	Query(ctx context.Context, outTradeNo string) (PayStatus, error)
	Close(ctx context.Context, outTradeNo string) error
	// VerifyNotify checks a notify's RSA2 signature with the provider's
	// public key.
	VerifyNotify(params url.Values) error
}

// WeChatNotifier reads WeChat Pay's notify (signed headers, encrypted
// JSON): the order it pays, the trade, the amount, whether it is paid.
type WeChatNotifier interface {
	ParseNotify(h http.Header, body []byte) (outTradeNo, tradeNo string, amountFen int64, paid bool, err error)
}

// provider is the provider of an online method (nil: none).
func (s *Service) provider(m api.PaymentMethod) PayProvider {
	switch m {
	case api.PayOnline:
		return s.cfg.Pay
	case api.PayWeChat:
		return s.cfg.WeChat
	}
	return nil
}

// methods are the ways to pay offered now.
func (s *Service) methods() []api.PaymentMethod {
	out := []api.PaymentMethod{}
	for _, m := range []api.PaymentMethod{api.PayOnline, api.PayWeChat} {
		if s.provider(m) != nil {
			out = append(out, m)
		}
	}
	return append(out, api.PayBankTransfer)
}

// Refunder is a provider that can return money itself (alipay.trade.refund);
// without it finance returns the money by bank and records it.
type Refunder interface {
	Refund(ctx context.Context, outTradeNo string, amountFen int64, requestNo, reason string) error
}

// PayStatus is the provider's view of a trade.
type PayStatus struct {
	TradeStatus string // WAIT_BUYER_PAY, TRADE_SUCCESS, TRADE_FINISHED, TRADE_CLOSED
	TradeNo     string
	AmountFen   int64
}

// Paid reports whether the trade is paid.
func (p PayStatus) Paid() bool {
	return p.TradeStatus == "TRADE_SUCCESS" || p.TradeStatus == "TRADE_FINISHED"
}

// ErrTradeReused: a notify or query names a provider trade already
// recorded on another order.
var ErrTradeReused = errors.New("provider trade already paid another order")

// PaySubject is the order subject the payer's phone shows.
const PaySubject = "数字证书服务费"

// Payment timings.
const (
	PaymentTTL  = 15 * time.Minute
	queryAfter  = 5 * time.Second // a lost notify is looked up after this
	BankPayDays = 7
)

// DefaultBank is the development CA's transfer account.
var DefaultBank = api.BankAccount{Name: "证书助手开发测试 CA", Number: "6222 0000 0000 0000 000", Bank: "中国工商银行福州分行营业部"}

func (s *Service) paymentView(a *store.Application, p *store.Payment) *api.Payment {
	q, _ := s.quote(a)
	out := &api.Payment{Quote: q, Status: "unpaid", Methods: s.methods()}
	if p == nil {
		return out
	}
	out.Method, out.Status, out.OrderID, out.QR, out.ExpiresAt, out.PaidAt = api.PaymentMethod(p.Method), p.Status, p.ID, p.QR, p.ExpiresAt, p.PaidAt
	if p.Method == string(api.PayBankTransfer) {
		b := s.cfg.Bank
		if b.Number == "" {
			b = DefaultBank
		}
		b.Comment = "证书申请 " + a.ID[:8] + " " + a.Subject
		out.Bank = &b
	}
	return out
}

// StartPayment chooses how to pay (费用支付): a bank transfer (the CA's
// account and a voucher upload, confirmed by staff) or online (a QR code
// from the provider). Choosing again replaces an unpaid attempt.
func (s *Service) StartPayment(ctx context.Context, p Principal, appID string, method api.PaymentMethod) (*api.Payment, error) {
	if method != api.PayBankTransfer && method != api.PayOnline && method != api.PayWeChat {
		return nil, api.NewError(api.CodeBadRequest).WithMessage(apply.Text{ZH: "请选择支付宝、微信支付或转账电汇", EN: "Choose Alipay, WeChat Pay or bank transfer"})
	}
	prov := s.provider(method)
	if method != api.PayBankTransfer && prov == nil {
		return nil, api.NewError(api.CodeUnavailable).WithMessage(apply.Text{ZH: "该支付方式暂不可用,请选择其他方式或使用转账电汇", EN: "This way to pay is unavailable; choose another or pay by bank transfer"})
	}
	var pay, replaced *store.Payment
	var app *store.Application
	err := s.st.InTx(ctx, func(tx *store.Tx) error {
		a, err := s.loadOwned(ctx, tx, p, appID)
		if err != nil {
			return err
		}
		replaced = nil
		if prev, err := s.st.LatestPayment(ctx, appID); err == nil && prev.Status == api.PaymentPending {
			// Choosing again: the open online order is closed here (and at
			// its provider below), so one QR code stays payable; money that
			// still arrives on it is recorded (recordPaid).
			if cur, err := tx.Payment(ctx, prev.ID); err == nil && cur.Status == api.PaymentPending {
				cur.Status = api.PaymentClosed
				if err := tx.SavePayment(ctx, cur); err != nil {
					return err
				}
				replaced = cur
			}
		}
		if a.State == apply.StateIdentityVerified {
			if err := s.step(ctx, tx, a, apply.EvStartPayment, apply.ActorApplicant, p.AccountID, string(method)); err != nil {
				return err
			}
		} else if a.State != apply.StatePaymentPending {
			return api.StateError(&apply.StepError{State: a.State, Event: apply.EvStartPayment})
		}
		q, err := s.quote(a)
		if err != nil {
			return err
		}
		now := s.now()
		pay = &store.Payment{ID: "cd" + store.NewID()[:24], ApplicationID: a.ID, Method: string(method), AmountFen: q.TotalFen,
			Status: "unpaid", CreatedAt: now, ExpiresAt: now.Add(BankPayDays * 24 * time.Hour)}
		if prov != nil {
			pay.Status, pay.ExpiresAt = api.PaymentPending, now.Add(PaymentTTL)
		}
		app = a
		return tx.AddPayment(ctx, pay)
	})
	if err != nil {
		return nil, s.internal(ctx, "start payment", err)
	}
	if replaced != nil {
		if rp := s.provider(api.PaymentMethod(replaced.Method)); rp != nil {
			if err := rp.Close(ctx, replaced.ID); err != nil {
				s.cfg.Log.WarnContext(ctx, "close replaced order", "order", replaced.ID, "err", err)
			}
		}
	}
	if prov != nil {
		path := api.PathPayNotify
		if method == api.PayWeChat {
			path = api.PathWeChatNotify
		}
		notify := strings.TrimRight(s.cfg.PublicURL, "/") + api.Prefix + path
		// The subject is ours alone: applicant text in a signed provider
		// field could carry a separator (issue 14).
		qr, err := prov.Precreate(ctx, pay.ID, pay.AmountFen, PaySubject, notify)
		if err != nil {
			s.cfg.Log.WarnContext(ctx, "precreate", "order", pay.ID, "err", err)
			return nil, api.NewError(api.CodeUnavailable).WithMessage(apply.Text{ZH: "支付通道暂时不可用,请稍后再试或使用转账电汇", EN: "The payment gateway is unavailable; try again later or pay by bank transfer"})
		}
		pay.QR = qr
		if err := s.st.InTx(ctx, func(tx *store.Tx) error { return tx.SavePayment(ctx, pay) }); err != nil {
			return nil, s.internal(ctx, "save payment", err)
		}
	}
	return s.paymentView(app, pay), nil
}

// PaymentStatus returns the latest payment. A pending online payment is
// looked up at the provider when its notify is late (the query fallback),
// and closed when it times out.
func (s *Service) PaymentStatus(ctx context.Context, p Principal, appID string) (*api.Payment, error) {
	a, err := s.loadOwned(ctx, nil, p, appID)
	if err != nil {
		return nil, s.internal(ctx, "payment", err)
	}
	pay, err := s.st.LatestPayment(ctx, appID)
	if errors.Is(err, store.ErrNotFound) {
		return s.paymentView(a, nil), nil
	}
	if err != nil {
		return nil, s.internal(ctx, "payment", err)
	}
	if pay.Status == api.PaymentPending && s.provider(api.PaymentMethod(pay.Method)) != nil && s.now().Sub(pay.CreatedAt) > queryAfter {
		if err := s.reconcile(ctx, pay); err != nil {
			s.cfg.Log.WarnContext(ctx, "payment query", "order", pay.ID, "err", err)
		}
		if pay, err = s.st.LatestPayment(ctx, appID); err != nil {
			return nil, s.internal(ctx, "payment", err)
		}
		// The state may have moved with the payment; a failed read is an
		// error, never a nil application to dereference.
		if a, err = s.st.Application(ctx, appID); err != nil {
			return nil, s.internal(ctx, "payment", err)
		}
	}
	return s.paymentView(a, pay), nil
}

// reconcile asks the provider about a pending payment: paid → recorded as
// if notified; timed out → closed at the provider and here.
func (s *Service) reconcile(ctx context.Context, pay *store.Payment) error {
	prov := s.provider(api.PaymentMethod(pay.Method))
	st, err := prov.Query(ctx, pay.ID)
	if err != nil {
		return err
	}
	if st.Paid() {
		return s.recordPaid(ctx, pay.Method, pay.ID, st.TradeNo, st.AmountFen, "query")
	}
	if s.now().After(pay.ExpiresAt) {
		if err := prov.Close(ctx, pay.ID); err != nil {
			return err
		}
		return s.st.InTx(ctx, func(tx *store.Tx) error {
			cur, err := tx.Payment(ctx, pay.ID)
			if err != nil || cur.Status != api.PaymentPending {
				return err
			}
			cur.Status = api.PaymentClosed
			return tx.SavePayment(ctx, cur)
		})
	}
	return nil
}

// HandlePayNotify verifies and applies the provider's asynchronous notify.
// A forged signature is refused; a replayed or repeated notify changes
// nothing; a payment arriving after the application was cancelled is
// recorded and flagged for refund.
func (s *Service) HandlePayNotify(ctx context.Context, params url.Values) error {
	if s.cfg.Pay == nil {
		return api.NewError(api.CodeUnavailable)
	}
	if err := s.cfg.Pay.VerifyNotify(params); err != nil {
		return fmt.Errorf("%w: %v", ErrBadSignature, err)
	}
	if params.Get("app_id") != s.cfg.Pay.AppID() {
		return fmt.Errorf("notify for another app_id")
	}
	status := PayStatus{TradeStatus: params.Get("trade_status")}
	if !status.Paid() {
		return nil
	}
	fen, err := apply.ParseYuan(params.Get("total_amount"))
	if err != nil {
		return err
	}
	return s.recordPaid(ctx, string(api.PayOnline), params.Get("out_trade_no"), params.Get("trade_no"), fen, "notify "+params.Get("notify_id"))
}

// HandleWeChatNotify verifies and applies WeChat Pay's notify: signed by
// the platform key, decrypted with the API v3 key, for a WeChat order of
// ours; a replay changes nothing.
func (s *Service) HandleWeChatNotify(ctx context.Context, h http.Header, body []byte) error {
	wn, ok := s.cfg.WeChat.(WeChatNotifier)
	if !ok {
		return api.NewError(api.CodeUnavailable)
	}
	no, trade, fen, paid, err := wn.ParseNotify(h, body)
	if err != nil {
		return fmt.Errorf("%w: %v", ErrBadSignature, err)
	}
	if !paid {
		return nil
	}
	return s.recordPaid(ctx, string(api.PayWeChat), no, trade, fen, "wechat notify")
}

// recordPaid marks an online payment paid exactly once and confirms the
// application's payment; a paid order of a cancelled application is kept
// and flagged for refund.
func (s *Service) recordPaid(ctx context.Context, method, orderID, tradeNo string, amountFen int64, how string) error {
	err := s.st.InTx(ctx, func(tx *store.Tx) error {
		pay, err := tx.Payment(ctx, orderID)
		if err != nil {
			return err
		}
		if pay.Method != method {
			// One provider's word pays only its own orders.
			return fmt.Errorf("order %s is a %s order, not %s", orderID, pay.Method, method)
		}
		if pay.Status == api.PaymentPaid {
			if pay.TradeNo != tradeNo {
				return fmt.Errorf("order %s: paid by trade %s, notified again with trade %s", orderID, pay.TradeNo, tradeNo)
			}
			return nil // already recorded: notify and query both arrived
		}
		if amountFen != pay.AmountFen {
			return fmt.Errorf("order %s: paid %d fen, expected %d", orderID, amountFen, pay.AmountFen)
		}
		if tradeNo == "" {
			return fmt.Errorf("order %s: notify without a trade number", orderID)
		}
		pay.Status, pay.TradeNo, pay.PaidAt = api.PaymentPaid, tradeNo, s.now()
		a, err := tx.Application(ctx, pay.ApplicationID)
		if err != nil {
			return err
		}
		switch a.State {
		case apply.StatePaymentPending, apply.StateIdentityVerified:
			if err := tx.SavePayment(ctx, pay); err != nil {
				return err
			}
			return s.step(ctx, tx, a, apply.EvConfirmPayment, apply.ActorSystem, "payment", how+" trade "+tradeNo)
		default:
			// Cancelled (or paid twice by two orders): the money is real,
			// so it is recorded and flagged for a refund.
			pay.RefundNeeded = true
			if err := tx.SavePayment(ctx, pay); err != nil {
				return err
			}
			return tx.Enqueue(ctx, &store.Message{ID: store.NewID(), ApplicationID: a.ID, Channel: "email", Recipient: contactEmail(a),
				Subject: "refund", CreatedAt: s.now(),
				Body: fmt.Sprintf("您的证书申请(%s)已%s,收到的 %s 元付款将原路退回。交易号 %s。", a.Subject, a.State.Label(apply.ZH), apply.FormatFen(amountFen), tradeNo)})
		}
	})
	var ce *store.ConflictError
	if errors.As(err, &ce) && ce.Column == "trade_no" {
		// The unique index: this trade already paid another order.
		s.cfg.Log.ErrorContext(ctx, "payment trade recorded on another order", "order", orderID, "trade_no", tradeNo, "via", how)
		return fmt.Errorf("%w: %s", ErrTradeReused, tradeNo)
	}
	return err
}

func contactEmail(a *store.Application) string {
	if a.Form.HandlerIsApplicant(a.Kind) {
		return a.Form[apply.FApplicantEmail]
	}
	return a.Form[apply.FHandlerEmail]
}

// invoice queues the e-invoice email (电子发票) after a confirmed payment.
func (s *Service) invoice(ctx context.Context, tx *store.Tx, a *store.Application) error {
	q, _ := s.quote(a)
	var lines []string
	for _, it := range q.Items {
		lines = append(lines, fmt.Sprintf("%s %s 元", it.Label.ZH, apply.FormatFen(it.Fen)))
	}
	return tx.Enqueue(ctx, &store.Message{ID: store.NewID(), ApplicationID: a.ID, Channel: "email", Recipient: contactEmail(a),
		Subject: "e-invoice", CreatedAt: s.now(),
		Body: fmt.Sprintf("电子发票\n购买方:%s\n项目:%s\n合计:%s 元", a.Subject, strings.Join(lines, ";"), apply.FormatFen(q.TotalFen))})
}

// ConfirmTransfer is staff confirming a bank transfer (certdesk-server
// payment confirm).
func (s *Service) ConfirmTransfer(ctx context.Context, p Principal, appID, note string) (*api.Application, error) {
	if fe := apply.CheckText("note", apply.Text{ZH: "说明", EN: "The note"}, note); fe != nil {
		return nil, api.ValidationError(apply.FieldErrors{*fe}) // shown in the applicant's history
	}
	if p.Staff() {
		if err := needRole(p, api.StaffFinance); err != nil {
			return nil, err
		}
	}
	return s.staffStep(ctx, p, appID, apply.EvConfirmPayment, note, func(tx *store.Tx, a *store.Application) error {
		q, _ := s.quote(a)
		now := s.now()
		pay := &store.Payment{ID: "bt" + store.NewID()[:24], ApplicationID: a.ID, Method: string(api.PayBankTransfer),
			AmountFen: q.TotalFen, Status: api.PaymentPaid, CreatedAt: now, ExpiresAt: now, PaidAt: now, TradeNo: note}
		if err := tx.AddPayment(ctx, pay); err != nil {
			return err
		}
		if err := tx.ReleaseReviewLock(ctx, a.ID); err != nil { // finance is done with it: the reviewers' turn
			return err
		}
		return tx.SavePayment(ctx, pay)
	})
}
