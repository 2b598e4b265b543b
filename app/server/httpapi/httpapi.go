// Package httpapi is the enrollment server's HTTP face: routes under
// /api/v1, JSON in and out, the one error shape, request IDs in the logs,
// body limits, and nothing else — every decision is the service's.
package httpapi

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"certdesk/app/api"
	"certdesk/app/apply"
	"certdesk/app/server/service"
)

// MaxJSONBody caps JSON request bodies; material uploads have their own cap.
const MaxJSONBody = 64 << 10

// Route is one documented endpoint (the OpenAPI test checks them all).
type Route struct {
	Method, Path string
	Staff        bool
	Public       bool
}

// Handler serves the API.
type Handler struct {
	svc    *service.Service
	log    *slog.Logger
	mux    *http.ServeMux
	routes []Route
	// TrustedProxies are the CA's own reverse proxies: a request from one
	// of them has its client address taken from X-Forwarded-For (see
	// clientAddr); from anywhere else the header is ignored.
	TrustedProxies []netip.Prefix
}

type ctxKey int

const (
	keyPrincipal ctxKey = iota
	keyRequestID
	keyToken
)

// New builds the handler and its routes.
func New(svc *service.Service, log *slog.Logger) *Handler {
	h := &Handler{svc: svc, log: log, mux: http.NewServeMux()}
	p := api.Prefix
	h.public("POST", p+api.PathRegister, h.register)
	h.public("POST", p+api.PathLogin, h.login)
	h.public("GET", p+api.PathAgreement, h.agreement)
	h.public("GET", p+api.PathFeeSchedule, h.fees)
	h.public("GET", p+api.PathCRL, h.crl)
	h.public("POST", p+api.PathLoginNonce, h.nonce)
	h.public("POST", p+api.PathUKEYLogin, h.ukeyLogin)
	h.public("POST", p+api.PathIdentityCallback, h.identityCallback)
	h.public("POST", p+api.PathPayNotify, h.payNotify)
	h.public("POST", p+api.PathWeChatNotify, h.wechatNotify)
	h.authed("DELETE", p+api.PathLogout, h.logout)
	h.authed("GET", p+api.PathMe, h.me)
	h.authed("POST", p+api.PathApplications, h.createApplication)
	h.authed("GET", p+api.PathApplications, h.listApplications)
	h.authed("GET", p+api.PathApplication, h.getApplication)
	h.authed("PATCH", p+api.PathApplication, h.updateForm)
	h.authed("DELETE", p+api.PathApplication, h.cancel)
	h.authed("POST", p+api.PathSimilar, h.similar)
	h.authed("POST", p+api.PathEvents, h.event)
	h.authed("GET", p+api.PathChecklist, h.checklist)
	h.authed("GET", p+api.PathMaterial, h.getMaterial)
	h.authed("DELETE", p+api.PathMaterial, h.deleteMaterial)
	h.authed("GET", p+api.PathMaterialData, h.materialData)
	h.authed("POST", p+api.PathUploads, h.createUpload)
	h.authed("HEAD", p+api.PathUpload, h.uploadStatus)
	h.authed("GET", p+api.PathUpload, h.uploadStatus)
	h.authed("PATCH", p+api.PathUpload, h.appendUpload)
	h.authed("POST", p+api.PathDownload, h.download)
	h.authed("POST", p+api.PathRenew, h.renew)
	h.authed("POST", p+api.PathReplace, h.replace)
	h.authed("POST", p+api.PathIdentity, h.startIdentity)
	h.authed("GET", p+api.PathIdentity, h.identityStatus)
	h.authed("POST", p+api.PathPayment, h.startPayment)
	h.authed("GET", p+api.PathPayment, h.paymentStatus)
	h.public("GET", p+api.PathCertStatus, h.certStatus)
	h.authed("POST", p+api.PathHolderRevoke, h.holderRevoke)
	h.authed("GET", p+api.PathRenewals, h.renewals)
	h.authed("GET", p+api.PathAudit, h.auditHistory)
	h.authed("POST", p+api.PathUKEYUnlocks, h.startUnlock)
	h.authed("GET", p+api.PathUnlock, h.getUnlock)
	h.authed("POST", p+api.PathUnlockCode, h.unlockCode)
	h.authed("POST", p+api.PathUnlockGrant, h.unlockGrant)
	h.authed("POST", p+api.PathUnlockDone, h.unlockDone)
	h.staff("GET", p+api.PathStaffUnlocks, h.pendingUnlocks)
	h.staff("POST", p+api.PathStaffUnlockApprv, h.approveUnlock)
	h.staff("GET", p+api.PathStaffReview, h.staffList)
	h.staff("GET", p+api.PathStaffReview+"/{id}", h.getApplication)
	h.staff("POST", p+api.PathStaffReview+"/{id}/review", h.review)
	h.staff("POST", p+api.PathStaffReview+"/{id}/events", h.event)
	h.staff("POST", p+api.PathStaffReview+"/{id}/revoke", h.revoke)
	h.mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("ok\n")) })
	h.mux.HandleFunc("GET /readyz", h.ready)
	h.mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) { h.fail(w, r, api.NewError(api.CodeNotFound)) })
	return h
}

