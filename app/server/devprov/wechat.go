package devprov

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"fmt"
	"html/template"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"certdesk/app/apply"
	"certdesk/app/server/wechatpay"
)

// WeChat is the WeChat Pay sandbox: the platform's side of API v3 Native
// payment under /dev/wechatpay (requests checked against the merchant's
// key, answers signed with the platform key, notifies encrypted with the
// API v3 key and signed), with the buyer's page at /dev/wxpay/{order}.
type WeChat struct {
	Merchant *rsa.PrivateKey // the merchant's key (development only)
	Platform *rsa.PrivateKey // the platform certificate's key
	APIv3Key []byte
	MchID    string
	AppID    string
	Serial   string // the merchant certificate's serial
	PlatSer  string // the platform certificate's serial
	baseURL  string
	client   *http.Client
	log      *slog.Logger

	mu      sync.Mutex
	orders  map[string]*wxOrder
	refunds map[string]bool
}

type wxOrder struct {
	amountFen   int64
	description string
	notifyURL   string
	state       string // NOTPAY, SUCCESS, CLOSED, REFUND
	txID        string
	refunded    int64
}

// NewWeChat makes the sandbox; its API lives under baseURL/dev/wechatpay.
func NewWeChat(baseURL string, client *http.Client, log *slog.Logger) (*WeChat, error) {
	m, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return nil, err
	}
	p, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return nil, err
	}
	k := make([]byte, 16)
	_, _ = rand.Read(k)
	return &WeChat{Merchant: m, Platform: p, APIv3Key: []byte(fmt.Sprintf("%x", k)), MchID: "1900000109", AppID: "wx2026000000000001",
		Serial: "5157F09EFDC096DE15EBE81A47057A72" + randHex(4), PlatSer: "PLAT" + randHex(8), baseURL: strings.TrimRight(baseURL, "/"),
		client: client, log: log, orders: map[string]*wxOrder{}, refunds: map[string]bool{}}, nil
}

// BaseURL is where the client sends its API calls.
func (w *WeChat) BaseURL() string { return w.baseURL + "/dev/wechatpay" }

// Trade is an order as the sandbox holds it.
func (w *WeChat) Trade(no string) (state string, amountFen, refunded int64, ok bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	o, ok := w.orders[no]
	if !ok {
		return "", 0, 0, false
	}
	return o.state, o.amountFen, o.refunded, true
}

func (w *WeChat) reply(rw http.ResponseWriter, status int, v any) {
	var body []byte
	if v != nil {
		body, _ = json.Marshal(v)
	}
	if status/100 == 2 {
		_ = wechatpay.SignResponse(w.Platform, w.PlatSer, rw.Header(), body, time.Now())
	}
	if body != nil {
		rw.Header().Set("Content-Type", "application/json")
	}
	rw.WriteHeader(status)
	_, _ = rw.Write(body)
}

func (w *WeChat) fail(rw http.ResponseWriter, status int, code, msg string) {
	w.reply(rw, status, map[string]string{"code": code, "message": msg})
}

