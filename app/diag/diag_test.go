package diag

import (
	"archive/zip"
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// A support bundle carries none of the secrets planted in the log and the
// configuration, and the masked forms of the identifiers instead.
func TestBundleIsRedacted(t *testing.T) {
	const (
		pin      = "135792"
		password = "Zh3ngShu!2026"
		session  = "q3k9v2m8x7c6b5n4z1a0s9d8f7g6h5j4k3l2"
		code     = "48151623"
		idNumber = "11010519491231002X"
		mobile   = "13812345678"
		answer   = "福州鼓楼"
	)
	dir := t.TempDir()
	logFile := filepath.Join(dir, "certdesk.log")
	log := strings.Join([]string{
		`time=2026-11-25T10:00:00Z level=INFO msg=login login=` + mobile + ` password=` + password,
		`time=2026-11-25T10:00:01Z level=ERROR msg="ukey login" pin=` + pin + ` err="CKR_PIN_INCORRECT"`,
		`time=2026-11-25T10:00:02Z level=WARN msg=request header="Authorization: Bearer ` + session + `"`,
		`time=2026-11-25T10:00:03Z level=INFO msg=sms body="【CertDesk】您的证书下载验证码:` + code + `,30 分钟内有效"`,
		`time=2026-11-25T10:00:04Z level=ERROR msg=form field=handler_id value=` + idNumber + ` token=` + session,
		`time=2026-11-25T10:00:05Z level=INFO msg=json body={"security_answer":"` + answer + `","download_code":"` + code + `"}`,
	}, "\n")
	if err := os.WriteFile(logFile, []byte(log), 0o600); err != nil {
		t.Fatal(err)
	}
	settings := map[string]string{"server": "https://ca.example.cn", "last_login": mobile, "session_token": session, "handler_id": idNumber}
	r := Run(context.Background(), Env{Version: "test", DataDir: dir, LogFile: logFile, Local: &Local{Settings: settings}})
	var buf bytes.Buffer
	if err := Bundle(&buf, r, []string{logFile}, settings); err != nil {
		t.Fatal(err)
	}
	zr, err := zip.NewReader(bytes.NewReader(buf.Bytes()), int64(buf.Len()))
	if err != nil {
		t.Fatal(err)
	}
	var all strings.Builder
	names := map[string]bool{}
	for _, f := range zr.File {
		names[f.Name] = true
		rc, _ := f.Open()
		b, _ := io.ReadAll(rc)
		rc.Close()
		all.WriteString(string(b))
	}
	for _, want := range []string{"report.json", "report.txt", "config.txt", "logs/certdesk.log"} {
		if !names[want] {
			t.Errorf("bundle lacks %s: %v", want, names)
		}
	}
	got := all.String()
	for name, secret := range map[string]string{"PIN": pin, "password": password, "session token": session, "download code": code, "ID number": idNumber, "mobile": mobile, "security answer": answer} {
		if strings.Contains(got, secret) {
			t.Errorf("the bundle holds the %s %q", name, secret)
		}
	}
	for _, masked := range []string{"110105********002X", "138****5678", "[REDACTED]"} {
		if !strings.Contains(got, masked) {
			t.Errorf("masked form %q missing", masked)
		}
	}
	// The recent errors made it into the report, redacted.
	if !strings.Contains(got, "CKR_PIN_INCORRECT") {
		t.Error("recent errors missing from the report")
	}
}

func TestRedact(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"pin=123456", "pin=[REDACTED]"},
		{`{"password":"a b"}`, `{"password":"[REDACTED]"}`},
		{`msg=x pin="12 34"`, `msg=x pin="[REDACTED]"`},
		{"身份证 350102199001011234 已核验", "身份证 350102********1234 已核验"},
		{"手机 13900139000", "手机 139****9000"},
		{"验证码:12345678", "验证码:[REDACTED]"},
		{"serial 413AF5359EC0B7CB1F51C04C7E980DD5", "serial [REDACTED]"},
		{"nothing secret here", "nothing secret here"},
	} {
		if got := Redact(c.in); got != c.want {
			t.Errorf("Redact(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}

// The server checks: reachable, and the clock compared with the server's
// Date header.
func TestServerAndClockChecks(t *testing.T) {
	skew := 10 * time.Minute
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Date", time.Now().Add(-skew).UTC().Format(http.TimeFormat))
		w.WriteHeader(200)
	}))
	defer srv.Close()
	r := Run(context.Background(), Env{DataDir: t.TempDir(), ServerURL: srv.URL})
	byID := map[string]Check{}
	for _, c := range r.Checks {
		byID[c.ID] = c
	}
	if byID["server"].Level != Green {
		t.Errorf("server: %+v", byID["server"])
	}
	if byID["clock"].Level != Red || !strings.Contains(byID["clock"].Fix.ZH, "自动设置时间") {
		t.Errorf("clock 10 min off: %+v", byID["clock"])
	}
	srv.Close()
	r = Run(context.Background(), Env{DataDir: t.TempDir(), ServerURL: srv.URL})
	for _, c := range r.Checks {
		if c.ID == "server" && (c.Level != Red || c.Fix.ZH == "") {
			t.Errorf("unreachable server: %+v", c)
		}
	}
}

// A helper that is not beside certdesk (quarantined, or a broken install)
// is a yellow line that says what still works and how to get it back.
func TestHelperCheck(t *testing.T) {
	dir := t.TempDir()
	present := filepath.Join(dir, "certdesk-preview")
	if err := os.WriteFile(present, []byte("#!/bin/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name    string
		helpers []string
		want    Level
	}{
		{"installed", []string{present}, Green},
		{"missing", []string{filepath.Join(dir, "certdesk-preview.exe")}, Yellow},
		{"a directory in its place", []string{dir}, Yellow},
	} {
		c := helperCheck(Env{Helpers: tc.helpers})
		if c.Level != tc.want {
			t.Errorf("%s: %s (%s), want %s", tc.name, c.Level, c.Detail, tc.want)
		}
		if c.Level == Yellow && (!strings.Contains(c.Fix.ZH, "重新安装") || !strings.Contains(c.Fix.EN, "Reinstall")) {
			t.Errorf("%s: fix %+v does not say what to do", tc.name, c.Fix)
		}
	}
}
