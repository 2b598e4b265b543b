package main

import (
	"bytes"
	"context"
	"database/sql"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"certdesk/app/api"
	"certdesk/app/apply"
	"certdesk/app/server"
	"certdesk/app/server/service"
)

// TestStaffCommands drives an application to review through the service,
// then reviews it with the command line on the same data directory.
func TestStaffCommands(t *testing.T) {
	ctx := context.Background()
	dir := filepath.Join(t.TempDir(), "data")
	cli := func(stdin string, args ...string) (int, string, string) {
		var out, errb bytes.Buffer
		code := run(ctx, append(args, "--data", dir), strings.NewReader(stdin), &out, &errb)
		return code, out.String(), errb.String()
	}
	if code, out, errs := cli("Sh3nHe!2026\n", "user", "add", "--staff", "--duties", "reviewer", "--email", "ops@ca.example.cn"); code != 0 || !strings.Contains(out, "created staff account") || !strings.Contains(out, "otpauth://totp/") {
		t.Fatalf("user add: %d %s %s", code, out, errs)
	}
	if code, _, errs := cli("weak\n", "user", "add", "--mobile", "13800138000"); code != 1 || !strings.Contains(errs, "密码至少 8 位") {
		t.Fatalf("weak password: %d %s", code, errs)
	}

	st, svc, err := server.Open(ctx, server.Config{DataDir: dir, Log: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	acc, err := svc.Register(ctx, api.RegisterRequest{Mobile: "13800138000", Password: "Zh3ngShu!2026"})
	if err != nil {
		t.Fatal(err)
	}
	p := service.Principal{AccountID: acc.ID, Role: api.RoleApplicant}
	a, err := svc.CreateApplication(ctx, p, api.CreateApplicationRequest{Kind: apply.KindPersonal, Agreement: api.AgreementAcceptance{Version: svc.Agreement().Version, AcceptedAt: time.Now()}}, "")
	if err != nil {
		t.Fatal(err)
	}
	form := apply.Values{apply.FUsername: "lizhe", apply.FApplicantName: "李喆", apply.FApplicantIDType: "resident",
		apply.FApplicantID: "11010519491231002X", apply.FApplicantMobile: "13900139000", apply.FApplicantEmail: "li@example.cn",
		apply.FOrgName: "福州示例软件有限公司", apply.FOrgCode: "91350100M000100Y43", apply.FHandlerSame: "true", apply.FSecurityQuestion: "您的出生地是?",
		apply.FSecurityAnswer: "福州", apply.FDelivery: "pickup"}
	if _, err := svc.UpdateForm(ctx, p, a.ID, api.UpdateFormRequest{Form: form, Submit: true}); err != nil {
		t.Fatal(err)
	}
	// Materials, identity and payment are other tests' business: move the
	// application along as their providers would.
	for _, ev := range []apply.Event{apply.EvMaterialsComplete, apply.EvIdentityVerified} {
		if err := svc.SystemStep(ctx, a.ID, ev, "test"); err != nil {
			t.Fatalf("%s: %v", ev, err)
		}
	}
	// A payment only with its record: staff confirm a bank transfer.
	if _, err := svc.ConfirmTransfer(ctx, service.Operator("staff"), a.ID, "test"); err != nil {
		t.Fatal(err)
	}
	st.Close()

	code, out, errs := cli("", "review", "list")
	if code != 0 || !strings.Contains(out, a.ID) || !strings.Contains(out, "李喆") || !strings.Contains(out, "已缴费") {
		t.Fatalf("review list: %d %s %s", code, out, errs)
	}
	if code, _, errs := cli("", "review", "reject", a.ID); code != 2 || !strings.Contains(errs, "--reason") {
		t.Fatalf("reject without reason: %d %s", code, errs)
	}
	code, out, errs = cli("", "review", "reject", a.ID, "--reason", "授权委托书未盖章")
	if code != 0 || !strings.Contains(out, "审核未通过") || !strings.Contains(out, "授权委托书未盖章") || !strings.Contains(out, "工作人员:cli:") || strings.Contains(out, "resident") || !strings.Contains(out, "居民身份证") {
		t.Fatalf("reject: %d %s %s", code, out, errs)
	}
	if code, _, errs := cli("", "review", "approve", a.ID); code != 1 || !strings.Contains(errs, "不能执行此操作") {
		t.Fatalf("approve a rejected application: %d %s", code, errs)
	}
	code, out, _ = cli("", "outbox", "--application", a.ID)
	if code != 0 || !strings.Contains(out, "13900139000") || !strings.Contains(out, "退回原因:授权委托书未盖章") {
		t.Fatalf("outbox: %s", out)
	}
	if code, _, _ := cli("", "user", "disable", "13800138000"); code != 0 {
		t.Fatalf("disable: %d", code)
	}
	code, out, _ = cli("", "user", "list")
	if code != 0 || !strings.Contains(out, "true") {
		t.Fatalf("user list: %s", out)
	}

	// Every staff action above is in the chained audit log; an edited, a
	// removed or a cut-off entry is found.
	code, out, errs = cli("", "audit", "list")
	for _, want := range []string{"user.add_staff", "application.confirm_payment", "application.start_review", "application.reject", "user.disable", "授权委托书未盖章", "local"} {
		if code != 0 || !strings.Contains(out, want) {
			t.Fatalf("audit list lacks %q: %d %s %s", want, code, out, errs)
		}
	}
	if code, out, errs := cli("", "audit", "verify"); code != 0 || !strings.Contains(out, "audit log intact: 5 entries") {
		t.Fatalf("audit verify: %d %s %s", code, out, errs)
	}
	db, err := sql.Open("sqlite", filepath.Join(dir, "certdesk.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	// Each change is undone after it is found (the row put back as it was),
	// and the log verifies again.
	const cols = `seq, at, actor, addr, action, target, detail, prev_hash, hash`
	tamper := func(seq int, q, want string) {
		t.Helper()
		row := make([]any, 9)
		ptrs := make([]any, 9)
		for i := range row {
			ptrs[i] = &row[i]
		}
		if err := db.QueryRow(`SELECT `+cols+` FROM audit_log WHERE seq = ?`, seq).Scan(ptrs...); err != nil {
			t.Fatal(err)
		}
		if _, err := db.Exec(q); err != nil {
			t.Fatal(err)
		}
		if code, _, errs := cli("", "audit", "verify"); code != 1 || !strings.Contains(errs, "the audit log was altered") || !strings.Contains(errs, want) {
			t.Fatalf("after %s: %d %s", q, code, errs)
		}
		if _, err := db.Exec(`DELETE FROM audit_log WHERE seq = ?`, seq); err != nil {
			t.Fatal(err)
		}
		if _, err := db.Exec(`INSERT INTO audit_log (`+cols+`) VALUES (?,?,?,?,?,?,?,?,?)`, row...); err != nil {
			t.Fatal(err)
		}
		if code, _, errs := cli("", "audit", "verify"); code != 0 {
			t.Fatalf("restored after %s: %d %s", q, code, errs)
		}
	}
	tamper(4, `UPDATE audit_log SET detail = 'approve' WHERE seq = 4`, "entry 4: its content does not match its hash")
	tamper(4, `UPDATE audit_log SET actor = 'cli:someone-else' WHERE seq = 4`, "entry 4")
	tamper(5, `DELETE FROM audit_log WHERE seq = 5`, "cut off")
	tamper(2, `DELETE FROM audit_log WHERE seq = 2`, "entry 3: expected entry 2")
}

// config check names each problem's line and key in both languages and
// fails; a good file passes.
func TestConfigCheck(t *testing.T) {
	dir := t.TempDir()
	write := func(name, body string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	good := write("good.toml", "[server]\naddr = \"0.0.0.0:8443\"\n\n[invoice]\nseller_name = \"福建 CA\"\n\n[mail]\nhost = \"smtp.example.cn\"\nport = 587\nfrom = \"noreply@ca.example.cn\"\n")
	bad := write("bad.toml", "[server]\naddr = \"0.0.0.0:8443\"\n\n[mail]\nhost = \"smtp.example.cn\"\nprot = 587\nfrom = \"noreply@ca.example.cn\"\n")
	var out, errb bytes.Buffer
	if code := run(context.Background(), []string{"config", "check", good}, strings.NewReader(""), &out, &errb); code != 0 || !strings.Contains(out.String(), "配置正确") {
		t.Fatalf("good file: %d %s %s", code, out.String(), errb.String())
	}
	out.Reset()
	if code := run(context.Background(), []string{"config", "check", bad}, strings.NewReader(""), &out, &errb); code != 1 ||
		!strings.Contains(out.String(), "bad.toml: 第 6 行 / line 6: mail.prot: 没有这个设置项") || !strings.Contains(out.String(), "no such setting") {
		t.Fatalf("bad file: %d %q", code, out.String())
	}
}

// serve --no-migrate refuses a database whose schema is behind and names
// the command; migrate brings it up to date, once.
func TestMigrateBeforeInstances(t *testing.T) {
	ctx := context.Background()
	dir := filepath.Join(t.TempDir(), "data")
	var out, errb bytes.Buffer
	cctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if code := run(cctx, []string{"serve", "--insecure-http", "--addr", "127.0.0.1:0", "--no-migrate", "--data", dir}, strings.NewReader(""), &out, &errb); code != 1 ||
		!strings.Contains(errb.String(), "run certdesk-server migrate first") {
		t.Fatalf("serve --no-migrate on an empty database: %d %s", code, errb.String())
	}
	// The CA keys are made by the first migrate, so it wants the passphrase.
	t.Setenv("CERTDESK_CA_PASSPHRASE", "")
	if code := run(ctx, []string{"migrate", "--data", dir}, strings.NewReader(""), &out, &errb); code != 2 || !strings.Contains(errb.String(), "CERTDESK_CA_PASSPHRASE") {
		t.Fatalf("migrate without the CA passphrase: %d %s", code, errb.String())
	}
	t.Setenv("CERTDESK_CA_PASSPHRASE", "migrate-test-passphrase")
	for i := 0; i < 2; i++ {
		out.Reset()
		if code := run(ctx, []string{"migrate", "--data", dir}, strings.NewReader(""), &out, &errb); code != 0 || !strings.Contains(out.String(), "up to date") {
			t.Fatalf("migrate %d: %d %s %s", i, code, out.String(), errb.String())
		}
	}
	for _, f := range []string{"ca/issuing.crt", "ca/issuing.key", "secret.key"} {
		if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
			t.Fatalf("migrate made no %s: %v", f, err)
		}
	}
	// --schema-only makes no keys (an HSM's CA is made by serve).
	other := filepath.Join(t.TempDir(), "hsm")
	if code := run(ctx, []string{"migrate", "--schema-only", "--data", other}, strings.NewReader(""), &out, &errb); code != 0 {
		t.Fatalf("migrate --schema-only: %d %s", code, errb.String())
	}
	if _, err := os.Stat(filepath.Join(other, "ca")); err == nil {
		t.Fatal("migrate --schema-only made CA keys")
	}
	s, err := server.Start(ctx, server.Config{DataDir: dir, NoMigrate: true, CAPassphrase: "migrate-test-passphrase", Log: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatalf("an instance after migrate: %v", err)
	}
	s.Close()
}
