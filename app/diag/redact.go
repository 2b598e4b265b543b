package diag

import (
	"regexp"
	"strings"
)

// secretKeys are the names under which secrets travel in logs and JSON.
const secretKeys = `(?:pin|so_?pin|new_?pin|password|passwd|pass|secret|token|session_?token|session|code|download_?code|security_?answer|answer|authorization|passphrase)`

// Redaction rules, in order. Secrets go entirely; personal identifiers
// keep enough to recognise them (the first six and last four of an ID
// number — region and check digit — and a mobile's prefix and last four)
// so support can match a bundle to a caller without holding the number.
var redactions = []struct {
	re   *regexp.Regexp
	repl string
}{
	// "key":"value", key="value" and key=value for the secret keys.
	{regexp.MustCompile(`(?i)("` + secretKeys + `"\s*:\s*")[^"]*(")`), `${1}[REDACTED]${2}`},
	{regexp.MustCompile(`(?i)(\b` + secretKeys + `\s*=\s*")[^"]*(")`), `${1}[REDACTED]${2}`},
	{regexp.MustCompile(`(?i)(\b` + secretKeys + `\s*[:=]\s*)([^"\s,&}]+)`), `${1}[REDACTED]`},
	{regexp.MustCompile(`(?i)(Bearer\s+)[A-Za-z0-9._~+/=-]+`), `${1}[REDACTED]`},
	// The download code as the SMS words it.
	{regexp.MustCompile(`(验证码[::]\s*)\d{4,10}`), `${1}[REDACTED]`},
	// Long hex or base64url runs are tokens or keys whatever their label.
	{regexp.MustCompile(`\b[A-Za-z0-9_-]{32,}\b`), `[REDACTED]`},
	// Resident ID numbers (GB 11643): 18 characters.
	{regexp.MustCompile(`\b(\d{6})\d{8}(\d{3}[\dXx])\b`), `${1}********${2}`},
	// Mainland mobiles.
	{regexp.MustCompile(`\b(1[3-9]\d)\d{4}(\d{4})\b`), `${1}****${2}`},
}

// Redact removes PINs, passwords, session tokens and download codes from s
// and masks ID numbers and mobile numbers.
func Redact(s string) string {
	for _, r := range redactions {
		s = r.re.ReplaceAllString(s, r.repl)
	}
	return s
}

// RedactSettings redacts a settings map: values of secret-looking keys go
// entirely, the rest through Redact.
func RedactSettings(m map[string]string) map[string]string {
	out := make(map[string]string, len(m))
	for k, v := range m {
		lk := strings.ToLower(k)
		switch {
		case strings.Contains(lk, "pin"), strings.Contains(lk, "pass"), strings.Contains(lk, "token"), strings.Contains(lk, "secret"), strings.Contains(lk, "code"), strings.Contains(lk, "answer"):
			out[k] = "[REDACTED]"
		default:
			out[k] = Redact(v)
		}
	}
	return out
}
