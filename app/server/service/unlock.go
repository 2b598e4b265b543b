package service

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"math/big"
	"time"

	"certdesk/app/api"
	"certdesk/app/apply"
	"certdesk/app/server/auth"
	"certdesk/app/server/store"
)

// Unlocking a locked UKEY PIN (BJCA's and 国资CA's way): the holder proves
// who they are (password or security answer, then an SMS code to the
// handler's mobile), staff approve when the CA's policy says so, and the
// server releases, once, the UKEY's SO PIN with a new one to rotate to.
// The client logs in as SO, sets a new user PIN (C_InitPIN) and the new SO
// PIN, then says so. The SO PIN is never in a log, an audit line or any
// response but the grant.

const (
	UnlockCodeTTL  = 10 * time.Minute
	UnlockGrantTTL = 10 * time.Minute
	UnlockTries    = 5
)

// soContext binds a sealed SO PIN to its UKEY.
func soContext(serial string) string { return "ukey-so-pin:" + serial }

// RecordUKEY records a UKEY the CA initialised, its SO PIN sealed under
// the CA's key-encryption key; soPIN is cleared.
func (s *Service) RecordUKEY(ctx context.Context, serial, label, by string, soPIN []byte) error {
	defer clear(soPIN)
	if s.cfg.CA == nil {
		return errors.New("record UKEY: no CA")
	}
	sealed, err := s.cfg.CA.Seal(soContext(serial), soPIN)
	if err != nil {
		return fmt.Errorf("record UKEY: %w", err)
	}
	err = s.st.AddUKEY(ctx, &store.UKEY{Serial: serial, Label: label, SOPIN: sealed, CreatedAt: s.now(), CreatedBy: by})
	if errors.Is(err, store.ErrConflict) {
		return fmt.Errorf("UKEY %s is recorded already", serial)
	}
	if err != nil {
		return err
	}
	return s.LogStaff(ctx, Principal{AccountID: by}, "ukey.init", serial, "label "+label)
}

// UKEYs lists the recorded UKEYs (no PIN).
func (s *Service) UKEYs(ctx context.Context) ([]*store.UKEY, error) { return s.st.UKEYs(ctx) }

// SOPINForTest opens a UKEY's current and pending SO PINs, for tests
// that check the token against them; no route or command reaches it.
func (s *Service) SOPINForTest(ctx context.Context, serial string) (current, next []byte, err error) {
	var u *store.UKEY
	if err := s.st.InTx(ctx, func(tx *store.Tx) error { u, err = tx.UKEY(ctx, serial); return err }); err != nil {
		return nil, nil, err
	}
	if current, err = s.cfg.CA.Unseal(soContext(serial), u.SOPIN); err != nil {
		return nil, nil, err
	}
	if len(u.NextSOPIN) > 0 {
		next, err = s.cfg.CA.Unseal(soContext(serial), u.NextSOPIN)
	}
	return current, next, err
}

// bindToken records which UKEY a certificate went onto, and claims a UKEY
// the CA initialised for the account: one account per UKEY.
func bindToken(ctx context.Context, tx *store.Tx, serial, accountID string) error {
	if serial == "" {
		return nil
	}
	u, err := tx.UKEY(ctx, serial)
	if errors.Is(err, store.ErrNotFound) {
		return nil // not one of the CA's: nothing to unlock it with
	}
	if err != nil {
		return err
	}
	switch u.OwnerID {
	case accountID:
		return nil
	case "":
		u.OwnerID = accountID
		return tx.SaveUKEY(ctx, u)
	}
	return certError("这把 UKEY 已登记在另一个账户名下,请换一把 UKEY 或联系 CA 客服", "This UKEY is registered to another account; use another UKEY or contact the CA")
}

func (s *Service) unlockMAC(id, code string) string {
	m := hmac.New(sha256.New, s.cfg.Secret)
	m.Write([]byte("unlock:" + id + ":" + code))
	return hex.EncodeToString(m.Sum(nil))
}

func maskMobile(m string) string {
	if len(m) < 7 {
		return "****"
	}
	return m[:3] + "****" + m[len(m)-4:]
}

func (s *Service) unlockView(u *store.Unlock) *api.Unlock {
	return &api.Unlock{ID: u.ID, Serial: u.Serial, State: u.State, Mobile: maskMobile(u.Mobile), ExpiresAt: u.ExpiresAt, TriesLeft: max(0, UnlockTries-u.Attempts)}
}

