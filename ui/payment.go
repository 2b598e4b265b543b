package ui

import (
	"context"
	"path/filepath"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/widget"

	"certdesk/app/api"
	"certdesk/app/apply"
	"certdesk/app/material"
)

// PaymentStep is 费用支付: the fee from the server's schedule, then either
// an Alipay or WeChat Pay QR code with its live status, or the CA's bank account with
// the voucher upload; staff confirm a transfer, the screen follows.
type PaymentStep struct {
	env     stepEnv
	srv     paymentServer
	send    materialSender
	fee     *widget.Label
	method  *widget.RadioGroup
	detail  *fyne.Container
	state   *widget.Label
	voucher *widget.Label // the voucher upload's own line: status polls rewrite state
	content fyne.CanvasObject
	// Payment is the payment on screen.
	Payment *api.Payment
	polling bool
}

// paymentServer is what the payment step asks the server.
type paymentServer interface {
	StartPayment(ctx context.Context, appID string, m api.PaymentMethod) (*api.Payment, error)
	PaymentStatus(ctx context.Context, appID string) (*api.Payment, error)
}

func newPaymentStep(env stepEnv, srv paymentServer, send materialSender) *PaymentStep {
	p := &PaymentStep{env: env, srv: srv, send: send}
	a := env.app
	p.fee = widget.NewLabel(feeText(a.Fee, env.lang))
	p.fee.Wrapping = fyne.TextWrapWord
	p.state = widget.NewLabel("")
	p.state.Wrapping = fyne.TextWrapWord
	p.voucher = widget.NewLabel("")
	p.voucher.Wrapping = fyne.TextWrapWord
	p.detail = container.NewVBox()
	p.method = widget.NewRadioGroup(nil, func(v string) {
		for _, m := range payMethods {
			if T(methodLabel[m]) == v {
				p.Start(m)
			}
		}
	})
	p.method.Horizontal = true
	p.offer(payMethods)
	// The fee and the choice on the left, the QR code or the bank account
	// on the right: the QR is whole on a 960 × 680 window (below the fee
	// it started under the fold).
	p.content = container.NewVScroll(container.NewGridWithColumns(2,
		container.NewVBox(widget.NewLabelWithStyle(T("pay.title"), fyne.TextAlignLeading, fyne.TextStyle{Bold: true}),
			p.fee, widget.NewLabel(T("pay.choose")), p.method, p.state),
		p.detail))
	// The server says which ways it takes payment; an order already open
	// (the window was closed mid-payment) is shown again rather than asked
	// for anew.
	background(env, func(ctx context.Context) (*api.Payment, error) {
		return srv.PaymentStatus(ctx, a.ID)
	}, nil, func(pay *api.Payment) {
		if len(pay.Methods) > 0 {
			p.offer(pay.Methods)
		}
		if pay.Method != "" && a.State == apply.StatePaymentPending {
			p.show(pay)
		}
	})
	return p
}

// payMethods are the ways to pay, in the order offered.
var payMethods = []api.PaymentMethod{api.PayOnline, api.PayWeChat, api.PayBankTransfer}

var methodLabel = map[api.PaymentMethod]string{api.PayOnline: "pay.online", api.PayWeChat: "pay.wechat", api.PayBankTransfer: "pay.bank"}

// offer shows the ways the server takes, keeping the choice made.
func (p *PaymentStep) offer(ms []api.PaymentMethod) {
	var opts []string
	for _, m := range payMethods {
		for _, have := range ms {
			if m == have {
				opts = append(opts, T(methodLabel[m]))
			}
		}
	}
	p.method.Options = opts
	p.method.Refresh()
}

// money is an amount as the applicant reads it: "520.00 元", "CNY 520.00".
func money(fen int64, l apply.Lang) string {
	if l == apply.EN {
		return "CNY " + apply.FormatFen(fen)
	}
	return apply.FormatFen(fen) + " 元"
}

func feeText(q apply.Quote, l apply.Lang) string {
	s := ""
	for _, it := range q.Items {
		s += it.Label.In(l) + "  " + money(it.Fen, l) + "\n"
	}
	return s + T("pay.total", map[string]any{"Total": apply.FormatFen(q.TotalFen)})
}

// Start asks the server for a payment by method m.
func (p *PaymentStep) Start(m api.PaymentMethod) {
	p.state.SetText(T("center.loading"))
	background(p.env, func(ctx context.Context) (*api.Payment, error) {
		return p.srv.StartPayment(ctx, p.env.appID(), m)
	}, p.state.SetText, p.show)
}

