package service

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/hmac"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"math/big"
	"time"

	"certdesk/app/api"
	"certdesk/app/apply"
	"certdesk/app/server/ca"
	"certdesk/app/server/store"
)

// Download codes and login nonces.
const (
	CodeTTL   = 7 * 24 * time.Hour
	CodeTries = 5
	NonceTTL  = 2 * time.Minute
)

// codeMAC keys the stored form of a download code with the server secret:
// a leaked database alone does not give 8-digit codes away to a brute
// force, and checking stays a microsecond.
func (s *Service) codeMAC(appID, code string) string {
	m := hmac.New(sha256.New, s.cfg.Secret)
	m.Write([]byte(appID + ":" + code))
	return hex.EncodeToString(m.Sum(nil))
}

// issueCode makes the one-time download code of an approved application
// and queues it by SMS to the handler, in the approval's transaction.
func (s *Service) issueCode(ctx context.Context, tx *store.Tx, a *store.Application) error {
	n, err := rand.Int(rand.Reader, big.NewInt(100_000_000))
	if err != nil {
		return err
	}
	code := fmt.Sprintf("%08d", n.Int64())
	now := s.now()
	if err := tx.SetDownloadCode(ctx, &store.DownloadCode{ApplicationID: a.ID, MAC: s.codeMAC(a.ID, code), ExpiresAt: now.Add(CodeTTL)}, now); err != nil {
		return err
	}
	return tx.Enqueue(ctx, &store.Message{ID: store.NewID(), ApplicationID: a.ID, Channel: "sms", Recipient: contactMobile(a),
		Subject: "download_code", CreatedAt: now, Params: map[string]string{"code": code, "days": fmt.Sprint(int(CodeTTL.Hours() / 24))},
		Body: fmt.Sprintf("【证书助手】您的证书下载验证码:%s,%d 天内有效。请插入 UKEY,在证书助手“待下载证书”中输入。请勿告诉他人。", code, int(CodeTTL.Hours()/24))})
}

// profileFor is the certificate profile of an approved application: the
// subject from the application, never from the CSR.
func profileFor(a *store.Application) ca.Profile {
	v := a.Form
	var subj pkix.Name
	switch a.Kind {
	case apply.KindOrg:
		subj = pkix.Name{CommonName: v[apply.FOrgName], Organization: []string{v[apply.FOrgName]}, Country: []string{"CN"},
			ExtraNames: []pkix.AttributeTypeAndValue{{Type: ca.OIDOrganizationIdentifier, Value: v[apply.FOrgCode]}}}
	default:
		subj = pkix.Name{CommonName: v[apply.FApplicantName], Organization: []string{v[apply.FOrgName]}, Country: []string{"CN"}}
	}
	o := v.Options()
	return ca.Profile{Subject: subj, Signing: o.Seal || o.Signature}
}

func certError(zh, en string) *api.Error {
	return api.NewError(api.CodeBadRequest).WithMessage(apply.Text{ZH: zh, EN: en})
}

