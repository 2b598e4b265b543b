// Package service is the enrollment server's business logic: accounts and
// sessions, applications and their state machine, materials and resumable
// uploads, staff review and the notifications each step sends. It speaks
// app/api types and returns *api.Error for everything a user can cause;
// the HTTP layer and the staff command line are thin shells around it.
package service

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"certdesk/app/api"
	"certdesk/app/apply"
	"certdesk/app/server/auth"
	"certdesk/app/server/blob"
	"certdesk/app/server/ca"
	"certdesk/app/server/store"
)

// Config tunes the service.
type Config struct {
	Now        func() time.Time
	Fees       apply.Schedule
	Agreement  api.Agreement
	SessionTTL time.Duration
	UploadTTL  time.Duration
	Log        *slog.Logger
	Params     auth.Params // password hashing cost
	// Secret keys the MACs of download codes (32 random bytes kept in the
	// data directory).
	Secret []byte
	// CA issues the certificates; nil disables issuance.
	CA *ca.CA
	// PublicURL is how clients and providers reach the server.
	PublicURL string
	// Pay is the online payment provider (Alipay); WeChat is WeChat Pay.
	// Neither: bank transfer only.
	Pay    PayProvider
	WeChat PayProvider
	// Bank is the CA's account for transfers.
	Bank api.BankAccount
	// UnlockApproval makes every UKEY PIN unlock wait for a staff
	// approval after the SMS code (the CA's policy).
	UnlockApproval bool
	// Invoice is the seller's side of the e-invoice PDF.
	Invoice InvoiceConfig
}

// Service is the enrollment logic over a store and a blob store.
type Service struct {
	st    *store.Store
	blobs blob.Blobs
	cfg   Config

	loginThrottle    *auth.Throttle // per login name (and per renewal's security answer)
	addrThrottle     *auth.Throttle // failed logins per client address
	registerConflict *auth.Throttle // registrations of a taken login, per address
	registerAll      *auth.Throttle // every registration, per address (each costs a hash)
	nonceThrottle    *auth.Throttle // UKEY login challenges, per address
	unlockStarts     *auth.Throttle // PIN unlocks started (each sends an SMS code), per account

	bufs sync.Pool // *bytes.Buffer for uploads received whole

	crl   atomic.Pointer[cachedCRL]
	codes codeGate // download-code guesses in flight

	passwordChecks atomic.Int64
	codeChecks     atomic.Int64
}

// Stats counts the guesses the service has evaluated, for tests and
// monitoring: a throttle that holds keeps them at its allowance.
type Stats struct {
	PasswordChecks int64 // argon2id verifications at login
	CodeChecks     int64 // download codes compared
}

// Stats returns the counters so far.
func (s *Service) Stats() Stats {
	return Stats{PasswordChecks: s.passwordChecks.Load(), CodeChecks: s.codeChecks.Load()}
}

// New builds a service; zero Config fields get defaults.
func New(st *store.Store, blobs blob.Blobs, cfg Config) *Service {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Fees.Kinds == nil {
		cfg.Fees = apply.DefaultSchedule()
	}
	if cfg.SessionTTL == 0 {
		cfg.SessionTTL = 12 * time.Hour
	}
	if cfg.UploadTTL == 0 {
		cfg.UploadTTL = 7 * 24 * time.Hour
	}
	if cfg.Log == nil {
		cfg.Log = slog.Default()
	}
	if cfg.Params.MemoryKiB == 0 {
		cfg.Params = auth.DefaultParams
	}
	if cfg.Agreement.Version == "" {
		cfg.Agreement = DefaultAgreement
	}
	return &Service{
		st: st, blobs: blobs, cfg: cfg, codes: codeGate{shared: st.Engine() == store.Postgres},
		loginThrottle: auth.NewThrottle(5, 15*time.Minute, 30*time.Second, 15*time.Minute),
		addrThrottle:  auth.NewThrottle(30, 15*time.Minute, 60*time.Second, 30*time.Minute),
		// A service point (受理点) registers applicants from one address, so
		// the totals are generous; a taken login answers 409, which tells
		// that the mobile is registered, so those are few.
		registerConflict: auth.NewThrottle(10, 15*time.Minute, 60*time.Second, 30*time.Minute),
		registerAll:      auth.NewThrottle(60, time.Hour, 10*time.Minute, time.Hour),
		nonceThrottle:    auth.NewThrottle(30, time.Minute, 30*time.Second, 10*time.Minute),
		// Five unlocks an hour: five SMS codes of five tries each.
		unlockStarts: auth.NewThrottle(5, time.Hour, 10*time.Minute, time.Hour),
	}
}