// ServeAPI answers the merchant API.
func (w *WeChat) ServeAPI(rw http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(io.LimitReader(r.Body, 64<<10))
	pathQuery := strings.TrimPrefix(r.URL.RequestURI(), "/dev/wechatpay")
	a, ok := wechatpay.ParseAuthorization(r.Header.Get("Authorization"))
	ts, _ := strconv.ParseInt(a["timestamp"], 10, 64)
	if !ok || a["mchid"] != w.MchID || a["serial_no"] != w.Serial || time.Since(time.Unix(ts, 0)).Abs() > 5*time.Minute ||
		wechatpay.VerifyRSA(&w.Merchant.PublicKey, wechatpay.Message(r.Method, pathQuery, a["timestamp"], a["nonce_str"], string(body)), a["signature"]) != nil {
		w.fail(rw, 401, "SIGN_ERROR", "签名错误")
		return
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	path, _, _ := strings.Cut(pathQuery, "?")
	switch {
	case r.Method == http.MethodPost && path == "/v3/pay/transactions/native":
		var in struct {
			AppID       string `json:"appid"`
			MchID       string `json:"mchid"`
			Description string `json:"description"`
			OutTradeNo  string `json:"out_trade_no"`
			NotifyURL   string `json:"notify_url"`
			Amount      struct {
				Total int64 `json:"total"`
			} `json:"amount"`
		}
		if err := json.Unmarshal(body, &in); err != nil || in.OutTradeNo == "" || in.Amount.Total <= 0 || in.MchID != w.MchID || in.AppID != w.AppID {
			w.fail(rw, 400, "PARAM_ERROR", "参数错误")
			return
		}
		o := w.orders[in.OutTradeNo]
		if o == nil {
			w.orders[in.OutTradeNo] = &wxOrder{amountFen: in.Amount.Total, description: in.Description, notifyURL: in.NotifyURL, state: "NOTPAY"}
		} else if o.amountFen != in.Amount.Total || o.state != "NOTPAY" {
			w.fail(rw, 400, "ORDER_CLOSED", "订单已关闭或金额不同")
			return
		}
		w.reply(rw, 200, map[string]string{"code_url": w.baseURL + "/dev/wxpay/" + in.OutTradeNo})
	case r.Method == http.MethodGet && strings.HasPrefix(path, "/v3/pay/transactions/out-trade-no/"):
		no := strings.TrimPrefix(path, "/v3/pay/transactions/out-trade-no/")
		o := w.orders[no]
		if o == nil {
			w.fail(rw, 404, "ORDER_NOT_EXIST", "订单不存在")
			return
		}
		w.reply(rw, 200, w.transaction(no, o))
	case r.Method == http.MethodPost && strings.HasSuffix(path, "/close"):
		no := strings.TrimSuffix(strings.TrimPrefix(path, "/v3/pay/transactions/out-trade-no/"), "/close")
		o := w.orders[no]
		switch {
		case o == nil:
			w.fail(rw, 404, "ORDER_NOT_EXIST", "订单不存在")
		case o.state == "SUCCESS" || o.state == "REFUND":
			w.fail(rw, 400, "ORDERPAID", "订单已支付")
		default:
			o.state = "CLOSED"
			w.reply(rw, 204, nil)
		}
	case r.Method == http.MethodPost && path == "/v3/refund/domestic/refunds":
		var in struct {
			OutTradeNo  string `json:"out_trade_no"`
			OutRefundNo string `json:"out_refund_no"`
			Amount      struct {
				Refund int64 `json:"refund"`
				Total  int64 `json:"total"`
			} `json:"amount"`
		}
		_ = json.Unmarshal(body, &in)
		o := w.orders[in.OutTradeNo]
		switch {
		case o == nil:
			w.fail(rw, 404, "RESOURCE_NOT_EXISTS", "订单不存在")
		case o.state != "SUCCESS" && o.state != "REFUND":
			w.fail(rw, 400, "INVALID_REQUEST", "订单未支付")
		case in.Amount.Total != o.amountFen || in.Amount.Refund <= 0 || in.OutRefundNo == "":
			w.fail(rw, 400, "PARAM_ERROR", "金额与订单不符")
		default:
			if !w.refunds[in.OutRefundNo] {
				if o.refunded+in.Amount.Refund > o.amountFen {
					w.fail(rw, 400, "NOT_ENOUGH", "可退金额不足")
					return
				}
				w.refunds[in.OutRefundNo] = true
				o.refunded += in.Amount.Refund
				o.state = "REFUND"
			}
			w.reply(rw, 200, map[string]any{"out_refund_no": in.OutRefundNo, "out_trade_no": in.OutTradeNo, "status": "SUCCESS",
				"amount": map[string]int64{"refund": in.Amount.Refund, "total": o.amountFen}})
		}
	default:
		w.fail(rw, 404, "NOT_FOUND", "no such API")
	}
}

func (w *WeChat) transaction(no string, o *wxOrder) wechatpay.Transaction {
	t := wechatpay.Transaction{AppID: w.AppID, MchID: w.MchID, OutTradeNo: no, TransactionID: o.txID, TradeState: o.state}
	t.Amount.Total, t.Amount.Currency = o.amountFen, "CNY"
	return t
}

// Pay is the buyer paying; the encrypted, signed notify goes to the
// merchant unless notify is false (a lost notify).
func (w *WeChat) Pay(ctx context.Context, no string, notify bool) error {
	w.mu.Lock()
	o, ok := w.orders[no]
	if !ok || o.state != "NOTPAY" {
		w.mu.Unlock()
		return fmt.Errorf("order %s cannot be paid", no)
	}
	o.state, o.txID = "SUCCESS", "4200"+randHex(12)
	w.mu.Unlock()
	if !notify {
		return nil
	}
	body, h, err := w.NotifyFor(no)
	if err != nil {
		return err
	}
	w.mu.Lock()
	target := o.notifyURL
	w.mu.Unlock()
	for attempt := 0; attempt < 5; attempt++ {
		req, _ := http.NewRequestWithContext(ctx, http.MethodPost, target, bytes.NewReader(body))
		req.Header = h.Clone()
		res, err := w.client.Do(req)
		if err == nil {
			res.Body.Close()
			if res.StatusCode/100 == 2 {
				return nil
			}
			err = fmt.Errorf("merchant answered %d", res.StatusCode)
		}
		w.log.Warn("wechat sandbox notify", "order", no, "attempt", attempt, "err", err)
		time.Sleep(time.Duration(200<<attempt) * time.Millisecond)
	}
	return fmt.Errorf("notify for %s not acknowledged", no)
}

// NotifyFor builds an order's signed, encrypted notify (tests of forged
// and replayed notifies).
func (w *WeChat) NotifyFor(no string) ([]byte, http.Header, error) {
	w.mu.Lock()
	o, ok := w.orders[no]
	var t wechatpay.Transaction
	if ok {
		t = w.transaction(no, o)
	}
	w.mu.Unlock()
	if !ok {
		return nil, nil, fmt.Errorf("no order %s", no)
	}
	plain, _ := json.Marshal(t)
	return w.SealNotify(plain)
}

// SealNotify encrypts and signs a transaction as the platform would.
func (w *WeChat) SealNotify(plain []byte) ([]byte, http.Header, error) {
	res, err := wechatpay.Encrypt(w.APIv3Key, plain, "transaction")
	if err != nil {
		return nil, nil, err
	}
	body, _ := json.Marshal(wechatpay.Notify{ID: randHex(16), CreateTime: time.Now().Format(time.RFC3339), EventType: "TRANSACTION.SUCCESS",
		ResourceType: "encrypt-resource", Resource: res, Summary: "支付成功"})
	h := http.Header{"Content-Type": {"application/json"}}
	if err := wechatpay.SignResponse(w.Platform, w.PlatSer, h, body, time.Now()); err != nil {
		return nil, nil, err
	}
	return body, h, nil
}

// registerWeChat mounts the sandbox's API and buyer page.
func registerWeChat(mux *http.ServeMux, w *WeChat) {
	mux.HandleFunc("/dev/wechatpay/v3/", w.ServeAPI)
	mux.HandleFunc("GET /dev/wxpay/{order}", func(rw http.ResponseWriter, r *http.Request) {
		state, fen, _, ok := w.Trade(r.PathValue("order"))
		if !ok {
			render(rw, 404, "订单不存在", "")
			return
		}
		render(rw, 200, "微信支付沙箱 · Native 支付", template.HTML(fmt.Sprintf(`<p>金额 Amount: <b>¥%s</b></p><p>状态 Status: %s</p>
<form method="post"><button>立即支付 Pay now</button></form>`, apply.FormatFen(fen), template.HTMLEscapeString(state))))
	})
	mux.HandleFunc("POST /dev/wxpay/{order}", func(rw http.ResponseWriter, r *http.Request) {
		if err := w.Pay(r.Context(), r.PathValue("order"), r.URL.Query().Get("notify") != "0"); err != nil {
			render(rw, 409, "支付失败", template.HTML("<p>"+template.HTMLEscapeString(err.Error())+"</p>"))
			return
		}
		render(rw, 200, "支付成功", "<p>支付成功,请回到电脑上的证书助手。</p><p>Paid: go back to CertDesk on the PC.</p>")
	})
}