// Mux is where the development providers mount their pages (outside
// /api/v1 and the route table).
func (h *Handler) Mux() *http.ServeMux { return h.mux }

// Routes lists the API's endpoints.
func (h *Handler) Routes() []Route { return append([]Route(nil), h.routes...) }

func (h *Handler) public(method, path string, fn http.HandlerFunc) {
	h.routes = append(h.routes, Route{Method: method, Path: path, Public: true})
	h.mux.HandleFunc(method+" "+path, fn)
}

func (h *Handler) authed(method, path string, fn http.HandlerFunc) {
	h.routes = append(h.routes, Route{Method: method, Path: path})
	h.mux.HandleFunc(method+" "+path, h.requireAuth(fn, false))
}

func (h *Handler) staff(method, path string, fn http.HandlerFunc) {
	h.routes = append(h.routes, Route{Method: method, Path: path, Staff: true})
	h.mux.HandleFunc(method+" "+path, h.requireAuth(fn, true))
}

// ServeHTTP adds a request ID, recovers panics and logs one line per
// request: method, route, status, duration — never bodies, tokens or
// query strings.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	id := r.Header.Get("X-Request-ID")
	if id == "" || len(id) > 64 {
		var b [8]byte
		rand.Read(b[:])
		id = hex.EncodeToString(b[:])
	}
	w.Header().Set("X-Request-ID", id)
	sw := &statusWriter{ResponseWriter: w, status: 200}
	ctx := context.WithValue(r.Context(), keyRequestID, id)
	r = r.WithContext(ctx)
	defer func() {
		if rec := recover(); rec != nil {
			h.log.ErrorContext(ctx, "panic", "request_id", id, "panic", fmt.Sprint(rec))
			if !sw.wrote {
				h.fail(sw, r, api.NewError(api.CodeInternal))
			}
		}
		_, pattern := h.mux.Handler(r)
		h.log.InfoContext(ctx, "http", "request_id", id, "method", r.Method, "route", pattern, "status", sw.status,
			"ms", time.Since(start).Milliseconds(), "bytes_in", r.ContentLength)
	}()
	h.mux.ServeHTTP(sw, r)
}

type statusWriter struct {
	http.ResponseWriter
	status int
	wrote  bool
}

func (s *statusWriter) WriteHeader(c int) {
	if !s.wrote {
		s.status, s.wrote = c, true
	}
	s.ResponseWriter.WriteHeader(c)
}

func (s *statusWriter) Write(b []byte) (int, error) {
	s.wrote = true
	return s.ResponseWriter.Write(b)
}

func (s *statusWriter) Unwrap() http.ResponseWriter { return s.ResponseWriter }

func bearer(r *http.Request) string {
	a := r.Header.Get("Authorization")
	if len(a) > 7 && strings.EqualFold(a[:7], "Bearer ") {
		return strings.TrimSpace(a[7:])
	}
	return ""
}

func (h *Handler) requireAuth(fn http.HandlerFunc, staffOnly bool) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		tok := bearer(r)
		p, _, err := h.svc.Authenticate(r.Context(), tok)
		if err != nil {
			h.fail(w, r, err)
			return
		}
		if staffOnly && !p.Staff() {
			h.fail(w, r, api.NewError(api.CodeForbidden))
			return
		}
		ctx := context.WithValue(service.WithClientAddr(r.Context(), h.clientAddr(r)), keyPrincipal, p)
		ctx = context.WithValue(ctx, keyToken, tok)
		fn(w, r.WithContext(ctx))
	}
}

