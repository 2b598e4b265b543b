package server

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/pquerna/otp"
	"github.com/pquerna/otp/totp"

	"certdesk/app/api"
	"certdesk/app/apply"
	"certdesk/app/material/testimg"
	"certdesk/app/server/auth"
	"certdesk/app/server/service"
	"certdesk/app/server/store/pgtest"
)

var (
	pgOnce    sync.Once
	pgCluster *pgtest.Cluster
	pgErr     error
)

func TestMain(m *testing.M) {
	code := m.Run()
	if pgCluster != nil {
		pgCluster.Stop()
	}
	os.Exit(code)
}

func startCluster() { pgCluster, pgErr = pgtest.Start() }

// engines lists the store engines a server test runs on.
func engines(t testing.TB) map[string]string {
	out := map[string]string{"sqlite": ""}
	pgOnce.Do(startCluster)
	if pgErr != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("postgres: %v", pgErr)
		}
		return out
	}
	dsn, err := pgCluster.NewDatabase(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	out["postgres"] = dsn
	return out
}

// fastParams keep argon2id honest but cheap for tests that register many
// accounts; the production cost is tested in package auth.
var fastParams = auth.Params{MemoryKiB: 1024, Time: 1, Threads: 1}

func startServer(t testing.TB, dsn string) *Server { return startServerWith(t, dsn, fastParams) }

