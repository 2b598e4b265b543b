package server

import (
	"bufio"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"database/sql"
	"encoding/json"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"certdesk/app/api"
	"certdesk/app/apply"
	"certdesk/app/server/service"
)

// TestConsoleInChromium drives the console in Debian's Chromium with
// playwright-core (app/server/console/browser): staff login with TOTP, the
// queue and its filters, an application made through the API with real
// JPEG materials whose images render and zoom, a material returned with a
// reason that the applicant then reads through the API, the resubmission,
// two reviewers' approvals (the first one's second refused), finance's
// transfer confirmation, a revocation on the CRL, and the audit chain
// verified before and broken after an edit of one row.
// CERTDESK_CONSOLE_SHOTS=DIR keeps the console's screenshots there.
func TestConsoleInChromium(t *testing.T) {
	chromium, err := exec.LookPath("chromium")
	script, _ := filepath.Abs("console/browser/console.spec.mjs")
	_, modErr := os.Stat(filepath.Join(filepath.Dir(script), "node_modules", "playwright-core"))
	if err != nil || modErr != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("chromium (%v) and playwright-core (%v) are installed by .ci/deps", err, modErr)
		}
		t.Skip("no chromium or playwright-core: run bash .ci/deps")
	}
	dir := t.TempDir()
	ctx := context.Background()
	s := startServerIn(t, dir)
	if err := s.Service.SetApprovals(ctx, service.Operator("test"), 2); err != nil {
		t.Fatal(err)
	}
	c := applicant(t, s)
	a, mats := reviewable(t, s, c, "chromium01", "福州闽江数字科技有限公司")
	creds := func(name string, duties ...api.StaffRole) map[string]string {
		sl := staffAccount(t, s, duties...)
		return map[string]string{"name": name, "login": sl.login, "password": sl.password, "secret": sl.secret}
	}
	shots := os.Getenv("CERTDESK_CONSOLE_SHOTS")
	cfg, _ := json.Marshal(map[string]any{"base": s.URL, "chromium": chromium, "app": a.ID, "license": mats[apply.MatOrgLicense].ID,
		"creditCode": a.Form[apply.FOrgCode], "shots": shots,
		"finance": creds("finance", api.StaffFinance), "reviewerA": creds("A", api.StaffReviewer), "reviewerB": creds("B", api.StaffReviewer)})

	cctx, cancel := context.WithTimeout(ctx, 4*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(cctx, "node", script)
	cmd.Env = append(os.Environ(), "CONSOLE_TEST="+string(cfg))
	cmd.Stderr = os.Stderr
	stdin, _ := cmd.StdinPipe()
	stdout, _ := cmd.StdoutPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	answer := func(s string) { _, _ = io.WriteString(stdin, s+"\n") }
	var failed []string
	var serial string
	sc := bufio.NewScanner(stdout)
	for sc.Scan() {
		line := sc.Text()
		t.Log(line)
		switch {
		case strings.HasPrefix(line, "FAIL"):
			failed = append(failed, line)
		case line == "WAIT rejected":
			// The applicant's side: the reason beside the material, then
			// the replacement and the resubmission.
			got := c.app(a.ID)
			var back *api.MaterialRejection
			for _, m := range got.Materials {
				if m.ID == mats[apply.MatOrgLicense].ID {
					back = m.Rejection
				}
			}
			if got.State != apply.StateRejected || back == nil || back.Code != "unsealed" || back.Note != "右下角未见公章" {
				t.Errorf("the applicant does not see the return: %s %+v", got.State, back)
			}
			var cl api.Checklist
			c.ok(c.do("GET", "/applications/"+a.ID+"/materials", nil), &cl)
			seen := false
			for _, it := range cl.Items {
				for _, m := range it.Materials {
					seen = seen || m.Rejection != nil && m.Rejection.Reason.ZH == "复印件未加盖单位公章"
				}
			}
			if !seen {
				t.Error("the checklist does not carry the reason")
			}
			c.ok(c.do("DELETE", "/applications/"+a.ID+"/materials/"+mats[apply.MatOrgLicense].ID, nil), nil)
			doc, _ := scans()
			c.mustUpload(a.ID, apply.MatOrgLicense, doc)
			c.ok(c.do("POST", "/applications/"+a.ID+"/events", api.EventRequest{Event: apply.EvResubmit}), nil)
			answer("go")
		case line == "WAIT approved":
			key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
			var b api.CertificateBundle
			c.ok(c.do("POST", "/applications/"+a.ID+"/certificate", api.DownloadRequest{CSR: makeCSR(t, key, ""), Code: codeFromOutbox(t, s, a.ID)}), &b)
			serial = b.Serial
			answer(serial)
		case line == "WAIT revoked":
			crl, _ := fetchCRL(t, newClient(t, s))
			if !onCRL(crl, serial) {
				t.Errorf("CRL #%v does not list %s", crl.Number, serial)
			}
			answer("go")
		}
	}
	if err := cmd.Wait(); err != nil || len(failed) > 0 {
		t.Fatalf("the browser run failed (%v): %s", err, strings.Join(failed, "\n"))
	}
	if serial == "" {
		t.Fatal("the browser run ended before the approval")
	}

	// The audit chain holds; an edit of one row breaks it.
	n, err := s.Service.VerifyAudit(ctx)
	if err != nil || n < 8 {
		t.Fatalf("audit verify: %d entries, %v", n, err)
	}
	db, err := sql.Open("sqlite", filepath.Join(dir, "certdesk.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.Exec(`UPDATE audit_log SET detail = 'nothing happened' WHERE action = 'application.approve_first'`); err != nil {
		t.Fatal(err)
	}
	var p *service.AuditProblem
	if _, err := s.Service.VerifyAudit(ctx); !errors.As(err, &p) || !strings.Contains(err.Error(), "does not match") {
		t.Fatalf("audit verify after an edit: %v", err)
	}
}