// Download exchanges a CSR made on the UKEY and the one-time code for the
// certificate and chain. For the same application and key it is
// idempotent: an interrupted download asks again and gets the same
// certificate, never a second one. Another key after issuance, a key
// certified before, or a used code is refused.
//
// The checks and the signature happen outside the database's write lock
// (a signature on an HSM may be slow); the record is then written in one
// transaction that checks again, so two racing requests still yield one
// certificate.
func (s *Service) Download(ctx context.Context, p Principal, appID string, req api.DownloadRequest) (*api.CertificateBundle, error) {
	if s.cfg.CA == nil {
		return nil, api.NewError(api.CodeUnavailable)
	}
	a, err := s.loadOwned(ctx, nil, p, appID)
	if err != nil {
		return nil, s.internal(ctx, "download", err)
	}
	csr, err := ca.CheckCSR(req.CSR)
	switch {
	case errors.Is(err, ca.ErrWeakKey):
		return nil, certError("UKEY 生成的密钥不符合要求(需 RSA 2048 位以上或 ECDSA P-256/P-384),请更换 UKEY 或联系客服", "The UKEY's key is not accepted (RSA ≥ 2048 or ECDSA P-256/P-384 needed); use another UKEY or contact support")
	case err != nil:
		return nil, certError("证书请求无效,请重新下载", "The certificate request is invalid; download again")
	}
	keyID, err := ca.KeyID(csr.PublicKey)
	if err != nil {
		return nil, s.internal(ctx, "key id", err)
	}
	if len(req.TokenSerial) > 64 || invisible(req.TokenSerial) {
		return nil, certError("UKEY 序列号无效", "The UKEY serial is invalid")
	}
	if b, err := s.checkDownload(ctx, a, req.Code, keyID); b != nil || err != nil {
		return b, err
	}
	prof := profileFor(a)
	// The certificate's subject comes from the application; a CSR that
	// asks for another name is refused rather than silently renamed.
	if cn := csr.Subject.CommonName; cn != "" && cn != prof.Subject.CommonName {
		return nil, certError("证书请求中的名称与申请不符", "The name in the certificate request differs from the application")
	}
	cert, err := s.cfg.CA.IssueDER(csr, prof)
	if errors.Is(err, ca.ErrSubjectText) {
		// Only an application stored before the form refused such text.
		return nil, certError("申请信息中含有看不见的控制字符,不能写入证书;请联系客服修改申请信息", "The application holds an invisible control character that cannot go into a certificate; contact support to correct it")
	}
	if err != nil {
		return nil, s.internal(ctx, "issue", err)
	}
	rec := &store.Certificate{Serial: cert.Serial.Text(16), ApplicationID: appID, KeyID: keyID, DER: cert.DER,
		NotBefore: cert.NotBefore, NotAfter: cert.NotAfter, IssuedAt: s.now(), TokenSerial: req.TokenSerial}
	err = s.st.InTx(ctx, func(tx *store.Tx) error {
		// The application as read before signing: the version check in
		// SaveApplication proves nobody changed it since, so it is not
		// read again.
		cur := *a
		if err := bindToken(ctx, tx, req.TokenSerial, a.OwnerID); err != nil {
			return err
		}
		if err := tx.AddCertificate(ctx, rec); err != nil {
			return err
		}
		if err := tx.UseCode(ctx, appID, keyID); err != nil {
			return err
		}
		if err := s.step(ctx, tx, &cur, apply.EvIssue, apply.ActorSystem, "system", "serial "+rec.Serial); errors.Is(err, store.ErrStale) {
			return errRaced // not retried: the application changed under us
		} else if err != nil {
			return err
		}
		return s.supersede(ctx, tx, &cur)
	})
	var ce *store.ConflictError
	switch {
	case errors.Is(err, errRaced) || (errors.As(err, &ce) && ce.Column == "key_id"):
		// Another request got there first: answer as it would be answered
		// now (the same certificate for the same key, or a refusal).
		if b, err := s.checkDownload(ctx, a, req.Code, keyID); b != nil || err != nil {
			return b, err
		}
		return nil, certError("这把密钥已经签发过证书,请在 UKEY 上重新生成密钥", "This key has been certified before; generate a new key on the UKEY")
	case err != nil:
		return nil, s.internal(ctx, "download", err)
	}
	return s.bundle(rec), nil
}

var errRaced = errors.New("application changed during issuance")