func startServerWith(t testing.TB, dsn string, params auth.Params) *Server {
	t.Helper()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	s, err := Start(context.Background(), Config{DataDir: t.TempDir(), DSN: dsn, Log: log, Service: service.Config{Params: params}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// client is a bare HTTP client for the API, so the tests see exactly what
// travels on the wire.
type client struct {
	t     testing.TB
	base  string
	token string
	hc    *http.Client
	// login and password of the account, to log in again after the test's
	// clock jumped past the session's end; totp is a staff member's secret.
	login, password, totp string
}

// relogin opens a new session for c's account (staff with the
// authenticator's code for the server's time).
func relogin(t testing.TB, s *Server, c *client) *client {
	t.Helper()
	req := api.LoginRequest{Login: c.login, Password: c.password}
	if c.totp != "" {
		req.TOTP = totpCode(t, c.totp, s.Service.Now())
	}
	var sess api.Session
	c.ok(c.do("POST", api.PathLogin, req), &sess)
	c.token = sess.Token
	return c
}

// totpSecret is the secret of an otpauth:// enrolment URL.
func totpSecret(t testing.TB, u string) string {
	t.Helper()
	key, err := otp.NewKeyFromURL(u)
	if err != nil {
		t.Fatal(err)
	}
	return key.Secret()
}

func totpCode(t testing.TB, secret string, at time.Time) string {
	t.Helper()
	code, err := totp.GenerateCode(secret, at)
	if err != nil {
		t.Fatal(err)
	}
	return code
}

func newClient(t testing.TB, s *Server) *client {
	return &client{t: t, base: s.URL + api.Prefix, hc: &http.Client{Timeout: 30 * time.Second}}
}

type resp struct {
	status int
	header http.Header
	body   []byte
}

func (r resp) err() *api.Error {
	var e api.Error
	if json.Unmarshal(r.body, &e) != nil || e.Code == "" {
		return nil
	}
	return &e
}

func (c *client) do(method, path string, body any, hdr ...string) resp {
	c.t.Helper()
	r, err := rawDo(c, method, path, body, hdr...)
	if err != nil {
		c.t.Fatalf("%s %s: %v", method, path, err)
	}
	return r
}

// rawDo is do without failing the test: for goroutines and for requests
// that are expected to meet a dead server.
func rawDo(c *client, method, path string, body any, hdr ...string) (resp, error) {
	var rd io.Reader
	length := int64(-1)
	switch b := body.(type) {
	case nil:
	case []byte:
		rd = bytes.NewReader(b)
	case interface {
		io.Reader
		Size() int64
	}:
		rd, length = b, b.Size()
	case io.Reader:
		rd = b
	default:
		j, _ := json.Marshal(b)
		rd = bytes.NewReader(j)
	}
	req, err := http.NewRequest(method, c.base+path, rd)
	if err != nil {
		return resp{}, err
	}
	if length >= 0 {
		req.ContentLength = length
	}
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	res, err := c.hc.Do(req)
	if err != nil {
		return resp{}, err
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		return resp{}, err
	}
	return resp{res.StatusCode, res.Header, b}, nil
}

var jsonUnmarshal = json.Unmarshal

type serviceConfig = service.Config

// ok requires a 2xx and decodes the body into out.
func (c *client) ok(r resp, out any) {
	c.t.Helper()
	if r.status/100 != 2 {
		c.t.Fatalf("status %d: %s", r.status, r.body)
	}
	if out != nil {
		if err := json.Unmarshal(r.body, out); err != nil {
			c.t.Fatalf("decode %s: %v", r.body, err)
		}
	}
}

// wantErr requires an error with status and code.
func (c *client) wantErr(r resp, status int, code api.Code) *api.Error {
	c.t.Helper()
	e := r.err()
	if r.status != status || e == nil || e.Code != code {
		c.t.Fatalf("want %d %s, got %d: %s", status, code, r.status, r.body)
	}
	if e.MessageZH == "" || e.MessageEN == "" {
		c.t.Fatalf("error without both messages: %s", r.body)
	}
	return e
}

var userSeq struct {
	sync.Mutex
	n int
}

// applicant registers and logs in a new applicant.
func applicant(t testing.TB, s *Server) *client {
	userSeq.Lock()
	userSeq.n++
	mobile := fmt.Sprintf("1380000%04d", userSeq.n)
	userSeq.Unlock()
	c := newClient(t, s)
	c.ok(c.do("POST", api.PathRegister, api.RegisterRequest{Mobile: mobile, Password: "Zh3ngShu!2026"}), nil)
	var sess api.Session
	c.ok(c.do("POST", api.PathLogin, api.LoginRequest{Login: mobile, Password: "Zh3ngShu!2026"}), &sess)
	c.token, c.login, c.password = sess.Token, mobile, "Zh3ngShu!2026"
	return c
}

// staff creates a staff account through the service (as the
// certdesk-server user command does) and logs it in over HTTP.
func staff(t testing.TB, s *Server) *client {
	userSeq.Lock()
	userSeq.n++
	email := fmt.Sprintf("staff%d@ca.example.cn", userSeq.n)
	userSeq.Unlock()
	_, url, err := s.Service.CreateStaff(context.Background(), api.RegisterRequest{Email: email, Password: "Sh3nHe!2026"}, api.StaffRoles)
	if err != nil {
		t.Fatal(err)
	}
	c := newClient(t, s)
	c.totp = totpSecret(t, url)
	c.login, c.password = email, "Sh3nHe!2026"
	return relogin(t, s, c)
}

func agreement(c *client) api.AgreementAcceptance {
	var a api.Agreement
	c.ok(c.do("GET", api.PathAgreement, nil), &a)
	return api.AgreementAcceptance{Version: a.Version, AcceptedAt: time.Now()}
}

func orgForm(username string) apply.Values {
	return apply.Values{
		apply.FUsername: username, apply.FOrgName: "福州示例软件有限公司", apply.FOrgCode: "91350100M000100Y43",
		apply.FOrgAddress: "福建省福州市鼓楼区五四路 100 号", apply.FHandlerName: "王堃", apply.FHandlerIDType: "resident",
		apply.FHandlerID: "11010519491231002X", apply.FHandlerMobile: "13800138000", apply.FHandlerEmail: "wang@example.com",
		apply.FSecurityQuestion: "您的出生地是?", apply.FSecurityAnswer: "福州", apply.FServiceSeal: "true", apply.FDelivery: "pickup",
	}
}

// submitted creates and submits an organisation application.
func submitted(c *client, username string) api.Application {
	var a api.Application
	c.ok(c.do("POST", api.PathApplications, api.CreateApplicationRequest{Kind: apply.KindOrg, Agreement: agreement(c)}), &a)
	c.ok(c.do("PATCH", "/applications/"+a.ID, api.UpdateFormRequest{Form: orgForm(username), Submit: true}), &a)
	return a
}

var (
	docOnce sync.Once
	docJPEG []byte
	sealJPG []byte
)

// scans returns a real 100 DPI A4 document and a 300 DPI imprint sheet.
func scans() (doc, seal []byte) {
	docOnce.Do(func() {
		docJPEG = testimg.JPEG(testimg.Scan(827, 1169, 1), 85, 100)
		sealJPG = testimg.JPEG(testimg.Scan(2480, 3508, 2), 50, 300)
	})
	return docJPEG, sealJPG
}

func sha(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// upload sends a material in one PATCH and returns the final response.
func (c *client) upload(appID string, t apply.MaterialType, data []byte) resp {
	c.t.Helper()
	var u api.Upload
	r := c.do("POST", "/applications/"+appID+"/uploads", api.CreateUploadRequest{Type: t, FileName: string(t) + ".jpg", Bytes: int64(len(data)), SHA256: sha(data)})
	if r.status != 201 {
		return r
	}
	c.ok(r, &u)
	return c.do("PATCH", "/uploads/"+u.ID, data, api.HeaderUploadOff, "0", "Content-Type", "application/offset+octet-stream")
}

func (c *client) mustUpload(appID string, t apply.MaterialType, data []byte) api.MaterialInfo {
	c.t.Helper()
	var u api.Upload
	c.ok(c.upload(appID, t, data), &u)
	if u.Material == nil {
		c.t.Fatalf("upload of %s finished without a material: %+v", t, u)
	}
	return *u.Material
}

func (c *client) app(id string) api.Application {
	c.t.Helper()
	var a api.Application
	c.ok(c.do("GET", "/applications/"+id, nil), &a)
	return a
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }
