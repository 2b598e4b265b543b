// Package console is the CA staff's review console in the browser, served
// under /staff/: server-rendered pages (html/template) over the same
// service calls the API and the staff command line use, with a little
// plain JavaScript of our own for zooming and rotating scans. Nothing is
// fetched from outside: templates, CSS and script are embedded, so it
// works on a CA's closed intranet.
//
// Sessions are the service's sessions, carried in an HttpOnly,
// SameSite=Strict cookie (Secure under TLS) that expires after Idle
// without a request; every form carries a CSRF token derived from the
// session; every response forbids framing and any script but ours.
package console

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/subtle"
	"embed"
	"encoding/hex"
	"errors"
	"html/template"
	"io"
	"io/fs"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"certdesk/app/api"
	"certdesk/app/apply"
	"certdesk/app/server/service"
)

//go:embed templates/*.html
var templateFS embed.FS

//go:embed static
var staticFS embed.FS

const (
	cookieSession = "certdesk_staff"
	cookieLogin   = "certdesk_staff_login" // the login form's double-submit token
	cookieLang    = "certdesk_lang"
	// CSP: our own script and style only, images from us, no framing, no
	// plugins, forms only back to us.
	csp = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)

// Config tunes the console.
type Config struct {
	// Idle ends a session after this long without a request (default 15
	// minutes).
	Idle time.Duration
	// CacheDir keeps PDFium's compiled code for drawing acceptance forms
	// ("" compiles at each drawing).
	CacheDir string
	// ClientAddr is the caller's address as the API sees it (trusted
	// proxies); it goes into the audit log.
	ClientAddr func(*http.Request) string
	Log        *slog.Logger
}

// Console serves /staff/.
type Console struct {
	svc    *service.Service
	cfg    Config
	pages  map[string]*template.Template
	forms  *formCache
	routes [][3]string // method, pattern, duty of each session route
}

// New builds the console.
func New(svc *service.Service, cfg Config) *Console {
	if cfg.Idle <= 0 {
		cfg.Idle = 15 * time.Minute
	}
	if cfg.Log == nil {
		cfg.Log = slog.Default()
	}
	if cfg.ClientAddr == nil {
		cfg.ClientAddr = func(r *http.Request) string { return r.RemoteAddr }
	}
	c := &Console{svc: svc, cfg: cfg, pages: map[string]*template.Template{}, forms: newFormCache(svc, cfg.CacheDir)}
	for _, p := range []string{"login", "queue", "app", "finance", "certs", "reasons", "outbox", "error"} {
		c.pages[p] = template.Must(template.New("layout.html").Funcs(funcs).ParseFS(templateFS, "templates/layout.html", "templates/"+p+".html"))
	}
	return c
}

// Mount registers the console's routes.
func (c *Console) Mount(mux *http.ServeMux) {
	static, _ := fs.Sub(staticFS, "static")
	mux.Handle("GET /staff/static/", c.headers(http.StripPrefix("/staff/static/", http.FileServerFS(static))))
	mux.Handle("GET /staff/{$}", c.headers(http.RedirectHandler("/staff/queue", http.StatusSeeOther)))
	mux.Handle("GET /staff/login", c.headers(http.HandlerFunc(c.loginPage)))
	mux.Handle("POST /staff/login", c.headers(http.HandlerFunc(c.login)))
	mux.Handle("GET /staff/lang/{lang}", c.headers(http.HandlerFunc(c.setLang)))
	c.route(mux, "POST /staff/logout", "", c.logout)
	c.route(mux, "GET /staff/queue", "", c.queue)
	c.route(mux, "GET /staff/app/{id}", "", c.app)
	c.route(mux, "GET /staff/app/{id}/material/{mid}", "", c.material)
	c.route(mux, "GET /staff/app/{id}/form/{page}", "", c.formPage)
	c.route(mux, "POST /staff/app/{id}/approve", api.StaffReviewer, c.approve)
	c.route(mux, "POST /staff/app/{id}/reject", api.StaffReviewer, c.reject)
	c.route(mux, "POST /staff/app/{id}/revoke", api.StaffReviewer, c.revoke)
	c.route(mux, "POST /staff/app/{id}/confirm", api.StaffFinance, c.confirm)
	c.route(mux, "GET /staff/finance", api.StaffFinance, c.finance)
	c.route(mux, "POST /staff/payments/{pid}/refund", api.StaffFinance, c.refund)
	c.route(mux, "GET /staff/certs", api.StaffReviewer, c.certs)
	c.route(mux, "GET /staff/reasons", api.StaffAdmin, c.reasons)
	c.route(mux, "POST /staff/reasons", api.StaffAdmin, c.saveReason)
	c.route(mux, "GET /staff/outbox", api.StaffAdmin, c.outbox)
	mux.Handle("/staff/", c.headers(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c.fail(w, r, nil, api.NewError(api.CodeNotFound))
	})))
}