func (s *Service) audit(ctx context.Context, tx *store.Tx, accountID, actor, event, detail string) error {
	return tx.Audit(ctx, &store.AuditEntry{AccountID: accountID, At: s.now(), Actor: actor, Event: event, Detail: detail})
}

var errNotYourUKEY = api.NewError(api.CodeNotFound).WithMessage(apply.Text{
	ZH: "找不到这把 UKEY 的登记:它不是 CA 发放的,或证书不在您的账户下。请用申请证书的账户登录,或联系 CA 客服",
	EN: "This UKEY is not on record for you: it was not issued by the CA, or its certificate is not in your account. Log in with the account that applied, or contact the CA"})

// StartUnlock begins unlocking the PIN of the UKEY serial, which must
// carry one of the account's certificates (req.Certificate, read from the
// UKEY without a PIN) and be one the CA initialised and bound to this
// account. The password or the security answer is checked (throttled like
// a login), then an SMS code goes to the handler's mobile.
func (s *Service) StartUnlock(ctx context.Context, p Principal, serial string, req api.StartUnlockRequest) (*api.Unlock, error) {
	if p.Staff() {
		return nil, api.NewError(api.CodeForbidden)
	}
	cert, err := x509.ParseCertificate(req.Certificate)
	if err != nil {
		return nil, errNotYourUKEY
	}
	rec, err := s.st.CertificateBySerial(ctx, cert.SerialNumber.Text(16))
	if errors.Is(err, store.ErrNotFound) {
		return nil, errNotYourUKEY
	} else if err != nil {
		return nil, s.internal(ctx, "unlock", err)
	}
	a, err := s.st.Application(ctx, rec.ApplicationID)
	if err != nil {
		return nil, s.internal(ctx, "unlock", err)
	}
	if a.OwnerID != p.AccountID || rec.TokenSerial != serial || string(rec.DER) != string(req.Certificate) {
		return nil, errNotYourUKEY
	}
	if err := s.proveHolder(ctx, p, a, req.Password, req.SecurityAnswer); err != nil {
		return nil, err
	}
	// Every start counts (each sends a code to guess), not only failures.
	if w := s.sharedWait(ctx, "unlock:"+p.AccountID, s.now()); w > 0 {
		return nil, rateLimited(w)
	}
	start, w := s.unlockStarts.Begin(p.AccountID, s.now())
	if start == nil {
		return nil, rateLimited(w)
	}
	// A lock it causes is for the next start: this one goes ahead.
	start.Fail(s.now())
	s.sharedFail(ctx, s.unlockStarts, "unlock:"+p.AccountID, s.now())
	n, err := rand.Int(rand.Reader, big.NewInt(1_000_000))
	if err != nil {
		return nil, s.internal(ctx, "unlock code", err)
	}
	code := fmt.Sprintf("%06d", n.Int64())
	now := s.now()
	u := &store.Unlock{ID: store.NewID(), Serial: serial, AccountID: p.AccountID, ApplicationID: a.ID, State: api.UnlockCodeSent,
		Mobile: contactMobile(a), CreatedAt: now, ExpiresAt: now.Add(UnlockCodeTTL), UpdatedAt: now}
	u.CodeMAC = s.unlockMAC(u.ID, code)
	err = s.st.InTx(ctx, func(tx *store.Tx) error {
		k, err := tx.UKEY(ctx, serial)
		if errors.Is(err, store.ErrNotFound) || (err == nil && k.OwnerID != p.AccountID) {
			return errNotYourUKEY
		} else if err != nil {
			return err
		}
		if err := tx.AddUnlock(ctx, u); err != nil {
			return err
		}
		if err := s.audit(ctx, tx, p.AccountID, "applicant", "unlock_started", "UKEY "+serial+", code sent to "+maskMobile(u.Mobile)); err != nil {
			return err
		}
		return tx.Enqueue(ctx, &store.Message{ID: store.NewID(), ApplicationID: a.ID, Channel: "sms", Recipient: u.Mobile, Subject: "unlock_code", CreatedAt: now,
			Params: map[string]string{"serial": tail(serial, 4), "code": code, "minutes": fmt.Sprint(int(UnlockCodeTTL.Minutes()))},
			Body:   fmt.Sprintf("【证书助手】您正在解锁 UKEY(序列号尾号 %s)的 PIN,验证码:%s,%d 分钟内有效。如非本人操作,请立即联系 CA 客服。", tail(serial, 4), code, int(UnlockCodeTTL.Minutes()))})
	})
	if err != nil {
		return nil, s.internal(ctx, "unlock", err)
	}
	return s.unlockView(u), nil
}