// checkDownload decides a download before anything is signed: the code
// (counting a wrong one), an existing certificate (returned for the same
// key, refused for another), a key certified elsewhere, the state. It
// returns a bundle, an error, or neither when issuance may go ahead.
func (s *Service) checkDownload(ctx context.Context, a *store.Application, code, keyID string) (*api.CertificateBundle, error) {
	// The guess takes a slot before it is compared (codeGate); a wrong
	// one is stored as the slot is given back.
	dc, verdict, guess, err := s.codes.enter(ctx, s.st, a.ID)
	switch {
	case errors.Is(err, store.ErrNotFound):
		return nil, api.NewError(api.CodeStateNotAllowed).WithMessage(apply.Text{ZH: "申请尚未审核通过,还不能下载证书", EN: "The application is not approved yet: nothing to download"})
	case err != nil:
		return nil, s.internal(ctx, "download code", err)
	case verdict == codeLocked:
		return nil, api.NewError(api.CodeCodeLocked)
	case verdict == codeBusy:
		return nil, rateLimited(time.Second)
	}
	s.codeChecks.Add(1)
	if !hmac.Equal([]byte(dc.MAC), []byte(s.codeMAC(a.ID, code))) {
		if err := guess.wrong(context.WithoutCancel(ctx), s.st); err != nil {
			return nil, s.internal(ctx, "count code attempt", err)
		}
		return nil, api.NewError(api.CodeCodeInvalid)
	}
	if err := guess.right(context.WithoutCancel(ctx), s.st); err != nil {
		return nil, s.internal(ctx, "give back code attempt", err)
	}
	if existing, err := s.st.CertificateOf(ctx, a.ID); err == nil {
		if existing.KeyID == keyID && existing.RevokedAt.IsZero() {
			return s.bundle(existing), nil
		}
		return nil, certError("该申请的证书已下载到另一把密钥上,不能再次下载;UKEY 丢失请办理补办", "This application's certificate was already issued to another key; for a lost UKEY apply for a replacement")
	} else if !errors.Is(err, store.ErrNotFound) {
		return nil, s.internal(ctx, "certificate", err)
	}
	if dc.UsedKeyID != "" && dc.UsedKeyID != keyID {
		return nil, api.NewError(api.CodeCodeInvalid).WithMessage(apply.Text{ZH: "下载验证码已使用过", EN: "The download code has already been used"})
	}
	if s.now().After(dc.ExpiresAt) {
		return nil, api.NewError(api.CodeCodeInvalid).WithMessage(apply.Text{ZH: "下载验证码已过期,请联系客服重新发送", EN: "The download code has expired; ask support to send a new one"})
	}
	if a.State != apply.StateApproved {
		return nil, api.StateError(&apply.StepError{State: a.State, Event: apply.EvIssue})
	}
	return nil, nil
}

func (s *Service) bundle(c *store.Certificate) *api.CertificateBundle {
	return &api.CertificateBundle{Certificate: c.DER, Chain: s.cfg.CA.Chain(), Serial: c.Serial, NotBefore: c.NotBefore, NotAfter: c.NotAfter}
}

// Revocation reasons staff may give (RFC 5280 CRLReason): unspecified,
// keyCompromise, affiliationChanged, superseded, cessationOfOperation,
// privilegeWithdrawn. CA compromise, certificateHold and removeFromCRL are
// not an end-entity revocation's reasons here.
var staffReasons = map[int]bool{0: true, 1: true, 3: true, 4: true, 5: true, 9: true}

// Revoke revokes an application's certificate (staff), with an RFC 5280
// reason code: state, history, CRL entry and the end of the certificate's
// UKEY sessions commit together; the next CRL lists it and UKEY login
// refuses it.
func (s *Service) Revoke(ctx context.Context, p Principal, appID string, reason int, note string) (*api.Application, error) {
	if !p.Staff() {
		return nil, api.NewError(api.CodeForbidden)
	}
	if err := needRole(p, api.StaffReviewer); err != nil {
		return nil, err
	}
	if !staffReasons[reason] {
		return nil, api.ValidationError(apply.FieldErrors{{Field: "reason", Code: apply.CodeChoice, Message: apply.Text{
			ZH: "吊销原因代码应为 0(未指定)、1(密钥泄露/UKEY 丢失)、3(单位信息变更)、4(已被替代)、5(停止使用)或 9(撤销授权)",
			EN: "The reason code is 0 (unspecified), 1 (key compromise / UKEY lost), 3 (affiliation changed), 4 (superseded), 5 (cessation of operation) or 9 (privilege withdrawn)"}}})
	}
	if fe := apply.CheckText("note", apply.Text{ZH: "说明", EN: "The note"}, note); fe != nil {
		return nil, api.ValidationError(apply.FieldErrors{*fe})
	}
	return s.staffTx(ctx, p, appID, "revoke", func(tx *store.Tx, a *store.Application) error {
		return s.revoke(ctx, tx, a, apply.ActorStaff, p.AccountID, reason, note)
	})
}

// revoke is the one way to the revoked state: the step and the
// revocation of the application's certificates in tx.
func (s *Service) revoke(ctx context.Context, tx *store.Tx, a *store.Application, actor apply.Actor, actorID string, reason int, note string) error {
	if err := s.transition(ctx, tx, a, apply.EvRevoke, actor, actorID, note); err != nil {
		return err
	}
	_, err := tx.RevokeCertificates(ctx, a.ID, reason, s.now())
	return err
}