// Routes lists the console's routes that need a session, for the
// security tests: method, path pattern, the duty it needs ("" any staff).
func (c *Console) Routes() [][3]string { return append([][3]string(nil), c.routes...) }

// headers puts the console's security headers on every response.
func (c *Console) headers(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hd := w.Header()
		hd.Set("Content-Security-Policy", csp)
		hd.Set("X-Content-Type-Options", "nosniff")
		hd.Set("X-Frame-Options", "DENY")
		hd.Set("Referrer-Policy", "same-origin") // no-referrer would make Chromium send Origin: null on our own forms
		hd.Set("Cache-Control", "no-store")
		h.ServeHTTP(w, r)
	})
}

// req is one authenticated console request.
type req struct {
	p     service.Principal
	acct  *api.Account
	token string
	lang  apply.Lang
	csrf  string
}

// route registers a page or action that needs a staff session; duty ""
// is any staff member. A POST also needs the session's CSRF token and,
// when the browser sends one, our own Origin.
func (c *Console) route(mux *http.ServeMux, pattern string, duty api.StaffRole, fn func(http.ResponseWriter, *http.Request, *req)) {
	method, path, _ := strings.Cut(pattern, " ")
	c.routes = append(c.routes, [3]string{method, path, string(duty)})
	mux.Handle(pattern, c.headers(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		lang := langOf(r)
		ck, err := r.Cookie(cookieSession)
		if err != nil || ck.Value == "" {
			c.needLogin(w, r)
			return
		}
		p, acct, err := c.svc.Authenticate(r.Context(), ck.Value)
		if err != nil {
			c.needLogin(w, r)
			return
		}
		rq := &req{p: p, acct: acct, token: ck.Value, lang: lang, csrf: c.svc.CSRFToken(ck.Value)}
		if !p.Staff() {
			// An applicant's session is no key to the console.
			c.fail(w, r, rq, api.NewError(api.CodeForbidden))
			return
		}
		if method == http.MethodPost {
			r.Body = http.MaxBytesReader(w, r.Body, 64<<10)
			if !c.sameOrigin(r) || subtle.ConstantTimeCompare([]byte(r.PostFormValue("csrf")), []byte(rq.csrf)) != 1 {
				c.fail(w, r, rq, api.NewError(api.CodeForbidden).WithMessage(apply.Text{
					ZH: "页面已过期或请求来源不明,请刷新页面后重试", EN: "The page has expired or the request did not come from the console; reload the page and try again"}))
				return
			}
		}
		if duty != "" && !p.Can(duty) {
			c.fail(w, r, rq, api.NewError(api.CodeForbidden).WithMessage(dutyText(duty)))
			return
		}
		if err := c.svc.TouchConsole(r.Context(), ck.Value, c.cfg.Idle); err != nil {
			c.cfg.Log.WarnContext(r.Context(), "console session touch", "err", err)
		}
		ctx := service.WithClientAddr(r.Context(), c.cfg.ClientAddr(r))
		fn(w, r.WithContext(ctx), rq)
	})))
}

func dutyText(d api.StaffRole) apply.Text {
	n := map[api.StaffRole]apply.Text{api.StaffReviewer: {ZH: "审核", EN: "reviewer"}, api.StaffFinance: {ZH: "财务", EN: "finance"}, api.StaffAdmin: {ZH: "管理员", EN: "administrator"}}[d]
	return apply.Text{ZH: "此操作需要“" + n.ZH + "”职责,请联系管理员", EN: "This needs the " + n.EN + " duty; ask an administrator"}
}

