// Package client is CertDesk's side of the wire: every /api/v1 call on
// go-resty, with the standalone server's certificate pinned, timeouts and
// context cancellation, retries with jittered backoff on network errors,
// 429 and 502–504 (honouring Retry-After, never on other 4xx), idempotency
// keys on every creating POST so a retry never duplicates, server errors
// as *api.Error (zh/en messages and field errors), and resumable material
// uploads with progress. Logs carry methods, routes and statuses, never
// bodies, tokens or PINs.
package client

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/go-resty/resty/v2"

	"certdesk/app/api"
)

// Config configures a client.
type Config struct {
	BaseURL string // https://ca.example.cn, or the embedded server's URL
	// PinnedPEM, when set, is the only certificate (or CA) trusted for TLS:
	// the standalone server's own, shipped with the installer.
	PinnedPEM []byte
	Timeout   time.Duration // per attempt; default 30 s
	Retries   int           // default 4
	// RetryWait is the first backoff (doubling, jittered, capped at
	// RetryMaxWait); defaults 300 ms and 10 s.
	RetryWait, RetryMaxWait time.Duration
	Log                     *slog.Logger
}

// Client calls the enrollment server.
type Client struct {
	cfg  Config
	r    *resty.Client
	raw  *resty.Client // no automatic retries: upload chunks resume by offset instead
	mu   sync.RWMutex
	tok  string
	base string
}

// ErrNetwork wraps failures to reach the server (after the retries).
var ErrNetwork = errors.New("cannot reach the server")

// New builds a client.
func New(cfg Config) (*Client, error) {
	if cfg.Timeout == 0 {
		cfg.Timeout = 30 * time.Second
	}
	if cfg.Retries == 0 {
		cfg.Retries = 4
	}
	if cfg.RetryWait == 0 {
		cfg.RetryWait = 300 * time.Millisecond
	}
	if cfg.RetryMaxWait == 0 {
		cfg.RetryMaxWait = 10 * time.Second
	}
	if cfg.Log == nil {
		cfg.Log = slog.Default()
	}
	c := &Client{cfg: cfg, base: strings.TrimRight(cfg.BaseURL, "/") + api.Prefix}
	mk := func() (*resty.Client, error) {
		r := resty.New().SetTimeout(cfg.Timeout).SetHeader("User-Agent", "CertDesk").SetBaseURL(c.base).
			SetLogger(restyLog{cfg.Log})
		if len(cfg.PinnedPEM) > 0 {
			pool := x509.NewCertPool()
			if !pool.AppendCertsFromPEM(cfg.PinnedPEM) {
				return nil, errors.New("client: the pinned certificate is not PEM")
			}
			r.SetTLSClientConfig(&tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12})
		}
		r.OnBeforeRequest(func(_ *resty.Client, req *resty.Request) error {
			if tok := c.token(); tok != "" {
				req.SetAuthToken(tok)
			}
			return nil
		})
		r.OnAfterResponse(func(_ *resty.Client, res *resty.Response) error {
			c.cfg.Log.Debug("api", "method", res.Request.Method, "url", res.Request.URL, "status", res.StatusCode(), "ms", res.Time().Milliseconds())
			return nil
		})
		return r, nil
	}
	var err error
	if c.r, err = mk(); err != nil {
		return nil, err
	}
	if c.raw, err = mk(); err != nil {
		return nil, err
	}
	c.r.SetRetryCount(cfg.Retries).SetRetryWaitTime(cfg.RetryWait).SetRetryMaxWaitTime(cfg.RetryMaxWait).
		AddRetryCondition(retryable).SetRetryAfter(retryAfter)
	return c, nil
}

// retryable: network errors (resty's default), 429 and 502–504. Never
// other 4xx: those are answers, and repeating them changes nothing.
func retryable(res *resty.Response, err error) bool {
	if err != nil {
		return !errors.Is(err, context.Canceled) && !errors.Is(err, context.DeadlineExceeded)
	}
	switch res.StatusCode() {
	case http.StatusTooManyRequests, http.StatusBadGateway, http.StatusServiceUnavailable, http.StatusGatewayTimeout:
		return true
	}
	return false
}

// retryAfter honours a Retry-After header in seconds; 0 falls back to the
// jittered backoff.
func retryAfter(_ *resty.Client, res *resty.Response) (time.Duration, error) {
	if s := res.Header().Get("Retry-After"); s != "" {
		if n, err := strconv.Atoi(s); err == nil && n >= 0 {
			return time.Duration(n) * time.Second, nil
		}
	}
	return 0, nil
}

func (c *Client) token() string {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return c.tok
}

// Token is the session token calls carry ("" when logged out).
func (c *Client) Token() string { return c.token() }

// LoggedIn says whether calls carry a session token.
func (c *Client) LoggedIn() bool { return c.token() != "" }

// SetToken sets (or with "" clears) the session token sent with calls.
func (c *Client) SetToken(t string) {
	c.mu.Lock()
	c.tok = t
	c.mu.Unlock()
}

// NewIdempotencyKey makes a key for one logical POST; every retry of it,
// automatic or after a restart, must reuse the same key.
func NewIdempotencyKey() string {
	b := make([]byte, 16)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// do performs one call: body as JSON, out decoded from a 2xx, an
// *api.Error from anything else.
func (c *Client) do(ctx context.Context, method, path string, body, out any, headers ...string) error {
	return c.doWith(ctx, c.r, method, path, body, out, headers...)
}

func (c *Client) doWith(ctx context.Context, r *resty.Client, method, path string, body, out any, headers ...string) error {
	req := r.R().SetContext(ctx)
	if body != nil {
		req.SetHeader("Content-Type", "application/json").SetBody(body)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.SetHeader(headers[i], headers[i+1])
	}
	res, err := req.Execute(method, path)
	if err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return fmt.Errorf("%s %s: %w: %v", method, path, ErrNetwork, err)
	}
	return decode(res, out)
}

func decode(res *resty.Response, out any) error {
	if res.IsSuccess() {
		if out != nil && len(res.Body()) > 0 {
			if err := json.Unmarshal(res.Body(), out); err != nil {
				return fmt.Errorf("decode %s: %w", res.Request.URL, err)
			}
		}
		return nil
	}
	var e api.Error
	if json.Unmarshal(res.Body(), &e) != nil || e.Code == "" {
		return &api.Error{Code: api.CodeInternal, MessageZH: fmt.Sprintf("服务器返回 %d", res.StatusCode()),
			MessageEN: fmt.Sprintf("the server answered %d", res.StatusCode())}
	}
	return &e
}

// path fills {id}-style placeholders in order.
func path(p string, vals ...string) string {
	for _, v := range vals {
		i := strings.IndexByte(p, '{')
		j := strings.IndexByte(p, '}')
		if i < 0 || j < i {
			break
		}
		p = p[:i] + v + p[j+1:]
	}
	return p
}

// restyLog sends resty's own messages (retries, failures; URLs but no
// bodies or headers) to slog at debug level: the caller reports failures.
type restyLog struct{ l *slog.Logger }

func (r restyLog) Errorf(f string, v ...any) { r.l.Debug("resty: " + fmt.Sprintf(f, v...)) }
func (r restyLog) Warnf(f string, v ...any)  { r.l.Debug("resty: " + fmt.Sprintf(f, v...)) }
func (r restyLog) Debugf(f string, v ...any) { r.l.Debug("resty: " + fmt.Sprintf(f, v...)) }