// DefaultAgreement is the agreement shown until the CA configures its own.
var DefaultAgreement = api.Agreement{
	Version: "2026-11",
	Title:   "电子认证服务协议",
	Text:    "本协议由数字证书申请人(以下简称“订户”)与电子认证服务机构(以下简称“CA”)订立。订户应提供真实、完整、准确的申请信息和材料,妥善保管 UKEY 及其 PIN 码;CA 按其电子认证业务规则审核并签发数字证书。证书信息变更、UKEY 丢失或私钥泄露时,订户应及时申请更新或吊销。",
}

// Principal is the authenticated caller.
type Principal struct {
	AccountID string
	Role      api.Role
	// CertSerial is set when the session was opened by UKEY login.
	CertSerial string
	// Roles are a staff member's duties (comma-separated api.StaffRole).
	Roles string
}

// Staff reports whether the caller is CA staff.
func (p Principal) Staff() bool { return p.Role == api.RoleStaff }

// Can says whether p is staff with duty r.
func (p Principal) Can(r api.StaffRole) bool {
	if !p.Staff() {
		return false
	}
	for _, x := range strings.Split(p.Roles, ",") {
		if api.StaffRole(x) == r {
			return true
		}
	}
	return false
}

// Operator is the CA's operator on the server's own machine (the staff
// command line, scripted development runs): every duty.
func Operator(id string) Principal {
	return Principal{AccountID: id, Role: api.RoleStaff, Roles: joinRoles(api.StaffRoles)}
}

func joinRoles(rs []api.StaffRole) string {
	out := make([]string, len(rs))
	for i, r := range rs {
		out[i] = string(r)
	}
	return strings.Join(out, ",")
}

// ParseStaffRoles reads a comma-separated list of duties.
func ParseStaffRoles(list string) ([]api.StaffRole, error) {
	var out []api.StaffRole
	for _, x := range strings.Split(list, ",") {
		x = strings.TrimSpace(x)
		ok := false
		for _, r := range api.StaffRoles {
			ok = ok || api.StaffRole(x) == r
		}
		if !ok {
			return nil, fmt.Errorf("unknown staff role %q (reviewer, finance, admin)", x)
		}
		out = append(out, api.StaffRole(x))
	}
	return out, nil
}

var roleNames = map[api.StaffRole]apply.Text{
	api.StaffReviewer: {ZH: "审核", EN: "reviewer"},
	api.StaffFinance:  {ZH: "财务", EN: "finance"},
	api.StaffAdmin:    {ZH: "管理员", EN: "administrator"},
}

// needRole refuses p unless it is staff with duty r.
func needRole(p Principal, r api.StaffRole) error {
	if p.Can(r) {
		return nil
	}
	n := roleNames[r]
	return api.NewError(api.CodeForbidden).WithMessage(apply.Text{
		ZH: "这一步需要" + n.ZH + "权限:请由有该权限的工作人员办理", EN: "This step needs the " + n.EN + " role: ask a staff member who has it"})
}

func (s *Service) now() time.Time { return s.cfg.Now().UTC() }

// Now is the service's time (tests with a clock of their own).
func (s *Service) Now() time.Time { return s.now() }

// internal logs an unexpected error with its context and returns the
// generic error the caller sees (details never leave the server).
func (s *Service) internal(ctx context.Context, op string, err error) error {
	if ae := (*api.Error)(nil); errors.As(err, &ae) {
		return ae
	}
	s.cfg.Log.ErrorContext(ctx, op, "err", err)
	return api.NewError(api.CodeInternal)
}

// CA is the certification authority in use (nil when issuance is off).
func (s *Service) CA() *ca.CA { return s.cfg.CA }

// Agreement returns the current service agreement.
func (s *Service) Agreement() api.Agreement { return s.cfg.Agreement }

// Fees returns the fee schedule.
func (s *Service) Fees() apply.Schedule { return s.cfg.Fees }

// Ready checks the database, for /readyz.
func (s *Service) Ready(ctx context.Context) error { return s.st.Ping(ctx) }

func toAPIAccount(a *store.Account) api.Account {
	return api.Account{ID: a.ID, Mobile: a.Mobile, Email: a.Email, Role: api.Role(a.Role), CreatedAt: a.CreatedAt}
}

// Register creates an applicant account (seed 1.1: mobile and/or email,
// either one is a login name); for the operator's command line, unthrottled.
func (s *Service) Register(ctx context.Context, req api.RegisterRequest) (*api.Account, error) {
	return s.createAccount(ctx, req, api.RoleApplicant)
}

// RegisterFrom is Register for a request from addr (the HTTP API): every
// registration counts towards the address's hourly allowance before the
// password is hashed, and a login that is taken counts towards a small
// one, since the 409 it gets says that the mobile or email is registered.
func (s *Service) RegisterFrom(ctx context.Context, req api.RegisterRequest, addr string) (*api.Account, error) {
	now := s.now()
	if w := max(s.sharedWait(ctx, "register:"+addr, now), s.sharedWait(ctx, "regconflict:"+addr, now)); w > 0 {
		return nil, rateLimited(w)
	}
	all, wait := s.registerAll.Begin(addr, now)
	if all == nil {
		return nil, rateLimited(wait)
	}
	defer func() { // counted whatever the outcome
		all.Fail(now)
		s.sharedFail(ctx, s.registerAll, "register:"+addr, now)
	}()
	conflict, wait := s.registerConflict.Begin(addr, now)
	if conflict == nil {
		return nil, rateLimited(wait)
	}
	acc, err := s.createAccount(ctx, req, api.RoleApplicant)
	if ae := (*api.Error)(nil); errors.As(err, &ae) && ae.Code == api.CodeConflict {
		if lock := max(conflict.Fail(now), s.sharedFail(ctx, s.registerConflict, "regconflict:"+addr, now)); lock > 0 {
			return nil, rateLimited(lock)
		}
		return nil, err
	}
	conflict.Succeed(false)
	return acc, err
}

// CreateStaff creates a CA staff account (certdesk-server user add).
// It also enrols the account's TOTP: the otpauth:// URL returned is shown
// once, to be added to an authenticator app.
func (s *Service) CreateStaff(ctx context.Context, req api.RegisterRequest, roles []api.StaffRole) (*api.Account, string, error) {
	if len(roles) == 0 {
		return nil, "", errors.New("a staff account needs at least one role (reviewer, finance, admin)")
	}
	a, err := s.createAccount(ctx, req, api.RoleStaff)
	if err != nil {
		return nil, "", err
	}
	if err := s.st.SetStaffRoles(ctx, a.ID, joinRoles(roles)); err != nil {
		return nil, "", err
	}
	url, err := s.EnrolTOTP(ctx, a.ID)
	if err != nil {
		return nil, "", fmt.Errorf("staff account %s made, its authenticator not (run user totp): %w", a.ID, err)
	}
	return a, url, nil
}

func (s *Service) createAccount(ctx context.Context, req api.RegisterRequest, role api.Role) (*api.Account, error) {
	var fes apply.FieldErrors
	mobile, email := "", ""
	if strings.TrimSpace(req.Mobile) != "" {
		var code apply.Code
		if mobile, code = apply.CheckMobile(req.Mobile); code != "" {
			fes = append(fes, apply.FieldError{Field: "mobile", Code: code, Message: apply.Text{ZH: "请填写 11 位中国大陆手机号码,例如 13800138000", EN: "Enter an 11-digit mainland China mobile number, e.g. 13800138000"}})
		}
	}
	if strings.TrimSpace(req.Email) != "" {
		var code apply.Code
		email, code = apply.CheckEmail(req.Email)
		email = strings.ToLower(email)
		if code != "" {
			fes = append(fes, apply.FieldError{Field: "email", Code: code, Message: apply.Text{ZH: "电子邮箱格式不正确,例如 name@example.com", EN: "The email address is not valid, e.g. name@example.com"}})
		}
	}
	if mobile == "" && email == "" {
		fes = append(fes, apply.FieldError{Field: "mobile", Code: apply.CodeRequired, Message: apply.Text{ZH: "请填写手机号或电子邮箱(可作为登录名)", EN: "Enter a mobile number or an email address (either is your login name)"}})
	}
	if fe := auth.CheckPassword(req.Password, mobile, email); fe != nil {
		fes = append(fes, *fe)
	}
	if len(fes) > 0 {
		return nil, api.ValidationError(fes)
	}
	hash, err := auth.Hash(req.Password, s.cfg.Params)
	if err != nil {
		return nil, s.internal(ctx, "hash password", err)
	}
	a := &store.Account{ID: store.NewID(), Mobile: mobile, Email: email, PasswordHash: hash, Role: string(role), CreatedAt: s.now()}
	err = s.st.InTx(ctx, func(tx *store.Tx) error { return tx.CreateAccount(ctx, a) })
	var ce *store.ConflictError
	if errors.As(err, &ce) {
		// The login name exists. Saying so is unavoidable at registration
		// (the user must pick another), so it is throttled like a login.
		return nil, api.NewError(api.CodeConflict).WithMessage(apply.Text{
			ZH: "该手机号或邮箱已注册,请直接登录;忘记密码请联系客服",
			EN: "This mobile or email is already registered: log in, or contact support if you forgot the password"})
	}
	if err != nil {
		return nil, s.internal(ctx, "register", err)
	}
	acc := toAPIAccount(a)
	return &acc, nil
}