func tail(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[len(s)-n:]
}

// proveHolder checks the password or the security answer, counted before
// the hash runs (per account, shared with renewal's answer).
func (s *Service) proveHolder(ctx context.Context, p Principal, a *store.Application, password, answer string) error {
	if password == "" && answer == "" {
		e := api.NewError(api.CodeValidation).WithMessage(apply.Text{ZH: "请输入登录密码或验证答案", EN: "Enter the login password or the security answer"})
		e.Fields = []api.FieldError{{Field: "password", Code: "required", MessageZH: "请输入登录密码或验证答案", MessageEN: "Enter the login password or the security answer"}}
		return e
	}
	try, w := s.loginThrottle.Begin("holder:"+p.AccountID, s.now())
	if try == nil {
		return rateLimited(w)
	}
	ok := false
	if password != "" {
		acc, err := s.st.AccountByID(ctx, p.AccountID)
		if err != nil {
			try.Succeed(false)
			return s.internal(ctx, "account", err)
		}
		s.passwordChecks.Add(1)
		ok = auth.Verify(password, acc.PasswordHash) == nil
	} else {
		ok = a.AnswerHash != "" && auth.Verify(apply.NormalizeAnswer(answer), a.AnswerHash) == nil
	}
	if ok {
		try.Succeed(true)
		return nil
	}
	if lock := try.Fail(s.now()); lock > 0 {
		return rateLimited(lock)
	}
	field, zh, en := "password", "登录密码不正确", "The login password is wrong"
	if password == "" {
		field, zh, en = apply.FSecurityAnswer, "验证答案不正确,请回忆申请时填写的答案(不区分大小写和全半角)", "The security answer is wrong; it is the one given in the application (case and width do not matter)"
	}
	e := api.NewError(api.CodeBadCredentials).WithMessage(apply.Text{ZH: zh, EN: en})
	e.Fields = []api.FieldError{{Field: field, Code: field + ".wrong", MessageZH: zh, MessageEN: en}}
	return e
}

// unlockTx runs fn on the account's unlock id inside a transaction,
// expiring it first when its time is up. fn's *api.Error is returned
// after the transaction commits (a wrong code must be counted).
func (s *Service) unlockTx(ctx context.Context, p Principal, id string, fn func(*store.Tx, *store.Unlock) (*api.Error, error)) (*api.Unlock, error) {
	var out *store.Unlock
	var refusal *api.Error
	err := s.st.InTx(ctx, func(tx *store.Tx) error {
		refusal = nil
		u, err := tx.Unlock(ctx, id)
		if errors.Is(err, store.ErrNotFound) || (err == nil && !p.Staff() && u.AccountID != p.AccountID) {
			return api.NewError(api.CodeNotFound)
		} else if err != nil {
			return err
		}
		now := s.now()
		open := u.State == api.UnlockCodeSent || u.State == api.UnlockApproval || u.State == api.UnlockGranted
		if open && !now.Before(u.ExpiresAt) {
			u.State, u.UpdatedAt = api.UnlockExpired, now
			if err := tx.SaveUnlock(ctx, u); err != nil {
				return err
			}
		}
		out = u
		if fn == nil {
			return nil
		}
		refusal, err = fn(tx, u)
		return err
	})
	if err != nil {
		return nil, s.internal(ctx, "unlock", err)
	}
	if refusal != nil {
		return nil, refusal
	}
	return s.unlockView(out), nil
}

func unlockState(u *store.Unlock, want string) *api.Error {
	if u.State == want {
		return nil
	}
	zh, en := "解锁申请的状态不允许此操作", "The unlock request's state does not allow this"
	switch u.State {
	case api.UnlockExpired:
		zh, en = "解锁申请已过期,请重新申请", "The unlock request has expired; start again"
	case api.UnlockLocked:
		zh, en = "验证码错误次数过多,本次解锁已作废,请重新申请", "Too many wrong codes: this unlock is void; start again"
	case api.UnlockApproval:
		zh, en = "正在等待 CA 工作人员审核解锁申请", "The unlock is waiting for the CA's staff to approve it"
	case api.UnlockReleased, api.UnlockDone:
		zh, en = "本次解锁授权已经使用过,如需再次解锁请重新申请", "This unlock grant has been used; start a new unlock if needed"
	}
	return api.NewError(api.CodeStateNotAllowed).WithMessage(apply.Text{ZH: zh, EN: en})
}

