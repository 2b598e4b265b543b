package diag

import (
	"archive/zip"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"certdesk/app/apply"
)

// Text renders the report for people: one block per check, in lang.
func (r Report) Text(l apply.Lang) string {
	var b strings.Builder
	fmt.Fprintf(&b, "CertDesk %s · %s\n\n", r.Version, r.Generated.Format(time.RFC3339))
	for _, c := range r.Checks {
		mark := map[Level]string{Green: "[ OK ]", Yellow: "[WARN]", Red: "[FAIL]"}[c.Level]
		fmt.Fprintf(&b, "%s %s\n", mark, c.Title.In(l))
		for _, line := range strings.Split(c.Detail, "\n") {
			if line != "" {
				fmt.Fprintf(&b, "       %s\n", line)
			}
		}
		if fix := c.Fix.In(l); fix != "" {
			fmt.Fprintf(&b, "       → %s\n", fix)
		}
	}
	return b.String()
}

// Bundle writes a support bundle to w: the report as JSON and text, the
// recent logs and the configuration, everything passed through Redact.
// logs are log files to include (their last 1 MB each).
func Bundle(w io.Writer, r Report, logs []string, settings map[string]string) error {
	zw := zip.NewWriter(w)
	add := func(name, content string) error {
		f, err := zw.Create(name)
		if err != nil {
			return err
		}
		_, err = io.WriteString(f, content)
		return err
	}
	js, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return err
	}
	if err := add("report.json", Redact(string(js))); err != nil {
		return err
	}
	if err := add("report.txt", Redact(r.Text(apply.ZH)+"\n"+r.Text(apply.EN))); err != nil {
		return err
	}
	for _, p := range logs {
		b, err := tail(p, 1<<20)
		if err != nil {
			continue
		}
		if err := add("logs/"+filepath.Base(p), Redact(string(b))); err != nil {
			return err
		}
	}
	red := RedactSettings(settings)
	keys := make([]string, 0, len(red))
	for k := range red {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var cfg strings.Builder
	for _, k := range keys {
		fmt.Fprintf(&cfg, "%s = %s\n", k, red[k])
	}
	for _, e := range []string{"CERTDESK_HOME", "CERTDESK_SERVER", "CERTDESK_PKCS11_MODULE", "FYNE_SCALE", "LANG"} {
		if v := os.Getenv(e); v != "" {
			fmt.Fprintf(&cfg, "env %s = %s\n", e, Redact(v))
		}
	}
	if err := add("config.txt", cfg.String()); err != nil {
		return err
	}
	return zw.Close()
}
