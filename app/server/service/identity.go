package service

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"certdesk/app/api"
	"certdesk/app/apply"
	"certdesk/app/server/store"
)

// Identity verification (身份识别) limits.
const (
	IdentityTTL      = 15 * time.Minute
	IdentityAttempts = 3
	callbackMaxAge   = 5 * time.Minute
)

// IdentityCallback is what a face-ID provider posts back, signed.
type IdentityCallback struct {
	CallbackID string `json:"callback_id"` // unique per callback: replays are ignored
	SessionID  string `json:"session_id"`
	Result     string `json:"result"` // pass or fail
	Name       string `json:"name"`
	IDNumber   string `json:"id_number"`
	Timestamp  int64  `json:"timestamp"` // unix seconds
	Reason     string `json:"reason,omitempty"`
}

// ErrBadSignature: a callback or notify whose signature does not verify.
var ErrBadSignature = errors.New("signature does not verify")

func (s *Service) mac(purpose string, parts ...string) string {
	m := hmac.New(sha256.New, s.cfg.Secret)
	m.Write([]byte(purpose))
	for _, p := range parts {
		m.Write([]byte{0})
		m.Write([]byte(p))
	}
	return hex.EncodeToString(m.Sum(nil))
}

// IdentityProviderKey is the HMAC key the development identity provider
// signs callbacks with (a real provider has its own, from configuration).
func (s *Service) IdentityProviderKey() []byte {
	k, _ := hex.DecodeString(s.mac("identity-provider-key"))
	return k
}

// SignIdentityCallback signs a callback body as the provider does.
func SignIdentityCallback(key, body []byte) string {
	m := hmac.New(sha256.New, key)
	m.Write(body)
	return hex.EncodeToString(m.Sum(nil))
}

// SessionRef is the signed, expiring reference to a session carried in
// the "verify" QR code: id.expiry.mac.
func (s *Service) SessionRef(id string, exp time.Time) string {
	e := strconv.FormatInt(exp.Unix(), 10)
	return id + "." + e + "." + s.mac("identity-ref", id, e)[:32]
}

// ParseSessionRef checks a reference's signature and expiry.
func (s *Service) ParseSessionRef(ref string) (string, error) {
	parts := strings.Split(ref, ".")
	if len(parts) != 3 || !hmac.Equal([]byte(parts[2]), []byte(s.mac("identity-ref", parts[0], parts[1])[:32])) {
		return "", ErrBadSignature
	}
	exp, err := strconv.ParseInt(parts[1], 10, 64)
	if err != nil || s.now().Unix() > exp {
		return "", fmt.Errorf("identity reference expired")
	}
	return parts[0], nil
}

func (s *Service) identityView(is *store.IdentitySession) *api.IdentitySession {
	base := strings.TrimRight(s.cfg.PublicURL, "/")
	status := is.Status
	if status == api.IdentityPending && s.now().After(is.ExpiresAt) {
		status = api.IdentityExpired
	}
	return &api.IdentitySession{ID: is.ID, Status: status, ExpiresAt: is.ExpiresAt, Attempts: is.Attempts, AttemptsMax: is.MaxAttempts, Reason: is.Reason,
		AppQR:    base + "/dev/identity/app",
		VerifyQR: base + "/dev/identity/s/" + s.SessionRef(is.ID, is.ExpiresAt)}
}

// expectedPerson is whose face and ID the check must find: the applicant
// of a personal certificate, the handler (经办人) of an organisation's.
func expectedPerson(a *store.Application) (name, id string) {
	if a.Kind == apply.KindPersonal {
		return a.Form[apply.FApplicantName], a.Form[apply.FApplicantID]
	}
	return a.Form[apply.FHandlerName], a.Form[apply.FHandlerID]
}

// ExpectedPerson returns a masked name and ID number for the provider's
// page (the development page shows who should stand in front of it).
func (s *Service) ExpectedPerson(ctx context.Context, sessionID string) (name, id string, err error) {
	is, err := s.st.IdentitySessionByID(ctx, sessionID)
	if err != nil {
		return "", "", err
	}
	a, err := s.st.Application(ctx, is.ApplicationID)
	if err != nil {
		return "", "", err
	}
	name, id = expectedPerson(a)
	return name, id, nil
}