func principal(r *http.Request) service.Principal {
	p, _ := r.Context().Value(keyPrincipal).(service.Principal)
	return p
}

// ClientAddr is the caller's address as the throttles and the audit log
// see it (the console uses it too).
func (h *Handler) ClientAddr(r *http.Request) string { return h.clientAddr(r) }

// clientAddr is the address the throttles key on. Behind trusted proxies
// it is the rightmost X-Forwarded-For entry that is not one of them: each
// proxy appends the address it saw, so entries left of the first proxy's
// are whatever the client chose to send and are never believed.
func (h *Handler) clientAddr(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	peer, err := netip.ParseAddr(host)
	if err != nil || !h.trusted(peer) {
		return host
	}
	var hops []string
	for _, v := range r.Header.Values("X-Forwarded-For") {
		hops = append(hops, strings.Split(v, ",")...)
	}
	for i := len(hops) - 1; i >= 0; i-- {
		hop := strings.TrimSpace(hops[i])
		a, err := netip.ParseAddr(hop)
		if err != nil {
			if ap, perr := netip.ParseAddrPort(hop); perr == nil {
				a, err = ap.Addr(), nil
			}
		}
		if err != nil {
			// Not an address: no proxy of ours wrote it, so the client
			// did, and the hop to its right (ours) is the client's.
			break
		}
		a = a.Unmap()
		if !h.trusted(a) {
			return a.String()
		}
		host = a.String()
	}
	return host
}

func (h *Handler) trusted(a netip.Addr) bool {
	a = a.Unmap()
	for _, p := range h.TrustedProxies {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// ParseProxies reads a comma-separated list of addresses and CIDR ranges
// (certdesk-server serve --trust-proxy).
func ParseProxies(list string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, f := range strings.Split(list, ",") {
		f = strings.TrimSpace(f)
		if f == "" {
			continue
		}
		if p, err := netip.ParsePrefix(f); err == nil {
			out = append(out, p.Masked())
			continue
		}
		a, err := netip.ParseAddr(f)
		if err != nil {
			return nil, fmt.Errorf("trusted proxy %q: not an address or a CIDR range", f)
		}
		out = append(out, netip.PrefixFrom(a.Unmap(), a.Unmap().BitLen()))
	}
	return out, nil
}

func (h *Handler) json(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func (h *Handler) fail(w http.ResponseWriter, r *http.Request, err error) {
	var e *api.Error
	if !errors.As(err, &e) {
		h.log.ErrorContext(r.Context(), "unhandled", "err", err)
		e = api.NewError(api.CodeInternal)
	}
	if e.RetryAfter > 0 {
		w.Header().Set("Retry-After", strconv.Itoa(e.RetryAfter))
	}
	h.json(w, e.Code.HTTPStatus(), e)
}

// decode reads a JSON body, refusing bodies over MaxJSONBody and unknown
// fields (a typo in a client must not silently drop data).
func (h *Handler) decode(w http.ResponseWriter, r *http.Request, v any) bool {
	if r.ContentLength > MaxJSONBody {
		h.fail(w, r, api.NewError(api.CodeTooLarge))
		return false
	}
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, MaxJSONBody))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			h.fail(w, r, api.NewError(api.CodeTooLarge))
			return false
		}
		h.fail(w, r, api.NewError(api.CodeBadRequest).WithMessage(apply.Text{ZH: "请求格式不正确:" + err.Error(), EN: "Malformed request: " + err.Error()}))
		return false
	}
	return true
}

func (h *Handler) register(w http.ResponseWriter, r *http.Request) {
	var req api.RegisterRequest
	if !h.decode(w, r, &req) {
		return
	}
	acc, err := h.svc.RegisterFrom(r.Context(), req, h.clientAddr(r))
	if err != nil {
		h.fail(w, r, err)
		return
	}
	h.json(w, http.StatusCreated, acc)
}

func (h *Handler) login(w http.ResponseWriter, r *http.Request) {
	var req api.LoginRequest
	if !h.decode(w, r, &req) {
		return
	}
	s, err := h.svc.Login(r.Context(), req, h.clientAddr(r))
	if err != nil {
		h.fail(w, r, err)
		return
	}
	h.json(w, http.StatusCreated, s)
}