// staffStep takes a staff step on any application and runs then in the
// same transaction.
func (s *Service) staffStep(ctx context.Context, p Principal, appID string, ev apply.Event, note string, then func(*store.Tx, *store.Application) error) (*api.Application, error) {
	return s.staffTx(ctx, p, appID, string(ev), func(tx *store.Tx, a *store.Application) error {
		if err := s.step(ctx, tx, a, ev, apply.ActorStaff, p.AccountID, note); err != nil {
			return err
		}
		return then(tx, a)
	})
}

// staffTx runs fn for staff on any application in one transaction and
// returns the application as it then is.
func (s *Service) staffTx(ctx context.Context, p Principal, appID, op string, fn func(*store.Tx, *store.Application) error) (*api.Application, error) {
	if !p.Staff() {
		return nil, api.NewError(api.CodeForbidden)
	}
	err := s.st.InTx(ctx, func(tx *store.Tx) error {
		a, err := tx.Application(ctx, appID)
		if errors.Is(err, store.ErrNotFound) {
			return api.NewError(api.CodeNotFound)
		}
		if err != nil {
			return err
		}
		return fn(tx, a)
	})
	if err != nil {
		return nil, s.internal(ctx, op, err)
	}
	return s.Application(ctx, p, appID)
}

// CRL timing: a CRL is valid for CRLValidity and signed anew once it is
// CRLRefresh old, so a relying party that fetches now and then never holds
// an expired one; a revocation makes a new one at the next request.
const (
	CRLValidity = 24 * time.Hour
	CRLRefresh  = 12 * time.Hour
)

// cachedCRL is the last CRL this instance served.
type cachedCRL struct {
	number int64
	der    []byte
}

// CRL returns the current CRL, DER. Its number is stored and increases by
// one with every CRL signed (RFC 5280 §5.2.3); a CRL is signed only when
// a revocation moved the list's revision or the last one is CRLRefresh
// old, and served from memory otherwise (one small row read per request
// checks that it is still current, so several instances agree).
func (s *Service) CRL(ctx context.Context) ([]byte, error) {
	if s.cfg.CA == nil {
		return nil, api.NewError(api.CodeUnavailable)
	}
	head, err := s.st.CRLHead(ctx)
	if err != nil {
		return nil, s.internal(ctx, "crl", err)
	}
	if s.crlCurrent(head) {
		if c := s.crl.Load(); c != nil && c.number == head.Number {
			return c.der, nil
		}
		st, err := s.st.CRLState(ctx)
		if err != nil {
			return nil, s.internal(ctx, "crl", err)
		}
		if st.Number == head.Number {
			s.crl.Store(&cachedCRL{number: st.Number, der: st.DER})
			return st.DER, nil
		}
	}
	var out *cachedCRL
	err = s.st.InTx(ctx, func(tx *store.Tx) error {
		st, err := tx.CRLStateForUpdate(ctx)
		if err != nil {
			return err
		}
		if s.crlCurrent(st) { // another request or instance made it meanwhile
			out = &cachedCRL{number: st.Number, der: st.DER}
			return nil
		}
		rs, err := tx.RevokedCertificates(ctx)
		if err != nil {
			return err
		}
		entries := make([]ca.Revoked, 0, len(rs))
		for _, r := range rs {
			sn, ok := new(big.Int).SetString(r.Serial, 16)
			if !ok {
				return fmt.Errorf("certificate serial %q", r.Serial)
			}
			entries = append(entries, ca.Revoked{Serial: sn, At: r.RevokedAt, Reason: r.RevokeReason})
		}
		now := s.now()
		st.Number++
		der, err := s.cfg.CA.CRL(entries, st.Number, now, now.Add(CRLValidity))
		if err != nil {
			return err
		}
		st.CRLRevision, st.DER, st.ThisUpdate, st.NextUpdate = st.Revision, der, now, now.Add(CRLValidity)
		out = &cachedCRL{number: st.Number, der: der}
		return tx.SaveCRL(ctx, st)
	})
	if err != nil {
		return nil, s.internal(ctx, "crl", err)
	}
	s.crl.Store(out)
	return out.der, nil
}

