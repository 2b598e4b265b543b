// Package devprov holds the development providers: a face-ID provider and
// an Alipay sandbox that speak the same protocols as real ones (signed
// callbacks; Alipay's open API with RSA2 requests, answers and notifies:
// precreate, query, close, refund), with small
// mobile pages at the addresses their QR codes carry, so that the whole
// process runs end to end on one machine. Never enable them for a real CA.
package devprov

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"html/template"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"certdesk/app/api"
	"certdesk/app/apply"
	"certdesk/app/server/alipay"
	"certdesk/app/server/service"
)

// Sandbox is the payment sandbox: Alipay's side of 当面付, over HTTP at
// /dev/alipay/gateway.do speaking the open API as Alipay does (a signed
// form in, a signed JSON answer out; precreate, query, close, refund), with
// its own key pair and order book, and the merchant's key pair made for
// development. The server's payment adapter (payprov.Alipay) talks to it
// as it would to openapi.alipay.com.
type Sandbox struct {
	key     *rsa.PrivateKey // the "provider's" key: signs answers and notifies
	appKey  *rsa.PrivateKey // the merchant's key (development only)
	appID   string
	baseURL string
	client  *http.Client
	log     *slog.Logger

	mu      sync.Mutex
	orders  map[string]*order
	refunds map[string]int64 // out_request_no → fen
}

type order struct {
	amountFen   int64
	subject     string
	notifyURL   string
	status      string
	tradeNo     string
	refundedFen int64
}

// NewSandbox makes a sandbox whose pages live under baseURL/dev/pay.
func NewSandbox(baseURL string, client *http.Client, log *slog.Logger) (*Sandbox, error) {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return nil, err
	}
	appKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return nil, err
	}
	return &Sandbox{key: key, appKey: appKey, appID: "2026000000000001", baseURL: strings.TrimRight(baseURL, "/"), client: client, log: log,
		orders: map[string]*order{}, refunds: map[string]int64{}}, nil
}

// PublicKey is the sandbox's signing key, as Alipay publishes its own.
func (s *Sandbox) PublicKey() *rsa.PublicKey { return &s.key.PublicKey }

// AppKey is the merchant's private key the sandbox knows the public half of.
func (s *Sandbox) AppKey() *rsa.PrivateKey { return s.appKey }

// AppID is the merchant app ID.
func (s *Sandbox) AppID() string { return s.appID }

// GatewayURL is where the open API is served.
func (s *Sandbox) GatewayURL() string { return s.baseURL + "/dev/alipay/gateway.do" }

// Trade is a trade as the sandbox holds it (the buyer's page, tests).
func (s *Sandbox) Trade(outTradeNo string) (status string, amountFen, refundedFen int64, ok bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	o, ok := s.orders[outTradeNo]
	if !ok {
		return "", 0, 0, false
	}
	return o.status, o.amountFen, o.refundedFen, true
}

