// Package auth holds the enrollment server's account security: argon2id
// password hashes, the password policy, session tokens (random, stored
// only as a SHA-256 hash) and login throttling.
package auth

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"sync"
	"unicode"
	"unicode/utf8"

	"golang.org/x/crypto/argon2"

	"certdesk/app/apply"
)

// Params are argon2id's cost parameters. The default is OWASP's
// recommendation (19 MiB, 2 passes, 1 lane): about 25 ms a hash here.
type Params struct {
	MemoryKiB uint32
	Time      uint32
	Threads   uint8
}

// DefaultParams are used for new hashes.
var DefaultParams = Params{MemoryKiB: 19 * 1024, Time: 2, Threads: 1}

// ErrMismatch: the password does not match the hash.
var ErrMismatch = errors.New("password does not match")

// Hash returns a PHC-format argon2id hash of password.
func Hash(password string, p Params) (string, error) {
	salt := make([]byte, 16)
	if _, err := rand.Read(salt); err != nil {
		return "", fmt.Errorf("salt: %w", err)
	}
	key := argon2.IDKey([]byte(password), salt, p.Time, p.MemoryKiB, p.Threads, 32)
	b64 := base64.RawStdEncoding
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s", argon2.Version, p.MemoryKiB, p.Time, p.Threads, b64.EncodeToString(salt), b64.EncodeToString(key)), nil
}

// Verify checks password against a hash made by Hash, in constant time.
func Verify(password, encoded string) error {
	parts := strings.Split(encoded, "$")
	if len(parts) != 6 || parts[1] != "argon2id" {
		return fmt.Errorf("unsupported password hash")
	}
	var v int
	var p Params
	if _, err := fmt.Sscanf(parts[2], "v=%d", &v); err != nil || v != argon2.Version {
		return fmt.Errorf("unsupported argon2 version")
	}
	if _, err := fmt.Sscanf(parts[3], "m=%d,t=%d,p=%d", &p.MemoryKiB, &p.Time, &p.Threads); err != nil {
		return fmt.Errorf("bad argon2 parameters: %w", err)
	}
	b64 := base64.RawStdEncoding
	salt, err1 := b64.DecodeString(parts[4])
	want, err2 := b64.DecodeString(parts[5])
	if err1 != nil || err2 != nil || len(want) == 0 {
		return fmt.Errorf("bad password hash encoding")
	}
	got := argon2.IDKey([]byte(password), salt, p.Time, p.MemoryKiB, p.Threads, uint32(len(want)))
	if subtle.ConstantTimeCompare(got, want) != 1 {
		return ErrMismatch
	}
	return nil
}

// dummyHash is verified against when the login name does not exist, so
// that an unknown account takes as long as a wrong password. It is made on
// first use, not at package init: that cost 90 ms at every start of every
// binary linking this package, the applicant's exe included.
var dummyHash = sync.OnceValue(func() string {
	h, _ := Hash("certdesk-no-such-account", DefaultParams)
	return h
})

// VerifyDummy spends the time of one verification.
func VerifyDummy(password string) { _ = Verify(password, dummyHash()) }

// NewToken returns a session token (256 random bits, URL-safe) and the
// hash that is stored in its place.
func NewToken() (token, hash string, err error) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", "", fmt.Errorf("token: %w", err)
	}
	token = base64.RawURLEncoding.EncodeToString(b)
	return token, TokenHash(token), nil
}

// TokenHash is the stored form of a token. A fast hash is right here: the
// token has 256 bits of entropy, nothing to brute-force.
func TokenHash(token string) string {
	s := sha256.Sum256([]byte(token))
	return hex.EncodeToString(s[:])
}

// Password policy codes.
const (
	CodePasswordShort  apply.Code = "password.short"
	CodePasswordWeak   apply.Code = "password.weak"
	CodePasswordCommon apply.Code = "password.common"
	CodePasswordLogin  apply.Code = "password.is_login"
)

var common = map[string]bool{
	"12345678": true, "123456789": true, "1234567890": true, "11111111": true, "88888888": true,
	"password": true, "password1": true, "qwertyui": true, "qwerty123": true, "a1234567": true,
	"abc12345": true, "aa123456": true, "woaini1314": true, "1qaz2wsx": true, "abcd1234": true,
	"iloveyou": true, "asdfghjk": true, "zxcvbnm1": true, "12341234": true, "66666666": true,
}

// CheckPassword applies the policy: at least 8 characters, at least two of
// letters, digits and symbols, not a well-known password and not the login
// name itself. It returns nil or the field error to show.
func CheckPassword(pw string, logins ...string) *apply.FieldError {
	fe := func(c apply.Code, zh, en string) *apply.FieldError {
		return &apply.FieldError{Field: "password", Code: c, Message: apply.Text{ZH: zh, EN: en}}
	}
	if utf8.RuneCountInString(pw) < 8 {
		return fe(CodePasswordShort, "密码至少 8 位", "The password needs at least 8 characters")
	}
	if utf8.RuneCountInString(pw) > 128 {
		return fe(CodePasswordShort, "密码最多 128 位", "The password is at most 128 characters")
	}
	var letter, digit, other bool
	for _, r := range pw {
		switch {
		case unicode.IsLetter(r):
			letter = true
		case unicode.IsDigit(r):
			digit = true
		default:
			other = true
		}
	}
	kinds := 0
	for _, k := range []bool{letter, digit, other} {
		if k {
			kinds++
		}
	}
	if common[strings.ToLower(pw)] {
		return fe(CodePasswordCommon, "这个密码太常见,很容易被猜到,请换一个", "This password is too common and easily guessed; choose another")
	}
	for _, l := range logins {
		if l != "" && strings.EqualFold(pw, l) {
			return fe(CodePasswordLogin, "密码不能与手机号或邮箱相同", "The password must not be your mobile or email")
		}
	}
	if kinds < 2 {
		return fe(CodePasswordWeak, "密码需包含字母、数字、符号中的至少两种", "Use at least two of letters, digits and symbols")
	}
	return nil
}