func (p *PaymentStep) show(pay *api.Payment) {
	p.Payment = pay
	// Mark the method on screen without calling OnChanged, which would
	// start the payment again.
	if len(pay.Methods) > 0 {
		p.offer(pay.Methods)
	}
	p.method.Selected = T(methodLabel[pay.Method])
	p.method.Refresh()
	p.detail.RemoveAll()
	switch pay.Method {
	case api.PayOnline:
		p.detail.Add(widget.NewCard(T("pay.scan"), T("pay.scanhint"), qrImage(pay.QR, 200)))
	case api.PayWeChat:
		p.detail.Add(widget.NewCard(T("pay.scanwechat"), T("pay.scanhint"), qrImage(pay.QR, 200)))
	case api.PayBankTransfer:
		if b := pay.Bank; b != nil {
			acct := widget.NewForm(
				widget.NewFormItem(T("pay.bank.name"), copyable(b.Name, p.env.win)),
				widget.NewFormItem(T("pay.bank.number"), copyable(b.Number, p.env.win)),
				widget.NewFormItem(T("pay.bank.bank"), copyable(b.Bank, p.env.win)),
				widget.NewFormItem(T("pay.bank.comment"), copyable(b.Comment, p.env.win)))
			p.detail.Add(widget.NewCard(T("pay.bank.title"), T("pay.bank.hint"), acct))
		}
		p.detail.Add(widget.NewButton(T("pay.voucher"), p.chooseVoucher))
		p.detail.Add(p.voucher)
	}
	p.detail.Refresh()
	p.showStatus(pay)
	if !p.polling {
		p.polling = true
		go p.follow()
	}
}

func (p *PaymentStep) showStatus(pay *api.Payment) {
	switch pay.Status {
	case api.PaymentPaid:
		p.state.SetText("✓ " + T("pay.paid"))
	case api.PaymentClosed:
		p.state.SetText(T("pay.closed"))
	default:
		if pay.Method == api.PayBankTransfer {
			p.state.SetText(T("pay.waitbank"))
		} else {
			p.state.SetText(T("pay.waitonline"))
		}
	}
}

// follow asks for the payment's status every few seconds until it is
// paid, then moves the journey on.
func (p *PaymentStep) follow() {
	poll(p.env.ctx, p.env.clock, min(2*time.Second, p.env.every), func(ctx context.Context) bool {
		pay, err := p.srv.PaymentStatus(ctx, p.env.appID())
		if err != nil || ctx.Err() != nil {
			return ctx.Err() != nil
		}
		onUI(func() {
			p.showStatus(pay)
			p.env.called()
		})
		if pay.Status == api.PaymentPaid {
			onUI(func() { p.env.moveOn("") })
			return true
		}
		return false
	})
}

func (p *PaymentStep) chooseVoucher() {
	chooseFile(p.env.win, T("mat.choose"), func(path string) {
		if b, err := readChosen(path, 64<<20); err == nil {
			p.UploadVoucher(filepath.Base(path), b)
		}
	})
}

// UploadVoucher checks the voucher scan (fixing it when it can) and sends it.
func (p *PaymentStep) UploadVoucher(name string, data []byte) {
	a := p.env.app
	rule, _ := apply.RuleFor(a.Kind, a.Form.Options(), a.Form.HandlerIsApplicant(a.Kind), apply.MatPaymentVoucher)
	p.voucher.SetText(T("check.checking") + " " + name)
	go func() {
		v := material.CheckBytes(data, rule)
		if !v.OK() && v.Fixable() {
			if out, rep, err := material.Repair(data, rule); err == nil && rep.After.OK() {
				data, v = out, rep.After
			}
		}
		if !v.OK() {
			onUI(func() { p.voucher.SetText("✗ " + problemText(v.Problems, p.env.lang)) })
			return
		}
		// The same sender as every material: with the local queue, a
		// dropped connection only delays the voucher.
		err := p.send.Send(p.env.ctx, a.ID, apply.MatPaymentVoucher, name, data, nil)
		onUI(func() {
			if queued(err) {
				p.voucher.SetText(T("mat.queued"))
			} else if err != nil {
				p.voucher.SetText(explain(err, p.env.lang))
			} else {
				p.voucher.SetText("✓ " + T("pay.vouchersent"))
			}
			p.env.called()
		})
	}()
}