// ServeGateway answers the open API.
func (s *Sandbox) ServeGateway(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		http.Error(w, "bad form", http.StatusBadRequest)
		return
	}
	p := r.PostForm
	method := p.Get("method")
	answer := func(name string, v map[string]any) {
		raw, _ := json.Marshal(v)
		sig, _ := alipay.SignBytes(s.key, raw)
		w.Header().Set("Content-Type", "application/json;charset=utf-8")
		fmt.Fprintf(w, `{%q:%s,"sign":%q}`, name, raw, sig)
	}
	name := strings.ReplaceAll(method, ".", "_") + "_response"
	fail := func(sub, msg string) {
		answer(name, map[string]any{"code": "40004", "msg": "Business Failed", "sub_code": sub, "sub_msg": msg})
	}
	if p.Get("app_id") != s.appID {
		// Alipay answers an unknown app unsigned, in error_response.
		w.Header().Set("Content-Type", "application/json;charset=utf-8")
		fmt.Fprint(w, `{"error_response":{"code":"40002","msg":"Invalid Arguments","sub_code":"isv.invalid-app-id","sub_msg":"无效的AppID参数"}}`)
		return
	}
	if err := alipay.Verify(&s.appKey.PublicKey, p); err != nil {
		answer(name, map[string]any{"code": "40002", "msg": "Invalid Arguments", "sub_code": "isv.invalid-signature", "sub_msg": "验签出错"})
		return
	}
	if ts, err := time.ParseInLocation("2006-01-02 15:04:05", p.Get("timestamp"), time.FixedZone("CST", 8*3600)); err != nil || time.Since(ts).Abs() > 15*time.Minute {
		answer(name, map[string]any{"code": "40002", "msg": "Invalid Arguments", "sub_code": "isv.invalid-timestamp", "sub_msg": "时间戳无效"})
		return
	}
	var biz map[string]string
	if err := json.Unmarshal([]byte(p.Get("biz_content")), &biz); err != nil {
		answer(name, map[string]any{"code": "40002", "msg": "Invalid Arguments", "sub_code": "isv.invalid-parameter", "sub_msg": "biz_content"})
		return
	}
	no := biz["out_trade_no"]
	s.mu.Lock()
	defer s.mu.Unlock()
	o := s.orders[no]
	switch method {
	case "alipay.trade.precreate":
		fen, err := apply.ParseYuan(biz["total_amount"])
		if err != nil || fen <= 0 || no == "" {
			fail("ACQ.INVALID_PARAMETER", "参数无效")
			return
		}
		if o == nil {
			o = &order{amountFen: fen, subject: biz["subject"], notifyURL: p.Get("notify_url"), status: "WAIT_BUYER_PAY"}
			s.orders[no] = o
		} else if o.amountFen != fen {
			fail("ACQ.TRADE_HAS_SUCCESS", "交易已存在且金额不同")
			return
		}
		answer(name, map[string]any{"code": "10000", "msg": "Success", "out_trade_no": no, "qr_code": s.baseURL + "/dev/pay/" + no})
	case "alipay.trade.query":
		if o == nil {
			fail("ACQ.TRADE_NOT_EXIST", "交易不存在")
			return
		}
		answer(name, map[string]any{"code": "10000", "msg": "Success", "out_trade_no": no, "trade_no": o.tradeNo,
			"trade_status": o.status, "total_amount": apply.FormatFen(o.amountFen)})
	case "alipay.trade.close":
		switch {
		case o == nil:
			fail("ACQ.TRADE_NOT_EXIST", "交易不存在")
		case o.status != "WAIT_BUYER_PAY" && o.status != "TRADE_CLOSED":
			fail("ACQ.TRADE_STATUS_ERROR", "交易状态不合法")
		default:
			o.status = "TRADE_CLOSED"
			answer(name, map[string]any{"code": "10000", "msg": "Success", "out_trade_no": no})
		}
	case "alipay.trade.refund":
		fen, err := apply.ParseYuan(biz["refund_amount"])
		req := biz["out_request_no"]
		switch {
		case o == nil:
			fail("ACQ.TRADE_NOT_EXIST", "交易不存在")
		case o.status != "TRADE_SUCCESS":
			fail("ACQ.TRADE_STATUS_ERROR", "交易状态不合法")
		case err != nil || fen <= 0 || req == "":
			fail("ACQ.INVALID_PARAMETER", "参数无效")
		default:
			if _, done := s.refunds[no+"/"+req]; !done {
				if o.refundedFen+fen > o.amountFen {
					fail("ACQ.REFUND_AMT_NOT_EQUAL_TOTAL", "退款金额超限")
					return
				}
				s.refunds[no+"/"+req] = fen
				o.refundedFen += fen
			}
			answer(name, map[string]any{"code": "10000", "msg": "Success", "out_trade_no": no, "trade_no": o.tradeNo,
				"refund_fee": apply.FormatFen(o.refundedFen), "fund_change": "Y"})
		}
	default:
		answer(name, map[string]any{"code": "40004", "msg": "Business Failed", "sub_code": "isv.invalid-method", "sub_msg": "不存在的方法名"})
	}
}

// Pay is the buyer paying: the trade succeeds and, unless notify is false
// (a lost notify), the signed notify goes to the merchant.
func (s *Sandbox) Pay(ctx context.Context, outTradeNo string, notify bool) error {
	s.mu.Lock()
	o, ok := s.orders[outTradeNo]
	if !ok || o.status != "WAIT_BUYER_PAY" {
		s.mu.Unlock()
		return fmt.Errorf("trade %s cannot be paid", outTradeNo)
	}
	o.status = "TRADE_SUCCESS"
	o.tradeNo = "2026" + randHex(12)
	s.mu.Unlock()
	if !notify {
		return nil
	}
	return s.sendNotify(ctx, outTradeNo)
}