// sameOrigin refuses a POST from another site: browsers say where a
// request comes from in Sec-Fetch-Site and Origin (a client that sends
// neither is not a browser, and the CSRF token still stands).
func (c *Console) sameOrigin(r *http.Request) bool {
	if site := r.Header.Get("Sec-Fetch-Site"); site != "" && site != "same-origin" {
		return false
	}
	o := r.Header.Get("Origin")
	if o == "" || o == "null" {
		return o == "" || r.Header.Get("Sec-Fetch-Site") == "same-origin"
	}
	u, err := url.Parse(o)
	return err == nil && u.Host == r.Host
}

func (c *Console) needLogin(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet {
		c.fail(w, r, nil, api.NewError(api.CodeUnauthenticated))
		return
	}
	http.Redirect(w, r, "/staff/login?next="+url.QueryEscape(r.URL.Path), http.StatusSeeOther)
}

func langOf(r *http.Request) apply.Lang {
	if ck, err := r.Cookie(cookieLang); err == nil && ck.Value == "en" {
		return apply.EN
	}
	return apply.ZH
}

func (c *Console) setLang(w http.ResponseWriter, r *http.Request) {
	v := "zh"
	if r.PathValue("lang") == "en" {
		v = "en"
	}
	http.SetCookie(w, &http.Cookie{Name: cookieLang, Value: v, Path: "/staff/", MaxAge: 365 * 24 * 3600, SameSite: http.SameSiteStrictMode, HttpOnly: true, Secure: r.TLS != nil})
	back := r.URL.Query().Get("back")
	if !localPath(back) {
		back = "/staff/queue"
	}
	http.Redirect(w, r, back, http.StatusSeeOther)
}

// localPath admits only a path of this console as a redirect target.
func localPath(p string) bool {
	return strings.HasPrefix(p, "/staff/") && !strings.HasPrefix(p, "//") && !strings.ContainsAny(p, "\\\r\n")
}

// page is what every template gets.
type page struct {
	Lang    apply.Lang
	Title   string
	Staff   string
	Roles   string
	CSRF    string
	Path    string
	Flash   string
	Error   string
	Nav     string
	Can     map[string]bool
	Data    any
	Approve int // approvals the CA's policy needs
}

func (c *Console) render(w http.ResponseWriter, r *http.Request, rq *req, name string, status int, pg page) {
	pg.Path = r.URL.RequestURI()
	if rq != nil {
		pg.Lang, pg.CSRF = rq.lang, rq.csrf
		pg.Roles = rq.p.Roles
		pg.Can = map[string]bool{}
		for _, d := range []api.StaffRole{api.StaffReviewer, api.StaffFinance, api.StaffAdmin} {
			pg.Can[string(d)] = rq.p.Can(d)
		}
		if rq.acct != nil {
			pg.Staff = rq.acct.Mobile
			if pg.Staff == "" {
				pg.Staff = rq.acct.Email
			}
		}
	} else {
		pg.Lang = langOf(r)
	}
	pg.Approve = c.svc.ApprovalsNeeded(r.Context())
	if _, ok := messages["done."+r.URL.Query().Get("done")]; ok && pg.Flash == "" {
		pg.Flash = tr(pg.Lang, "done."+r.URL.Query().Get("done"))
	}
	var buf bytes.Buffer
	if err := c.pages[name].Execute(&buf, pg); err != nil {
		c.cfg.Log.ErrorContext(r.Context(), "console template", "page", name, "err", err)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes())
}

// fail shows an error page with the service's words in the user's
// language and the status the API would give.
func (c *Console) fail(w http.ResponseWriter, r *http.Request, rq *req, err error) {
	var ae *api.Error
	if !errors.As(err, &ae) {
		c.cfg.Log.ErrorContext(r.Context(), "console", "path", r.URL.Path, "err", err)
		ae = api.NewError(api.CodeInternal)
	}
	lang := langOf(r)
	msg := ae.Message(lang)
	for _, fe := range ae.Fields {
		msg += " " + apply.Text{ZH: fe.MessageZH, EN: fe.MessageEN}.In(lang)
	}
	c.render(w, r, rq, "error", ae.Code.HTTPStatus(), page{Title: tr(lang, "error.title"), Error: msg})
}