// Unlock returns the account's unlock request.
func (s *Service) Unlock(ctx context.Context, p Principal, id string) (*api.Unlock, error) {
	return s.unlockTx(ctx, p, id, nil)
}

// UnlockCode checks the SMS code: five wrong ones void the request.
func (s *Service) UnlockCode(ctx context.Context, p Principal, id, code string) (*api.Unlock, error) {
	return s.unlockTx(ctx, p, id, func(tx *store.Tx, u *store.Unlock) (*api.Error, error) {
		if e := unlockState(u, api.UnlockCodeSent); e != nil {
			return e, nil
		}
		now := s.now()
		u.UpdatedAt = now
		if !hmac.Equal([]byte(s.unlockMAC(u.ID, apply.NormalizeAnswer(code))), []byte(u.CodeMAC)) {
			u.Attempts++
			ev := "unlock_code_wrong"
			if u.Attempts >= UnlockTries {
				u.State, ev = api.UnlockLocked, "unlock_code_locked"
			}
			if err := tx.SaveUnlock(ctx, u); err != nil {
				return nil, err
			}
			if err := s.audit(ctx, tx, u.AccountID, "applicant", ev, fmt.Sprintf("UKEY %s, %d of %d tries", u.Serial, u.Attempts, UnlockTries)); err != nil {
				return nil, err
			}
			if u.State == api.UnlockLocked {
				return unlockState(u, ""), nil
			}
			e := api.NewError(api.CodeCodeInvalid).WithMessage(apply.Text{
				ZH: fmt.Sprintf("短信验证码不正确,还可再试 %d 次", UnlockTries-u.Attempts),
				EN: fmt.Sprintf("The SMS code is wrong; %d tries left", UnlockTries-u.Attempts)})
			e.Fields = []api.FieldError{{Field: "code", Code: "code.wrong", MessageZH: e.MessageZH, MessageEN: e.MessageEN}}
			return e, nil
		}
		u.State, u.ExpiresAt = api.UnlockGranted, now.Add(UnlockGrantTTL)
		ev := "unlock_code_ok"
		if s.cfg.UnlockApproval {
			u.State, u.ExpiresAt, ev = api.UnlockApproval, now.Add(7*24*time.Hour), "unlock_awaiting_approval"
		}
		if err := tx.SaveUnlock(ctx, u); err != nil {
			return nil, err
		}
		return nil, s.audit(ctx, tx, u.AccountID, "applicant", ev, "UKEY "+u.Serial)
	})
}

// ApproveUnlock is the CA staff's approval where the policy asks for one;
// the grant is then open for UnlockGrantTTL.
func (s *Service) ApproveUnlock(ctx context.Context, p Principal, id string) (*api.Unlock, error) {
	if err := needRole(p, api.StaffAdmin); err != nil {
		return nil, err
	}
	return s.unlockTx(ctx, p, id, func(tx *store.Tx, u *store.Unlock) (*api.Error, error) {
		if e := unlockState(u, api.UnlockApproval); e != nil {
			return e, nil
		}
		now := s.now()
		u.State, u.ApprovedBy, u.ExpiresAt, u.UpdatedAt = api.UnlockGranted, p.AccountID, now.Add(UnlockGrantTTL), now
		if err := tx.SaveUnlock(ctx, u); err != nil {
			return nil, err
		}
		if err := s.logStaff(ctx, tx, p.AccountID, "unlock.approve", u.ID, "UKEY "+u.Serial); err != nil {
			return nil, err
		}
		return nil, s.audit(ctx, tx, u.AccountID, "staff:"+p.AccountID, "unlock_approved", "UKEY "+u.Serial)
	})
}

// PendingUnlocks lists unlocks awaiting staff approval.
func (s *Service) PendingUnlocks(ctx context.Context, p Principal) ([]api.Unlock, error) {
	if err := needRole(p, api.StaffAdmin); err != nil {
		return nil, err
	}
	us, err := s.st.Unlocks(ctx, api.UnlockApproval)
	if err != nil {
		return nil, s.internal(ctx, "unlocks", err)
	}
	out := []api.Unlock{}
	for _, u := range us {
		out = append(out, *s.unlockView(u))
	}
	return out, nil
}