// NotifyParams builds the signed notify of a trade (exported for tests of
// forged and replayed notifies).
func (s *Sandbox) NotifyParams(outTradeNo string) (url.Values, error) {
	s.mu.Lock()
	o, ok := s.orders[outTradeNo]
	s.mu.Unlock()
	if !ok {
		return nil, fmt.Errorf("no trade %s", outTradeNo)
	}
	now := time.Now().Format("2006-01-02 15:04:05")
	p := url.Values{
		"notify_time": {now}, "notify_type": {"trade_status_sync"}, "notify_id": {randHex(16)},
		"app_id": {s.appID}, "charset": {"utf-8"}, "version": {"1.0"},
		"trade_no": {o.tradeNo}, "out_trade_no": {outTradeNo}, "total_amount": {apply.FormatFen(o.amountFen)},
		"trade_status": {o.status}, "gmt_payment": {now}, "subject": {o.subject},
	}
	return p, alipay.Sign(s.key, p)
}

// SignNotify signs params with the provider's key, as the provider would
// sign whatever it sends (tests of notifies the merchant must refuse even
// when their signature is genuine).
func (s *Sandbox) SignNotify(params url.Values) error { return alipay.Sign(s.key, params) }

func (s *Sandbox) sendNotify(ctx context.Context, outTradeNo string) error {
	p, err := s.NotifyParams(outTradeNo)
	if err != nil {
		return err
	}
	s.mu.Lock()
	target := s.orders[outTradeNo].notifyURL
	s.mu.Unlock()
	// Like the real provider, retry until the merchant answers "success".
	for attempt := 0; attempt < 5; attempt++ {
		req, _ := http.NewRequestWithContext(ctx, "POST", target, strings.NewReader(p.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		res, err := s.client.Do(req)
		if err == nil {
			var buf bytes.Buffer
			_, rerr := buf.ReadFrom(io.LimitReader(res.Body, 4096))
			res.Body.Close()
			if rerr == nil && strings.TrimSpace(buf.String()) == "success" {
				return nil
			}
			err = fmt.Errorf("merchant answered %d %q", res.StatusCode, buf.String())
		}
		s.log.Warn("sandbox notify", "order", outTradeNo, "attempt", attempt, "err", err)
		time.Sleep(time.Duration(200<<attempt) * time.Millisecond)
	}
	return fmt.Errorf("notify for %s not acknowledged", outTradeNo)
}

func randHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// Identity is the development face-ID provider.
type Identity struct {
	svc     *service.Service
	baseURL string
	client  *http.Client
}

// NewIdentity makes the provider; it signs callbacks with the service's
// identity provider key, as a real provider signs with the shared secret.
func NewIdentity(svc *service.Service, baseURL string, client *http.Client) *Identity {
	return &Identity{svc: svc, baseURL: strings.TrimRight(baseURL, "/"), client: client}
}

// Callback posts a signed result for a session, over HTTP, to the server.
func (id *Identity) Callback(ctx context.Context, cb service.IdentityCallback) error {
	body, _ := json.Marshal(cb)
	req, _ := http.NewRequestWithContext(ctx, "POST", id.baseURL+api.Prefix+api.PathIdentityCallback, bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set(api.HeaderSignature, service.SignIdentityCallback(id.svc.IdentityProviderKey(), body))
	res, err := id.client.Do(req)
	if err != nil {
		return err
	}
	res.Body.Close()
	if res.StatusCode/100 != 2 {
		return fmt.Errorf("callback answered %d", res.StatusCode)
	}
	return nil
}

var page = template.Must(template.New("p").Parse(`<!doctype html><html lang="zh-CN"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width,initial-scale=1"><title>{{.Title}}</title>
<style>body{font-family:sans-serif;margin:1.5em;max-width:30em}button{font-size:1.2em;padding:.6em 1.2em;margin:.3em}
.warn{background:#fff3cd;padding:.6em;border-radius:.3em}input{font-size:1em;width:100%;margin:.2em 0}</style></head><body>
<p class="warn">开发测试环境 · Development provider: no real money, no real face check.</p>
<h1>{{.Title}}</h1>{{.Body}}</body></html>`))

func render(w http.ResponseWriter, status int, title string, body template.HTML) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	// The header is sent: a failure here is the phone gone, nobody to tell.
	_ = page.Execute(w, map[string]any{"Title": title, "Body": body})
}

// Register mounts the development pages on mux.
func Register(mux *http.ServeMux, sb *Sandbox, wx *WeChat, id *Identity) {
	registerWeChat(mux, wx)
	mux.HandleFunc("POST /dev/alipay/gateway.do", sb.ServeGateway)
	mux.HandleFunc("GET /dev/identity/app", func(w http.ResponseWriter, r *http.Request) {
		render(w, 200, "身份认证 APP", "<p>正式环境中,这里是身份认证 APP 的下载页。开发环境无需安装:直接扫描第二个二维码即可。</p><p>In production this page offers the verification app; in development scan the second QR code directly.</p>")
	})
	mux.HandleFunc("GET /dev/identity/s/{ref}", func(w http.ResponseWriter, r *http.Request) {
		sid, err := id.svc.ParseSessionRef(r.PathValue("ref"))
		if err != nil {
			render(w, 400, "二维码无效", "<p>二维码已过期或无效,请在证书助手中重新生成。</p><p>The QR code expired or is invalid.</p>")
			return
		}
		name, num, err := id.svc.ExpectedPerson(r.Context(), sid)
		if err != nil {
			render(w, 404, "找不到会话", "")
			return
		}
		body := template.HTML(`<form method="post"><p>请按提示完成人脸识别。开发环境:确认或修改下列身份信息后选择结果。</p>
<label>姓名 Name<input name="name" value="` + template.HTMLEscapeString(name) + `"></label>
<label>证件号码 ID number<input name="id_number" value="` + template.HTMLEscapeString(num) + `"></label>
<button name="result" value="pass">通过 Pass</button><button name="result" value="fail">不通过 Fail</button></form>`)
		render(w, 200, "人脸识别", body)
	})
	mux.HandleFunc("POST /dev/identity/s/{ref}", func(w http.ResponseWriter, r *http.Request) {
		sid, err := id.svc.ParseSessionRef(r.PathValue("ref"))
		if err != nil {
			render(w, 400, "二维码无效", "")
			return
		}
		cb := service.IdentityCallback{CallbackID: randHex(16), SessionID: sid, Result: r.FormValue("result"),
			Name: r.FormValue("name"), IDNumber: r.FormValue("id_number"), Timestamp: time.Now().Unix()}
		if err := id.Callback(r.Context(), cb); err != nil {
			render(w, 502, "提交失败", template.HTML("<p>"+template.HTMLEscapeString(err.Error())+"</p>"))
			return
		}
		render(w, 200, "已提交", "<p>结果已提交,请回到电脑上的证书助手。</p><p>Done: go back to CertDesk on the PC.</p>")
	})
	mux.HandleFunc("GET /dev/pay/{order}", func(w http.ResponseWriter, r *http.Request) {
		status, fen, _, ok := sb.Trade(r.PathValue("order"))
		if !ok {
			render(w, 404, "订单不存在", "")
			return
		}
		body := template.HTML(fmt.Sprintf(`<p>金额 Amount: <b>¥%s</b></p><p>状态 Status: %s</p>
<form method="post"><button>立即支付 Pay now</button></form>`, apply.FormatFen(fen), template.HTMLEscapeString(status)))
		render(w, 200, "支付宝沙箱 · 当面付", body)
	})
	mux.HandleFunc("POST /dev/pay/{order}", func(w http.ResponseWriter, r *http.Request) {
		if err := sb.Pay(r.Context(), r.PathValue("order"), r.URL.Query().Get("notify") != "0"); err != nil {
			render(w, 409, "支付失败", template.HTML("<p>"+template.HTMLEscapeString(err.Error())+"</p>"))
			return
		}
		render(w, 200, "支付成功", "<p>支付成功,请回到电脑上的证书助手。</p><p>Paid: go back to CertDesk on the PC.</p>")
	})
}

// Phone does what the applicant's phone does with a QR code of the
// development providers: it opens the address, posting form when there is
// one (the face-check page's answer); a nil form "pays" on the sandbox page.
// Tests and `certdesk screens` use it.
func Phone(u string, form url.Values) error {
	res, err := http.PostForm(u, form)
	if err != nil {
		return err
	}
	res.Body.Close()
	if res.StatusCode != http.StatusOK {
		return fmt.Errorf("%s: %s", u, res.Status)
	}
	return nil
}
