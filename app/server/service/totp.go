package service

import (
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"time"

	"github.com/pquerna/otp"
	"github.com/pquerna/otp/totp"

	"certdesk/app/api"
	"certdesk/app/server/store"
)

// Staff log in with a password and a TOTP code (RFC 6238: 6 digits, 30 s,
// SHA-1, what every authenticator app reads from an otpauth:// QR). The
// secret is sealed under the CA's key-encryption key; a code is accepted
// once (the step it belongs to is stored), within one step of the clock.

var totpOpts = totp.ValidateOpts{Period: 30, Skew: 1, Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1}

func totpContext(accountID string) string { return "staff-totp:" + accountID }

// EnrolTOTP gives staff account id a new TOTP secret and returns the
// otpauth:// URL to add to an authenticator app, shown once. The secret
// before it stops working.
func (s *Service) EnrolTOTP(ctx context.Context, id string) (string, error) {
	a, err := s.st.AccountByID(ctx, id)
	if err != nil {
		return "", err
	}
	if api.Role(a.Role) != api.RoleStaff {
		return "", errors.New("only staff accounts log in with TOTP")
	}
	if s.cfg.CA == nil {
		return "", errors.New("TOTP enrolment needs the CA's key-encryption key")
	}
	name := a.Email
	if name == "" {
		name = a.Mobile
	}
	key, err := totp.Generate(totp.GenerateOpts{Issuer: "CertDesk CA", AccountName: name, Period: 30, Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1})
	if err != nil {
		return "", fmt.Errorf("totp: %w", err)
	}
	sealed, err := s.cfg.CA.Seal(totpContext(id), []byte(key.Secret()))
	if err != nil {
		return "", err
	}
	if err := s.st.SetTOTP(ctx, id, sealed); err != nil {
		return "", err
	}
	return key.URL(), nil
}

// checkTOTP accepts code for staff account a once: the step it matches
// (now, or one step either side) must be later than any taken before.
func (s *Service) checkTOTP(ctx context.Context, a *store.Account, code string) (bool, error) {
	if len(a.TOTPSecret) == 0 || len(code) != 6 {
		return false, nil
	}
	secret, err := s.cfg.CA.Unseal(totpContext(a.ID), a.TOTPSecret)
	if err != nil {
		return false, err
	}
	now := s.now()
	for _, k := range []int64{0, -1, 1} {
		t := now.Add(time.Duration(k) * 30 * time.Second)
		want, err := totp.GenerateCodeCustom(string(secret), t, totpOpts)
		if err != nil {
			return false, err
		}
		if subtle.ConstantTimeCompare([]byte(want), []byte(code)) == 1 {
			return s.st.UseTOTPStep(ctx, a.ID, t.Unix()/30)
		}
	}
	return false, nil
}