// Login checks a password and opens a session. Unknown login names and
// wrong passwords get the same answer in the same time; repeated failures
// lock the login name and the address for a while, and the answer says for
// how long.
func (s *Service) Login(ctx context.Context, req api.LoginRequest, addr string) (*api.Session, error) {
	now := s.now()
	login := strings.TrimSpace(req.Login)
	if strings.Contains(login, "@") {
		login = strings.ToLower(login)
	} else {
		login = apply.NormalizeMobile(login)
	}
	if w := max(s.sharedWait(ctx, "login:"+login, now), s.sharedWait(ctx, "addr:"+addr, now)); w > 0 {
		return nil, rateLimited(w) // locked by failures on other instances too
	}
	// Both attempts are counted before argon2 runs: concurrent guesses
	// cannot all be evaluated.
	byLogin, w := s.loginThrottle.Begin(login, now)
	if byLogin == nil {
		return nil, rateLimited(w)
	}
	byAddr, w := s.addrThrottle.Begin(addr, now)
	if byAddr == nil {
		byLogin.Succeed(false)
		return nil, rateLimited(w)
	}
	a, err := s.st.AccountByLogin(ctx, login)
	if errors.Is(err, store.ErrNotFound) {
		auth.VerifyDummy(req.Password)
	} else if err != nil {
		byLogin.Succeed(false)
		byAddr.Succeed(false)
		return nil, s.internal(ctx, "login", err)
	}
	s.passwordChecks.Add(1)
	if a == nil || a.Disabled || auth.Verify(req.Password, a.PasswordHash) != nil {
		now := s.now()
		if lock := max(byLogin.Fail(now), byAddr.Fail(now), s.sharedFail(ctx, s.loginThrottle, "login:"+login, now), s.sharedFail(ctx, s.addrThrottle, "addr:"+addr, now)); lock > 0 {
			return nil, rateLimited(lock)
		}
		return nil, api.NewError(api.CodeBadCredentials)
	}
	if api.Role(a.Role) == api.RoleStaff {
		// Staff: the password is not enough. A wrong code counts as a
		// failed login (the password may be known to someone else).
		ok, err := s.checkTOTP(ctx, a, req.TOTP)
		if err != nil {
			byLogin.Succeed(false)
			byAddr.Succeed(false)
			return nil, s.internal(ctx, "totp", err)
		}
		if !ok {
			now := s.now()
			if lock := max(byLogin.Fail(now), byAddr.Fail(now), s.sharedFail(ctx, s.loginThrottle, "login:"+login, now), s.sharedFail(ctx, s.addrThrottle, "addr:"+addr, now)); lock > 0 {
				return nil, rateLimited(lock)
			}
			if len(a.TOTPSecret) == 0 {
				s.cfg.Log.WarnContext(ctx, "staff login refused: no authenticator enrolled (certdesk-server user totp LOGIN)", "account", a.ID)
			}
			// The same answer as a wrong password: which of the two was
			// wrong is not said, or the code would tell a guessed password.
			return nil, api.NewError(api.CodeBadCredentials)
		}
	}
	s.sharedForgive(ctx, "login:"+login) // an address is not forgiven: one good login among many bad ones
	byLogin.Succeed(true)
	byAddr.Succeed(false)
	return s.openSession(ctx, a, "")
}

// Login locks (per name and per client address), and the registration,
// UKEY-challenge and unlock-start allowances, are shared through the
// database when it is PostgreSQL: that is how several instances run, and
// five wrong passwords spread over them must lock the name on all. On SQLite (one instance) the in-memory
// throttle alone decides, with no write on every failure. A database
// error here leaves the in-memory throttle in charge.
func (s *Service) sharedLogins() bool { return s.st.Engine() == store.Postgres }

func (s *Service) sharedWait(ctx context.Context, key string, now time.Time) time.Duration {
	if !s.sharedLogins() {
		return 0
	}
	w, err := s.st.ThrottleWait(ctx, key, now)
	if err != nil {
		s.cfg.Log.WarnContext(ctx, "shared login lock", "err", err)
	}
	return w
}

func (s *Service) sharedFail(ctx context.Context, t *auth.Throttle, key string, now time.Time) time.Duration {
	if !s.sharedLogins() {
		return 0
	}
	d, err := s.st.ThrottleFail(ctx, key, now, t.Free, t.Window, t.Base, t.Max)
	if err != nil {
		s.cfg.Log.WarnContext(ctx, "shared login failure", "err", err)
	}
	return d
}