// StartIdentity opens a verification session once the materials are
// complete, or returns the live one.
func (s *Service) StartIdentity(ctx context.Context, p Principal, appID string) (*api.IdentitySession, error) {
	a, err := s.loadOwned(ctx, nil, p, appID)
	if err != nil {
		return nil, s.internal(ctx, "identity", err)
	}
	if a.State != apply.StateMaterialsComplete {
		return nil, api.NewError(api.CodeStateNotAllowed).WithMessage(apply.Text{ZH: "请先上传全部材料,再进行身份识别", EN: "Upload every material before the identity check"})
	}
	if cur, err := s.st.LatestIdentitySession(ctx, appID); err == nil && cur.Status == api.IdentityPending && s.now().Before(cur.ExpiresAt) {
		return s.identityView(cur), nil
	}
	now := s.now()
	is := &store.IdentitySession{ID: store.NewID(), ApplicationID: appID, Status: api.IdentityPending, MaxAttempts: IdentityAttempts, CreatedAt: now, ExpiresAt: now.Add(IdentityTTL)}
	if err := s.st.InTx(ctx, func(tx *store.Tx) error { return tx.AddIdentitySession(ctx, is) }); err != nil {
		return nil, s.internal(ctx, "identity", err)
	}
	return s.identityView(is), nil
}

// IdentityStatus returns the latest session; with wait > 0 it long-polls
// until the status is no longer pending or wait has passed.
func (s *Service) IdentityStatus(ctx context.Context, p Principal, appID string, wait time.Duration) (*api.IdentitySession, error) {
	if _, err := s.loadOwned(ctx, nil, p, appID); err != nil {
		return nil, s.internal(ctx, "identity", err)
	}
	deadline := time.Now().Add(min(wait, 55*time.Second))
	for {
		is, err := s.st.LatestIdentitySession(ctx, appID)
		if errors.Is(err, store.ErrNotFound) {
			return nil, api.NewError(api.CodeNotFound)
		}
		if err != nil {
			return nil, s.internal(ctx, "identity", err)
		}
		v := s.identityView(is)
		if v.Status != api.IdentityPending || !time.Now().Before(deadline) {
			return v, nil
		}
		select {
		case <-ctx.Done():
			return v, nil
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// HandleIdentityCallback verifies and applies a provider's callback. A
// forged signature, a stale timestamp or a replayed callback changes
// nothing. A pass whose name and ID differ from the application is a
// failure.
func (s *Service) HandleIdentityCallback(ctx context.Context, body []byte, sig string) error {
	if !hmac.Equal([]byte(sig), []byte(SignIdentityCallback(s.IdentityProviderKey(), body))) {
		return ErrBadSignature
	}
	var cb IdentityCallback
	if err := json.Unmarshal(body, &cb); err != nil || cb.CallbackID == "" {
		return fmt.Errorf("identity callback: malformed")
	}
	if d := s.now().Sub(time.Unix(cb.Timestamp, 0)); d > callbackMaxAge || d < -callbackMaxAge {
		return fmt.Errorf("identity callback: stale timestamp")
	}
	return s.st.InTx(ctx, func(tx *store.Tx) error {
		fresh, err := tx.SeeCallback(ctx, "identity:"+cb.CallbackID, s.now())
		if err != nil || !fresh {
			return err // a replay: already applied
		}
		is, err := tx.IdentitySession(ctx, cb.SessionID)
		if err != nil {
			return err
		}
		if is.Status != api.IdentityPending || s.now().After(is.ExpiresAt) {
			return nil
		}
		a, err := tx.Application(ctx, is.ApplicationID)
		if err != nil {
			return err
		}
		name, id := expectedPerson(a)
		switch {
		case cb.Result == "pass" && cb.Name == name && strings.EqualFold(cb.IDNumber, id):
			is.Status, is.Reason = api.IdentityPassed, ""
			if err := tx.SaveIdentitySession(ctx, is); err != nil {
				return err
			}
			return s.step(ctx, tx, a, apply.EvIdentityVerified, apply.ActorSystem, "identity", "session "+is.ID)
		case cb.Result == "pass":
			is.Reason = "身份信息与申请不符 / the verified person differs from the application"
		default:
			is.Reason = cb.Reason
			if is.Reason == "" {
				is.Reason = "人脸识别未通过 / face check failed"
			}
		}
		is.Attempts++
		if is.Attempts >= is.MaxAttempts {
			is.Status = api.IdentityFailed
		}
		return tx.SaveIdentitySession(ctx, is)
	})
}