func (h *Handler) logout(w http.ResponseWriter, r *http.Request) {
	tok, _ := r.Context().Value(keyToken).(string)
	if err := h.svc.Logout(r.Context(), tok); err != nil {
		h.fail(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (h *Handler) me(w http.ResponseWriter, r *http.Request) {
	_, acc, err := h.svc.Authenticate(r.Context(), bearer(r))
	if err != nil {
		h.fail(w, r, err)
		return
	}
	h.json(w, http.StatusOK, acc)
}

func (h *Handler) agreement(w http.ResponseWriter, r *http.Request) {
	h.json(w, http.StatusOK, h.svc.Agreement())
}

func (h *Handler) fees(w http.ResponseWriter, r *http.Request) {
	h.json(w, http.StatusOK, h.svc.Fees())
}

func (h *Handler) ready(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
	defer cancel()
	if err := h.svc.Ready(ctx); err != nil {
		h.fail(w, r, api.NewError(api.CodeUnavailable))
		return
	}
	w.Write([]byte("ready\n"))
}

func (h *Handler) createApplication(w http.ResponseWriter, r *http.Request) {
	var req api.CreateApplicationRequest
	if !h.decode(w, r, &req) {
		return
	}
	a, err := h.svc.CreateApplication(r.Context(), principal(r), req, r.Header.Get(api.HeaderIdempotency))
	h.reply(w, r, http.StatusCreated, a, err)
}

func (h *Handler) reply(w http.ResponseWriter, r *http.Request, status int, v any, err error) {
	if err != nil {
		h.fail(w, r, err)
		return
	}
	h.json(w, status, v)
}

func (h *Handler) listApplications(w http.ResponseWriter, r *http.Request) {
	l, err := h.svc.Applications(r.Context(), principal(r))
	h.reply(w, r, http.StatusOK, l, err)
}

func (h *Handler) getApplication(w http.ResponseWriter, r *http.Request) {
	a, err := h.svc.Application(r.Context(), principal(r), r.PathValue("id"))
	h.reply(w, r, http.StatusOK, a, err)
}

func (h *Handler) updateForm(w http.ResponseWriter, r *http.Request) {
	var req api.UpdateFormRequest
	if !h.decode(w, r, &req) {
		return
	}
	a, err := h.svc.UpdateForm(r.Context(), principal(r), r.PathValue("id"), req)
	h.reply(w, r, http.StatusOK, a, err)
}

func (h *Handler) cancel(w http.ResponseWriter, r *http.Request) {
	a, err := h.svc.Event(r.Context(), principal(r), r.PathValue("id"), api.EventRequest{Event: apply.EvCancel})
	h.reply(w, r, http.StatusOK, a, err)
}

func (h *Handler) similar(w http.ResponseWriter, r *http.Request) {
	a, err := h.svc.Similar(r.Context(), principal(r), r.PathValue("id"), r.Header.Get(api.HeaderIdempotency))
	h.reply(w, r, http.StatusCreated, a, err)
}

func (h *Handler) event(w http.ResponseWriter, r *http.Request) {
	var req api.EventRequest
	if !h.decode(w, r, &req) {
		return
	}
	a, err := h.svc.Event(r.Context(), principal(r), r.PathValue("id"), req)
	h.reply(w, r, http.StatusOK, a, err)
}

func (h *Handler) checklist(w http.ResponseWriter, r *http.Request) {
	c, err := h.svc.Checklist(r.Context(), principal(r), r.PathValue("id"))
	h.reply(w, r, http.StatusOK, c, err)
}

func (h *Handler) getMaterial(w http.ResponseWriter, r *http.Request) {
	m, err := h.svc.Material(r.Context(), principal(r), r.PathValue("id"), r.PathValue("mid"))
	h.reply(w, r, http.StatusOK, m, err)
}

func (h *Handler) deleteMaterial(w http.ResponseWriter, r *http.Request) {
	if err := h.svc.DeleteMaterial(r.Context(), principal(r), r.PathValue("id"), r.PathValue("mid")); err != nil {
		h.fail(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (h *Handler) materialData(w http.ResponseWriter, r *http.Request) {
	m, f, err := h.svc.MaterialData(r.Context(), principal(r), r.PathValue("id"), r.PathValue("mid"))
	if err != nil {
		h.fail(w, r, err)
		return
	}
	defer f.Close()
	w.Header().Set("Content-Type", "image/jpeg")
	w.Header().Set("ETag", `"`+m.SHA256+`"`)
	w.Header().Set("Cache-Control", "private, max-age=3600")
	http.ServeContent(w, r, "", m.UploadedAt, f)
}

func (h *Handler) createUpload(w http.ResponseWriter, r *http.Request) {
	var req api.CreateUploadRequest
	if !h.decode(w, r, &req) {
		return
	}
	u, err := h.svc.CreateUpload(r.Context(), principal(r), r.PathValue("id"), req, r.Header.Get(api.HeaderIdempotency))
	if err == nil {
		w.Header().Set("Location", api.Prefix+"/uploads/"+u.ID)
	}
	h.reply(w, r, http.StatusCreated, u, err)
}

func (h *Handler) uploadStatus(w http.ResponseWriter, r *http.Request) {
	u, err := h.svc.UploadStatus(r.Context(), principal(r), r.PathValue("uid"))
	if err != nil {
		h.fail(w, r, err)
		return
	}
	w.Header().Set(api.HeaderUploadOff, strconv.FormatInt(u.Offset, 10))
	w.Header().Set(api.HeaderUploadLen, strconv.FormatInt(u.Bytes, 10))
	w.Header().Set("Cache-Control", "no-store")
	if r.Method == http.MethodHead {
		w.WriteHeader(http.StatusOK)
		return
	}
	h.json(w, http.StatusOK, u)
}

// appendUpload takes the next bytes of an upload at Upload-Offset. A body
// longer than what is left of the announced length is refused from its
// Content-Length before a byte is read.
func (h *Handler) appendUpload(w http.ResponseWriter, r *http.Request) {
	off, err := strconv.ParseInt(r.Header.Get(api.HeaderUploadOff), 10, 64)
	if err != nil || off < 0 {
		h.fail(w, r, api.NewError(api.CodeBadRequest).WithMessage(apply.Text{ZH: "缺少上传位置", EN: "Upload-Offset header missing or malformed"}))
		return
	}
	if r.ContentLength > apply.MaxMaterialBytes {
		h.fail(w, r, api.NewError(api.CodeTooLarge))
		return
	}
	body := http.MaxBytesReader(w, r.Body, apply.MaxMaterialBytes+1)
	u, err := h.svc.AppendUpload(r.Context(), principal(r), r.PathValue("uid"), off, body)
	if u != nil {
		w.Header().Set(api.HeaderUploadOff, strconv.FormatInt(u.Offset, 10))
	}
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) {
		err = api.NewError(api.CodeTooLarge)
	}
	if err != nil {
		h.fail(w, r, err)
		return
	}
	h.json(w, http.StatusOK, u)
}

func (h *Handler) staffList(w http.ResponseWriter, r *http.Request) {
	var states []apply.State
	for _, s := range r.URL.Query()["state"] {
		states = append(states, apply.State(s))
	}
	l, err := h.svc.StaffApplications(r.Context(), principal(r), states...)
	h.reply(w, r, http.StatusOK, l, err)
}

func (h *Handler) review(w http.ResponseWriter, r *http.Request) {
	var req api.ReviewRequest
	if !h.decode(w, r, &req) {
		return
	}
	a, err := h.svc.Review(r.Context(), principal(r), r.PathValue("id"), req)
	h.reply(w, r, http.StatusOK, a, err)
}

func (h *Handler) crl(w http.ResponseWriter, r *http.Request) {
	der, err := h.svc.CRL(r.Context())
	if err != nil {
		h.fail(w, r, err)
		return
	}
	w.Header().Set("Content-Type", "application/pkix-crl")
	w.Header().Set("Cache-Control", "max-age=60")
	w.Write(der)
}

func (h *Handler) nonce(w http.ResponseWriter, r *http.Request) {
	n, err := h.svc.LoginNonce(r.Context(), h.clientAddr(r))
	h.reply(w, r, http.StatusCreated, n, err)
}

func (h *Handler) ukeyLogin(w http.ResponseWriter, r *http.Request) {
	var req api.UKEYLoginRequest
	if !h.decode(w, r, &req) {
		return
	}
	s, err := h.svc.UKEYLogin(r.Context(), req, h.clientAddr(r))
	h.reply(w, r, http.StatusCreated, s, err)
}

func (h *Handler) download(w http.ResponseWriter, r *http.Request) {
	var req api.DownloadRequest
	if !h.decode(w, r, &req) {
		return
	}
	b, err := h.svc.Download(r.Context(), principal(r), r.PathValue("id"), req)
	h.reply(w, r, http.StatusOK, b, err)
}

func (h *Handler) revoke(w http.ResponseWriter, r *http.Request) {
	var req api.RevokeRequest
	if !h.decode(w, r, &req) {
		return
	}
	a, err := h.svc.Revoke(r.Context(), principal(r), r.PathValue("id"), req.Reason, req.Note)
	h.reply(w, r, http.StatusOK, a, err)
}

func (h *Handler) startIdentity(w http.ResponseWriter, r *http.Request) {
	is, err := h.svc.StartIdentity(r.Context(), principal(r), r.PathValue("id"))
	h.reply(w, r, http.StatusCreated, is, err)
}

// identityStatus long-polls with ?wait=SECONDS (at most 55).
func (h *Handler) identityStatus(w http.ResponseWriter, r *http.Request) {
	wait, _ := strconv.Atoi(r.URL.Query().Get("wait"))
	is, err := h.svc.IdentityStatus(r.Context(), principal(r), r.PathValue("id"), time.Duration(wait)*time.Second)
	h.reply(w, r, http.StatusOK, is, err)
}

func (h *Handler) identityCallback(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxJSONBody))
	if err != nil {
		h.fail(w, r, api.NewError(api.CodeTooLarge))
		return
	}
	if err := h.svc.HandleIdentityCallback(r.Context(), body, r.Header.Get(api.HeaderSignature)); err != nil {
		h.log.WarnContext(r.Context(), "identity callback refused", "err", err)
		h.fail(w, r, api.NewError(api.CodeForbidden))
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (h *Handler) startPayment(w http.ResponseWriter, r *http.Request) {
	var req api.StartPaymentRequest
	if !h.decode(w, r, &req) {
		return
	}
	p, err := h.svc.StartPayment(r.Context(), principal(r), r.PathValue("id"), req.Method)
	h.reply(w, r, http.StatusCreated, p, err)
}

func (h *Handler) paymentStatus(w http.ResponseWriter, r *http.Request) {
	p, err := h.svc.PaymentStatus(r.Context(), principal(r), r.PathValue("id"))
	h.reply(w, r, http.StatusOK, p, err)
}

// payNotify answers the provider in its own protocol: "success" stops its
// retries, anything else makes it notify again.
func (h *Handler) payNotify(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, MaxJSONBody)
	if err := r.ParseForm(); err != nil {
		http.Error(w, "fail", http.StatusBadRequest)
		return
	}
	if err := h.svc.HandlePayNotify(r.Context(), r.PostForm); err != nil {
		h.log.WarnContext(r.Context(), "payment notify refused", "order", r.PostForm.Get("out_trade_no"), "err", err)
		http.Error(w, "fail", http.StatusBadRequest)
		return
	}
	w.Write([]byte("success"))
}

// wechatNotify takes WeChat Pay's notify: 204 when applied (or already
// applied), else the JSON failure WeChat Pay retries on.
func (h *Handler) wechatNotify(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxJSONBody))
	if err == nil {
		err = h.svc.HandleWeChatNotify(r.Context(), r.Header, body)
	}
	if err != nil {
		h.log.WarnContext(r.Context(), "wechat notify refused", "err", err)
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusBadRequest)
		w.Write([]byte(`{"code":"FAIL","message":"失败"}`))
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (h *Handler) renew(w http.ResponseWriter, r *http.Request) {
	var req api.RenewRequest
	if !h.decode(w, r, &req) {
		return
	}
	a, err := h.svc.Renew(r.Context(), principal(r), r.PathValue("id"), req.SecurityAnswer)
	h.reply(w, r, http.StatusCreated, a, err)
}

func (h *Handler) replace(w http.ResponseWriter, r *http.Request) {
	var req api.RenewRequest
	if !h.decode(w, r, &req) {
		return
	}
	a, err := h.svc.Replace(r.Context(), principal(r), r.PathValue("id"), req.SecurityAnswer)
	h.reply(w, r, http.StatusCreated, a, err)
}