func (s *Service) crlCurrent(st *store.CRLState) bool {
	return st.Number > 0 && st.CRLRevision == st.Revision && s.now().Before(st.ThisUpdate.Add(CRLRefresh))
}

// LoginNonce issues a single-use UKEY login challenge to addr. Anyone may
// ask, so it is limited per address, and expired challenges are swept as
// new ones are stored.
func (s *Service) LoginNonce(ctx context.Context, addr string) (*api.Nonce, error) {
	now := s.now()
	if w := s.sharedWait(ctx, "nonce:"+addr, now); w > 0 {
		return nil, rateLimited(w)
	}
	if lock := max(s.nonceThrottle.Fail(addr, now), s.sharedFail(ctx, s.nonceThrottle, "nonce:"+addr, now)); lock > 0 {
		return nil, rateLimited(lock)
	}
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return nil, s.internal(ctx, "nonce", err)
	}
	n := base64.RawURLEncoding.EncodeToString(b)
	exp := s.now().Add(NonceTTL)
	if err := s.st.AddNonce(ctx, n, exp, s.now()); err != nil {
		return nil, s.internal(ctx, "nonce", err)
	}
	return &api.Nonce{Nonce: n, ExpiresAt: exp}, nil
}

// UKEYLogin opens a session for the owner of the certificate that signed
// the nonce: the nonce must be fresh and unused, the certificate ours,
// valid, on record and not revoked, and the signature right.
func (s *Service) UKEYLogin(ctx context.Context, req api.UKEYLoginRequest, addr string) (*api.Session, error) {
	if s.cfg.CA == nil {
		return nil, api.NewError(api.CodeUnavailable)
	}
	try, w := s.addrThrottle.Begin(addr, s.now())
	if try == nil {
		return nil, rateLimited(w)
	}
	defer try.Succeed(false) // released unless refused below
	refused := func(zh, en string) error {
		try.Fail(s.now())
		return api.NewError(api.CodeBadCredentials).WithMessage(apply.Text{ZH: zh, EN: en})
	}
	ok, err := s.st.UseNonce(ctx, req.Nonce, s.now())
	if err != nil {
		return nil, s.internal(ctx, "nonce", err)
	}
	if !ok {
		return nil, refused("登录请求已过期,请重试", "The login challenge expired or was already used; try again")
	}
	cert, err := x509.ParseCertificate(req.Certificate)
	if err != nil {
		return nil, refused("UKEY 中的证书无法识别", "The certificate on the UKEY cannot be read")
	}
	if err := s.cfg.CA.Verify(cert); err != nil {
		return nil, refused("UKEY 中的证书不是本机构签发的或已过期", "The certificate on the UKEY was not issued by this CA or has expired")
	}
	rec, err := s.st.CertificateBySerial(ctx, cert.SerialNumber.Text(16))
	if err != nil || string(rec.DER) != string(cert.Raw) {
		return nil, refused("UKEY 中的证书不是本机构签发的", "The certificate on the UKEY was not issued by this CA")
	}
	if !rec.RevokedAt.IsZero() {
		return nil, refused("该证书已吊销,不能用于登录", "This certificate is revoked and cannot log in")
	}
	if err := verifySig(cert.PublicKey, api.LoginMessage(req.Nonce), req.Signature); err != nil {
		return nil, refused("UKEY 签名验证失败", "The UKEY's signature does not verify")
	}
	a, err := s.st.Application(ctx, rec.ApplicationID)
	if err != nil {
		return nil, s.internal(ctx, "ukey login", err)
	}
	acc, err := s.st.AccountByID(ctx, a.OwnerID)
	if err != nil || acc.Disabled {
		return nil, refused("账户不可用", "The account is not available")
	}
	return s.openSession(ctx, acc, rec.Serial)
}

func verifySig(pub crypto.PublicKey, msg, sig []byte) error {
	h := sha256.Sum256(msg)
	switch k := pub.(type) {
	case *ecdsa.PublicKey:
		if !ecdsa.VerifyASN1(k, h[:], sig) {
			return errors.New("bad ECDSA signature")
		}
		return nil
	case *rsa.PublicKey:
		return rsa.VerifyPKCS1v15(k, crypto.SHA256, h[:], sig)
	}
	return errors.New("unsupported key")
}