func (s *Service) sharedForgive(ctx context.Context, key string) {
	if !s.sharedLogins() {
		return
	}
	if err := s.st.ThrottleForgive(ctx, key); err != nil {
		s.cfg.Log.WarnContext(ctx, "shared login forgive", "err", err)
	}
}

func (s *Service) openSession(ctx context.Context, a *store.Account, certSerial string) (*api.Session, error) {
	tok, hash, err := auth.NewToken()
	if err != nil {
		return nil, s.internal(ctx, "token", err)
	}
	now := s.now()
	exp := now.Add(s.cfg.SessionTTL)
	if err := s.st.InTx(ctx, func(tx *store.Tx) error { return tx.CreateSession(ctx, hash, a.ID, now, exp, certSerial) }); err != nil {
		return nil, s.internal(ctx, "session", err)
	}
	return &api.Session{Token: tok, ExpiresAt: exp, Account: toAPIAccount(a)}, nil
}

func rateLimited(d time.Duration) *api.Error {
	secs := int((d + time.Second - 1) / time.Second)
	e := api.NewError(api.CodeRateLimited).WithMessage(apply.Text{
		ZH: fmt.Sprintf("尝试次数过多,请 %d 秒后再试", secs),
		EN: fmt.Sprintf("Too many attempts; try again in %d s", secs)})
	e.RetryAfter = secs
	return e
}

// Logout ends the session of token.
func (s *Service) Logout(ctx context.Context, token string) error {
	if err := s.st.DeleteSession(ctx, auth.TokenHash(token)); err != nil {
		return s.internal(ctx, "logout", err)
	}
	return nil
}

// Authenticate resolves a session token.
func (s *Service) Authenticate(ctx context.Context, token string) (Principal, *api.Account, error) {
	if token == "" {
		return Principal{}, nil, api.NewError(api.CodeUnauthenticated)
	}
	a, serial, err := s.st.SessionAccount(ctx, auth.TokenHash(token), s.now())
	if errors.Is(err, store.ErrNotFound) {
		return Principal{}, nil, api.NewError(api.CodeUnauthenticated)
	}
	if err != nil {
		return Principal{}, nil, s.internal(ctx, "authenticate", err)
	}
	acc := toAPIAccount(a)
	return Principal{AccountID: a.ID, Role: api.Role(a.Role), CertSerial: serial, Roles: a.StaffRoles}, &acc, nil
}

// idempotent runs create inside a transaction keyed by (caller, key): a
// retry of the same request replays the stored response instead of
// creating a second record; the same key with another body is refused.
func idempotent[T any](ctx context.Context, s *Service, p Principal, key string, req any, create func(tx *store.Tx) (*T, error)) (*T, error) {
	if key == "" {
		var out *T
		err := s.st.InTx(ctx, func(tx *store.Tx) error {
			var err error
			out, err = create(tx)
			return err
		})
		return out, err
	}
	reqJSON, _ := json.Marshal(req)
	reqHash := auth.TokenHash(string(reqJSON))
	var out *T
	err := s.st.InTx(ctx, func(tx *store.Tx) error {
		prev, err := tx.IdempotentResponse(ctx, p.AccountID, key)
		if err == nil {
			if prev.RequestHash != reqHash {
				return api.NewError(api.CodeIdempotency)
			}
			out = new(T)
			return json.Unmarshal([]byte(prev.Body), out)
		}
		if !errors.Is(err, store.ErrNotFound) {
			return err
		}
		out, err = create(tx)
		if err != nil {
			return err
		}
		body, err := json.Marshal(out)
		if err != nil {
			return err
		}
		return tx.SaveIdempotent(ctx, p.AccountID, key, &store.Idempotent{RequestHash: reqHash, Status: 201, Body: string(body)}, s.now())
	})
	return out, err
}

// SetPassword replaces an account's password (certdesk-server user passwd)
// after the policy check, and ends its sessions.
func (s *Service) SetPassword(ctx context.Context, accountID, password string) error {
	a, err := s.st.AccountByID(ctx, accountID)
	if err != nil {
		return err
	}
	if fe := auth.CheckPassword(password, a.Mobile, a.Email); fe != nil {
		return api.ValidationError(apply.FieldErrors{*fe})
	}
	hash, err := auth.Hash(password, s.cfg.Params)
	if err != nil {
		return err
	}
	return s.st.InTx(ctx, func(tx *store.Tx) error { return tx.SetPassword(ctx, accountID, hash) })
}