// after an action: back to where the form was, with a notice.
func back(w http.ResponseWriter, r *http.Request, to, done string) {
	http.Redirect(w, r, to+"?done="+done, http.StatusSeeOther)
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

func (c *Console) loginPage(w http.ResponseWriter, r *http.Request) {
	c.showLogin(w, r, http.StatusOK, "")
}

func (c *Console) showLogin(w http.ResponseWriter, r *http.Request, status int, msg string) {
	tok := randomHex(16)
	http.SetCookie(w, &http.Cookie{Name: cookieLogin, Value: tok, Path: "/staff/login", HttpOnly: true, Secure: r.TLS != nil, SameSite: http.SameSiteStrictMode, MaxAge: 3600})
	next := r.FormValue("next")
	if !localPath(next) {
		next = "/staff/queue"
	}
	lang := langOf(r)
	c.render(w, r, nil, "login", status, page{Title: tr(lang, "login.title"), CSRF: tok, Error: msg,
		Data: map[string]string{"Next": next, "Login": r.PostFormValue("login")}})
}

func (c *Console) login(w http.ResponseWriter, r *http.Request) {
	lang := langOf(r)
	ck, err := r.Cookie(cookieLogin)
	if err != nil || ck.Value == "" || !c.sameOrigin(r) || subtle.ConstantTimeCompare([]byte(ck.Value), []byte(r.PostFormValue("csrf"))) != 1 {
		c.showLogin(w, r, http.StatusForbidden, tr(lang, "login.expired"))
		return
	}
	s, err := c.svc.Login(r.Context(), api.LoginRequest{Login: r.PostFormValue("login"), Password: r.PostFormValue("password"), TOTP: strings.TrimSpace(r.PostFormValue("totp"))}, c.cfg.ClientAddr(r))
	if err == nil && s.Account.Role != api.RoleStaff {
		// An applicant's right password: not said apart from a wrong one.
		_ = c.svc.Logout(r.Context(), s.Token)
		err = api.NewError(api.CodeBadCredentials)
	}
	if err != nil {
		var ae *api.Error
		msg := tr(lang, "login.bad")
		status := http.StatusUnauthorized
		if errors.As(err, &ae) && ae.Code == api.CodeRateLimited {
			msg, status = ae.Message(lang), http.StatusTooManyRequests
		} else if !errors.As(err, &ae) || ae.Code != api.CodeBadCredentials {
			msg, status = tr(lang, "error.internal"), http.StatusInternalServerError
		}
		c.showLogin(w, r, status, msg)
		return
	}
	if err := c.svc.TouchConsole(r.Context(), s.Token, c.cfg.Idle); err != nil {
		c.cfg.Log.WarnContext(r.Context(), "console session touch", "err", err)
	}
	http.SetCookie(w, &http.Cookie{Name: cookieSession, Value: s.Token, Path: "/staff/", HttpOnly: true, Secure: r.TLS != nil, SameSite: http.SameSiteStrictMode})
	http.SetCookie(w, &http.Cookie{Name: cookieLogin, Value: "", Path: "/staff/login", MaxAge: -1})
	ctx := service.WithClientAddr(r.Context(), c.cfg.ClientAddr(r))
	_ = c.svc.LogStaff(ctx, service.Principal{AccountID: s.Account.ID, Role: api.RoleStaff}, "console.login", s.Account.ID, "")
	next := r.PostFormValue("next")
	if !localPath(next) {
		next = "/staff/queue"
	}
	http.Redirect(w, r, next, http.StatusSeeOther)
}

func (c *Console) logout(w http.ResponseWriter, r *http.Request, rq *req) {
	if err := c.svc.Logout(r.Context(), rq.token); err != nil {
		c.fail(w, r, rq, err)
		return
	}
	http.SetCookie(w, &http.Cookie{Name: cookieSession, Value: "", Path: "/staff/", MaxAge: -1, HttpOnly: true, SameSite: http.SameSiteStrictMode})
	http.Redirect(w, r, "/staff/login", http.StatusSeeOther)
}

// queue is the list of what waits, with its filters.
func (c *Console) queue(w http.ResponseWriter, r *http.Request, rq *req) {
	q := r.URL.Query()
	f := service.QueueFilter{Kind: apply.Kind(q.Get("kind")), State: apply.State(q.Get("state")), Name: q.Get("name"), Code: q.Get("code")}
	var bad []string
	if v := q.Get("from"); v != "" {
		t, err := time.ParseInLocation("2006-01-02", v, shanghai)
		if err != nil {
			bad = append(bad, tr(rq.lang, "queue.baddate"))
		}
		f.From = t
	}
	if v := q.Get("to"); v != "" {
		t, err := time.ParseInLocation("2006-01-02", v, shanghai)
		if err != nil {
			bad = append(bad, tr(rq.lang, "queue.baddate"))
		}
		f.To = t.AddDate(0, 0, 1)
	}
	res, err := c.svc.Queue(r.Context(), rq.p, f)
	if err != nil {
		c.fail(w, r, rq, err)
		return
	}
	c.render(w, r, rq, "queue", http.StatusOK, page{Title: tr(rq.lang, "queue.title"), Nav: "queue", Error: strings.Join(uniq(bad), " "),
		Data: map[string]any{"Queue": res, "Filter": q, "States": service.QueueStates, "Kinds": apply.Kinds}})
}

func uniq(ss []string) []string {
	var out []string
	for _, s := range ss {
		if len(out) == 0 || out[len(out)-1] != s {
			out = append(out, s)
		}
	}
	return out
}

var shanghai = time.FixedZone("CST", 8*3600)

// appView is the application page's data.
type appView struct {
	App      *api.Application
	Review   *service.ReviewInfo
	Payment  any
	Identity *api.IdentitySession
	Fields   []apply.Field
	Reasons  []api.RejectReason
	Pages    []int // acceptance form pages
	Voucher  bool
	Approved bool // this reviewer gave one of the approvals
	Verified bool // the history says the identity check passed
	Cert     any
}

func (c *Console) app(w http.ResponseWriter, r *http.Request, rq *req) {
	ctx := r.Context()
	id := r.PathValue("id")
	a, err := c.svc.Application(ctx, rq.p, id)
	if err != nil {
		c.fail(w, r, rq, err)
		return
	}
	info, err := c.svc.LookAt(ctx, rq.p, id)
	if err != nil {
		c.fail(w, r, rq, err)
		return
	}
	pay, err := c.svc.Payment(ctx, rq.p, id)
	if err != nil {
		c.fail(w, r, rq, err)
		return
	}
	idn, err := c.svc.Identity(ctx, rq.p, id)
	if err != nil {
		c.fail(w, r, rq, err)
		return
	}
	reasons, err := c.svc.RejectReasons(ctx, rq.p)
	if err != nil {
		c.fail(w, r, rq, err)
		return
	}
	v := appView{App: a, Review: info, Identity: idn, Reasons: reasons, Pages: []int{1, 2, 3}}
	if pay != nil {
		v.Payment = pay
	}
	for _, f := range apply.Schema(a.Kind) {
		if f.Type != apply.TypeSecret && f.IsActive(a.Form) {
			v.Fields = append(v.Fields, f)
		}
	}
	for _, m := range a.Materials {
		v.Voucher = v.Voucher || m.Type == apply.MatPaymentVoucher
	}
	for _, h := range a.History {
		v.Verified = v.Verified || h.Event == apply.EvIdentityVerified
	}
	for _, ap := range info.Approvals {
		v.Approved = v.Approved || ap.By == rq.p.AccountID
	}
	title := a.Form[apply.FOrgName]
	if title == "" {
		title = a.Form[apply.FApplicantName]
	}
	c.render(w, r, rq, "app", http.StatusOK, page{Title: title, Nav: "queue", Data: v})
}

// material serves one scan to staff, as a JPEG and nothing else.
func (c *Console) material(w http.ResponseWriter, r *http.Request, rq *req) {
	mi, f, err := c.svc.MaterialData(r.Context(), rq.p, r.PathValue("id"), r.PathValue("mid"))
	if err != nil {
		c.fail(w, r, rq, err)
		return
	}
	defer f.Close()
	h := w.Header()
	h.Set("Content-Type", "image/jpeg")
	h.Set("Content-Length", strconv.FormatInt(mi.Bytes, 10))
	h.Set("Content-Disposition", "inline")
	h.Set("Cache-Control", "private, max-age=600") // content-addressed by ID: it never changes
	if _, err := io.Copy(w, f); err != nil {
		c.cfg.Log.WarnContext(r.Context(), "material send", "err", err)
	}
}

// formPage draws a page of the acceptance form the server prints for the
// application's data, to set beside the signed scan.
func (c *Console) formPage(w http.ResponseWriter, r *http.Request, rq *req) {
	n, err := strconv.Atoi(r.PathValue("page"))
	if err != nil || n < 1 || n > 3 {
		c.fail(w, r, rq, api.NewError(api.CodeNotFound))
		return
	}
	a, err := c.svc.Application(r.Context(), rq.p, r.PathValue("id"))
	if err != nil {
		c.fail(w, r, rq, err)
		return
	}
	png, err := c.forms.page(r.Context(), a, n)
	if err != nil {
		c.fail(w, r, rq, err)
		return
	}
	w.Header().Set("Content-Type", "image/png")
	w.Header().Set("Cache-Control", "private, max-age=60")
	_, _ = w.Write(png)
}

func (c *Console) approve(w http.ResponseWriter, r *http.Request, rq *req) {
	id := r.PathValue("id")
	a, err := c.svc.Review(r.Context(), rq.p, id, api.ReviewRequest{Approve: true, Reason: r.PostFormValue("note")})
	if err != nil {
		c.fail(w, r, rq, err)
		return
	}
	done := "approved"
	if a.State == apply.StateUnderReview {
		done = "approved_first"
	}
	back(w, r, "/staff/app/"+url.PathEscape(id), done)
}

func (c *Console) reject(w http.ResponseWriter, r *http.Request, rq *req) {
	id := r.PathValue("id")
	var rets []api.MaterialReturn
	for _, mid := range r.PostForm["return"] {
		rets = append(rets, api.MaterialReturn{MaterialID: mid, Code: r.PostFormValue("code_" + mid), Note: r.PostFormValue("note_" + mid)})
	}
	if _, err := c.svc.Review(r.Context(), rq.p, id, api.ReviewRequest{Reason: r.PostFormValue("reason"), Materials: rets}); err != nil {
		c.fail(w, r, rq, err)
		return
	}
	back(w, r, "/staff/app/"+url.PathEscape(id), "rejected")
}

func (c *Console) confirm(w http.ResponseWriter, r *http.Request, rq *req) {
	id := r.PathValue("id")
	if strings.TrimSpace(r.PostFormValue("note")) == "" {
		c.fail(w, r, rq, api.ValidationError(apply.FieldErrors{{Field: "note", Code: apply.CodeRequired, Message: apply.Text{
			ZH: "请填写银行流水号,以便对账", EN: "Enter the bank's transaction reference, for reconciliation"}}}))
		return
	}
	if _, err := c.svc.ConfirmTransfer(r.Context(), rq.p, id, strings.TrimSpace(r.PostFormValue("note"))); err != nil {
		c.fail(w, r, rq, err)
		return
	}
	back(w, r, "/staff/app/"+url.PathEscape(id), "confirmed")
}

func (c *Console) revoke(w http.ResponseWriter, r *http.Request, rq *req) {
	id := r.PathValue("id")
	reason, err := strconv.Atoi(r.PostFormValue("reason"))
	if err != nil {
		reason = -1 // the service names the codes
	}
	if _, err := c.svc.Revoke(r.Context(), rq.p, id, reason, r.PostFormValue("note")); err != nil {
		c.fail(w, r, rq, err)
		return
	}
	n, err := c.svc.CRLNumber(r.Context())
	if err != nil {
		c.fail(w, r, rq, err)
		return
	}
	http.Redirect(w, r, "/staff/certs?q="+url.QueryEscape(id)+"&done=revoked&crl="+strconv.FormatInt(n, 10), http.StatusSeeOther)
}

func (c *Console) finance(w http.ResponseWriter, r *http.Request, rq *req) {
	q, err := c.svc.Queue(r.Context(), rq.p, service.QueueFilter{State: apply.StatePaymentPending})
	if err != nil {
		c.fail(w, r, rq, err)
		return
	}
	refunds, err := c.svc.Refunds(r.Context(), rq.p)
	if err != nil {
		c.fail(w, r, rq, err)
		return
	}
	c.render(w, r, rq, "finance", http.StatusOK, page{Title: tr(rq.lang, "finance.title"), Nav: "finance",
		Data: map[string]any{"Transfers": q.Rows, "Refunds": refunds}})
}

func (c *Console) refund(w http.ResponseWriter, r *http.Request, rq *req) {
	if err := c.svc.RecordRefund(r.Context(), rq.p, r.PathValue("pid"), r.PostFormValue("note")); err != nil {
		c.fail(w, r, rq, err)
		return
	}
	back(w, r, "/staff/finance", "refunded")
}

func (c *Console) certs(w http.ResponseWriter, r *http.Request, rq *req) {
	q := r.URL.Query().Get("q")
	var found []service.CertRecord
	var err error
	if strings.TrimSpace(q) != "" {
		if found, err = c.svc.SearchCertificates(r.Context(), rq.p, q); err != nil {
			c.fail(w, r, rq, err)
			return
		}
	}
	pg := page{Title: tr(rq.lang, "certs.title"), Nav: "certs", Data: map[string]any{"Q": q, "Found": found, "Searched": strings.TrimSpace(q) != ""}}
	if r.URL.Query().Get("done") == "revoked" {
		pg.Flash = tr(rq.lang, "done.revoked") + " CRL #" + r.URL.Query().Get("crl")
	}
	c.render(w, r, rq, "certs", http.StatusOK, pg)
}

func (c *Console) reasons(w http.ResponseWriter, r *http.Request, rq *req) {
	rs, err := c.svc.RejectReasons(r.Context(), rq.p)
	if err != nil {
		c.fail(w, r, rq, err)
		return
	}
	c.render(w, r, rq, "reasons", http.StatusOK, page{Title: tr(rq.lang, "reasons.title"), Nav: "reasons", Data: rs})
}

// outbox shows the notifications that could not be delivered yet.
func (c *Console) outbox(w http.ResponseWriter, r *http.Request, rq *req) {
	ms, err := c.svc.Undelivered(r.Context(), rq.p)
	if err != nil {
		c.fail(w, r, rq, err)
		return
	}
	c.render(w, r, rq, "outbox", http.StatusOK, page{Title: tr(rq.lang, "outbox.title"), Nav: "outbox", Data: ms})
}

func (c *Console) saveReason(w http.ResponseWriter, r *http.Request, rq *req) {
	pos, _ := strconv.Atoi(r.PostFormValue("position"))
	rr := api.RejectReason{Code: strings.TrimSpace(r.PostFormValue("code")), Text: apply.Text{ZH: r.PostFormValue("zh"), EN: r.PostFormValue("en")}}
	if err := c.svc.SaveRejectReason(r.Context(), rq.p, rr, pos, r.PostFormValue("retire") == "1"); err != nil {
		c.fail(w, r, rq, err)
		return
	}
	back(w, r, "/staff/reasons", "saved")
}

// formCache keeps drawn acceptance-form pages: drawing one starts PDFium,
// and a reviewer flips between pages.
type formCache struct {
	svc      *service.Service
	cacheDir string
	mu       sync.Mutex // one drawing at a time: PDFium is heavy
	pages    map[string][][]byte
	order    []string
}

func newFormCache(svc *service.Service, dir string) *formCache {
	return &formCache{svc: svc, cacheDir: dir, pages: map[string][][]byte{}}
}

func (f *formCache) page(ctx context.Context, a *api.Application, n int) ([]byte, error) {
	key := a.ID + "@" + a.UpdatedAt.Format(time.RFC3339Nano)
	f.mu.Lock()
	defer f.mu.Unlock()
	ps, ok := f.pages[key]
	if !ok {
		var err error
		if ps, err = drawForm(ctx, f.svc, a, f.cacheDir); err != nil {
			return nil, err
		}
		f.pages[key] = ps
		f.order = append(f.order, key)
		if len(f.order) > 32 {
			delete(f.pages, f.order[0])
			f.order = f.order[1:]
		}
	}
	if n > len(ps) {
		return nil, api.NewError(api.CodeNotFound)
	}
	return ps[n-1], nil
}