// NewSOPIN is 16 characters from an alphabet every token accepts.
func NewSOPIN() ([]byte, error) {
	const alphabet = "0123456789ABCDEFGHJKLMNPQRSTUVWXYZ"
	out := make([]byte, 16)
	for i := range out {
		n, err := rand.Int(rand.Reader, big.NewInt(int64(len(alphabet))))
		if err != nil {
			return nil, err
		}
		out[i] = alphabet[n.Int64()]
	}
	return out, nil
}

// UnlockGrant releases, once, the UKEY's SO PIN(s) and the SO PIN to
// rotate to. A rotation handed out before and never confirmed stays the
// target (the token may already hold it), so no SO PIN is ever lost.
func (s *Service) UnlockGrant(ctx context.Context, p Principal, id string) (*api.UnlockGrant, error) {
	var g *api.UnlockGrant
	_, err := s.unlockTx(ctx, p, id, func(tx *store.Tx, u *store.Unlock) (*api.Error, error) {
		if p.Staff() {
			return api.NewError(api.CodeForbidden), nil
		}
		if e := unlockState(u, api.UnlockGranted); e != nil {
			return e, nil
		}
		k, err := tx.UKEY(ctx, u.Serial)
		if err != nil {
			return nil, err
		}
		ctxt := soContext(u.Serial)
		cur, err := s.cfg.CA.Unseal(ctxt, k.SOPIN)
		if err != nil {
			return nil, err
		}
		defer clear(cur)
		g = &api.UnlockGrant{SOPINs: []string{string(cur)}, ExpiresAt: u.ExpiresAt}
		if len(k.NextSOPIN) > 0 {
			next, err := s.cfg.CA.Unseal(ctxt, k.NextSOPIN)
			if err != nil {
				return nil, err
			}
			g.SOPINs, g.NewSOPIN = append(g.SOPINs, string(next)), string(next)
			clear(next)
		} else {
			next, err := NewSOPIN()
			if err != nil {
				return nil, err
			}
			if k.NextSOPIN, err = s.cfg.CA.Seal(ctxt, next); err != nil {
				return nil, err
			}
			g.NewSOPIN = string(next)
			clear(next)
			if err := tx.SaveUKEY(ctx, k); err != nil {
				return nil, err
			}
		}
		u.State, u.UpdatedAt = api.UnlockReleased, s.now()
		if err := tx.SaveUnlock(ctx, u); err != nil {
			return nil, err
		}
		return nil, s.audit(ctx, tx, u.AccountID, "applicant", "unlock_released", "UKEY "+u.Serial+": SO PIN released to the holder's CertDesk")
	})
	if err != nil {
		return nil, err
	}
	return g, nil
}

// UnlockDone records the outcome: when the token now holds the new SO PIN
// (rotated, or the earlier rotation was found on it) that PIN becomes the
// current one.
func (s *Service) UnlockDone(ctx context.Context, p Principal, id string, req api.UnlockDoneRequest) (*api.Unlock, error) {
	return s.unlockTx(ctx, p, id, func(tx *store.Tx, u *store.Unlock) (*api.Error, error) {
		if e := unlockState(u, api.UnlockReleased); e != nil {
			return e, nil
		}
		k, err := tx.UKEY(ctx, u.Serial)
		if err != nil {
			return nil, err
		}
		now := s.now()
		detail := "UKEY " + u.Serial + ": user PIN reset"
		if (req.Rotated || req.SOPINIndex == 1) && len(k.NextSOPIN) > 0 {
			k.SOPIN, k.NextSOPIN, k.RotatedAt = k.NextSOPIN, nil, now
			detail += ", SO PIN rotated"
		}
		k.Unlocks++
		if err := tx.SaveUKEY(ctx, k); err != nil {
			return nil, err
		}
		u.State, u.UpdatedAt = api.UnlockDone, now
		if err := tx.SaveUnlock(ctx, u); err != nil {
			return nil, err
		}
		return nil, s.audit(ctx, tx, u.AccountID, "applicant", "unlock_done", detail)
	})
}

// Audit is the account's audit history.
func (s *Service) Audit(ctx context.Context, p Principal) ([]api.AuditEntry, error) {
	es, err := s.st.AuditOf(ctx, p.AccountID)
	if err != nil {
		return nil, s.internal(ctx, "audit", err)
	}
	out := []api.AuditEntry{}
	for _, e := range es {
		out = append(out, api.AuditEntry{At: e.At, Actor: e.Actor, Event: e.Event, Detail: e.Detail})
	}
	return out, nil
}

func invisible(s string) bool {
	_, _, bad := apply.Invisible(s)
	return bad
}
