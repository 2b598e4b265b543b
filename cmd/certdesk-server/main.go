// Command certdesk-server is the standalone enrollment server and the CA
// staff's command line: serve, review, user and outbox.
package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"certdesk/app/api"
	"certdesk/app/apply"
	"certdesk/app/cliargs"
	"certdesk/app/server"
	"certdesk/app/server/blob/s3blob"
	"certdesk/app/server/config"
	"certdesk/app/server/httpapi"
	"certdesk/app/server/outbox"
	"certdesk/app/server/service"
	"certdesk/app/server/store"
	"certdesk/token"
)

const usage = `certdesk-server — CertDesk enrollment server

  certdesk-server serve [--addr 127.0.0.1:8443] [--tls-cert F --tls-key F | --dev-tls] [--trust-proxy ADDR,CIDR…]
                       [--ca-passphrase-file F] [--public-url URL] [--dev-providers]
                       [--ca-pkcs11-module M --ca-token LABEL --ca-pin-file F]   (issuing CA key in an HSM)
                       [--unlock-needs-approval]   (UKEY PIN unlocks wait for staff: ukey pending / approve)
                       [--config FILE]   (server, invoice, mail and SMS settings in one TOML file)
  certdesk-server review list [--state S]... | show ID | approve ID | reject ID --reason TEXT
  certdesk-server review revoke ID --reason-code N [--reason TEXT]   (1 key compromise, 4 superseded, 5 ceased)
  certdesk-server payment confirm ID [--reason "bank slip no."]
  certdesk-server user add (--email E | --mobile M) [--staff --duties reviewer,finance,admin]   (password from CERTDESK_PASSWORD or stdin)
  certdesk-server user roles LOGIN --duties LIST   (a staff member's duties: reviewer, finance, admin)
  certdesk-server user list [--role applicant|staff] | disable LOGIN | enable LOGIN | passwd LOGIN
  certdesk-server user totp LOGIN   (a staff member's new authenticator secret, shown once; the old one stops)
  certdesk-server outbox [--application ID] [--limit N]
  certdesk-server ukey init --module M --label L [--slot N]   (first user PIN on stdin; a random SO PIN,
                       sealed under the CA's key-encryption key, never shown)
  certdesk-server ukey list [--json] | pending | approve UNLOCK-ID
  certdesk-server user audit LOGIN   (unlocks and holder revocations of the account)
  certdesk-server audit verify | list [--limit N]   (the hash-chained log of every staff action)
  certdesk-server policy approvals [1|2]   (how many reviewers approve an application; 2: two-person review)
  certdesk-server reasons list | add CODE --zh TEXT --en TEXT [--position N] | retire CODE
                       (the reasons a reviewer picks when returning a material)

  certdesk-server migrate   (applies schema changes once, before instances started with serve --no-migrate)
  certdesk-server config check FILE   (checks serve --config FILE: every problem with its line and key)

The staff review console is served at /staff/ by serve (and by the client's embedded server).

Common: --data DIR (default $CERTDESK_DATA or ./certdesk-data), --dsn postgres://… (default SQLite in DIR);
        the CA passphrase from $CERTDESK_CA_PASSPHRASE
`

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	os.Exit(run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}

type common struct {
	data, dsn, blobs string
}

func (c *common) flags(fs *flag.FlagSet) {
	def := os.Getenv("CERTDESK_DATA")
	if def == "" {
		def = "certdesk-data"
	}
	fs.StringVar(&c.data, "data", def, "data directory")
	fs.StringVar(&c.dsn, "dsn", os.Getenv("CERTDESK_DSN"), "PostgreSQL DSN (default: SQLite in the data directory)")
	fs.StringVar(&c.blobs, "blobs", os.Getenv("CERTDESK_BLOBS"), "material files: s3://bucket?endpoint=host:port (credentials in AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY; default: the data directory)")
}

func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	var err error
	switch args[0] {
	case "serve":
		err = serve(ctx, args[1:], log, stderr)
	case "review":
		err = review(ctx, args[1:], log, stdout, stderr)
	case "user":
		err = users(ctx, args[1:], stdin, log, stdout, stderr)
	case "outbox":
		err = outboxCmd(ctx, args[1:], log, stdout, stderr)
	case "ukey":
		err = ukeyCmd(ctx, args[1:], stdin, log, stdout, stderr)
	case "audit":
		err = auditCmd(ctx, args[1:], log, stdout, stderr)
	case "policy":
		err = policyCmd(ctx, args[1:], log, stdout, stderr)
	case "reasons":
		err = reasonsCmd(ctx, args[1:], log, stdout, stderr)
	case "config":
		err = configCmd(args[1:], stdout)
	case "migrate":
		err = migrateCmd(ctx, args[1:], stdout, stderr)
	case "payment":
		err = review(ctx, append([]string{"confirm-payment"}, args[2:]...), log, stdout, stderr)
		if len(args) < 2 || args[1] != "confirm" {
			err = usageError("payment: confirm ID")
		}
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return 0
	default:
		fmt.Fprintf(stderr, "unknown command %q\n%s", args[0], usage)
		return 2
	}
	var ue usageError
	switch {
	case err == nil:
		return 0
	case errors.As(err, &ue):
		fmt.Fprintf(stderr, "%v\n%s", err, usage)
		return 2
	}
	var ae *api.Error
	if errors.As(err, &ae) {
		fmt.Fprintf(stderr, "%s\n%s\n", ae.MessageZH, ae.MessageEN)
		for _, f := range ae.Fields {
			fmt.Fprintf(stderr, "  %s: %s / %s\n", f.Field, f.MessageZH, f.MessageEN)
		}
		return 1
	}
	fmt.Fprintln(stderr, err)
	return 1
}

// commandFlags is a command's flag set with the flags every command takes
// (data directory, database), its errors written to stderr.
func commandFlags(name string, stderr io.Writer) (*flag.FlagSet, *common) {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	c := &common{}
	c.flags(fs) // c is filled in by fs.Parse
	return fs, c
}

type usageError string

func (u usageError) Error() string { return string(u) }

func serve(ctx context.Context, args []string, log *slog.Logger, stderr io.Writer) error {
	fs, c := commandFlags("serve", stderr)
	addr := fs.String("addr", "127.0.0.1:8443", "listen address")
	cert := fs.String("tls-cert", "", "TLS certificate (PEM)")
	key := fs.String("tls-key", "", "TLS key (PEM)")
	devTLS := fs.Bool("dev-tls", false, "generate a self-signed TLS certificate in the data directory")
	plain := fs.Bool("insecure-http", false, "serve plain HTTP (loopback tests only)")
	proxy := fs.String("trust-proxy", "", "the CA's reverse proxies (addresses or CIDR ranges, comma-separated): from them, the client address is the rightmost X-Forwarded-For entry that is not a proxy")
	passFile := fs.String("ca-passphrase-file", "", "file holding the passphrase that encrypts the CA keys")
	publicURL := fs.String("public-url", "", "how clients reach this server (CRL URL, QR codes)")
	dev := fs.Bool("dev-providers", false, "development face-ID and payment sandbox (never for a real CA)")
	validityDays := fs.Int("validity-days", 365, "validity of issued certificates, in days")
	keyType := fs.String("ca-key-type", "rsa2048", "issuing CA key type when the CA is created: rsa2048 or p256")
	hsmModule := fs.String("ca-pkcs11-module", "", "PKCS#11 module of the HSM holding the issuing CA key")
	hsmToken := fs.String("ca-token", "", "HSM token label or serial")
	hsmPINFile := fs.String("ca-pin-file", "", "file holding the HSM user PIN")
	unlockApproval := fs.Bool("unlock-needs-approval", false, "every UKEY PIN unlock waits for a staff approval after the SMS code (certdesk-server ukey approve)")
	outboxLease := fs.Duration("outbox-lease", 0, "how long an instance holds the messages it took to send; a dead instance's are sent by another after that (default 1m)")
	noMigrate := fs.Bool("no-migrate", false, "leave the schema to certdesk-server migrate and refuse a database that is behind (several instances on one database)")
	configFile := fs.String("config", "", "the configuration file (TOML; certdesk-server config check F); flags given on the command line win")
	if _, err := cliargs.Parse(fs, args); err != nil {
		return usageError(err.Error())
	}
	var prov outbox.Provider
	var invoice service.InvoiceConfig
	var pay, wxpay service.PayProvider
	caPassEnv := ""
	var blobAccess, blobSecret string
	if *configFile != "" {
		f, err := config.Load(*configFile)
		if err != nil {
			return err
		}
		given := map[string]bool{}
		fs.Visit(func(fl *flag.Flag) { given[fl.Name] = true })
		set := func(name string, dst *string, v string) {
			if !given[name] && v != "" {
				*dst = v
			}
		}
		sv := f.Server
		set("addr", addr, sv.Addr)
		set("public-url", publicURL, sv.PublicURL)
		set("data", &c.data, sv.Data)
		set("blobs", &c.blobs, sv.Blobs)
		set("tls-cert", cert, sv.TLSCert)
		set("tls-key", key, sv.TLSKey)
		set("trust-proxy", proxy, strings.Join(sv.TrustProxy, ","))
		set("ca-passphrase-file", passFile, sv.CAPassphraseFile)
		if !given["dev-providers"] && sv.DevProviders {
			*dev = true
		}
		if dsn, err := config.Secret(sv.DSNFile, sv.DSNEnv); err != nil {
			return err
		} else {
			set("dsn", &c.dsn, dsn)
		}
		caPassEnv = sv.CAPassphraseEnv
		if sv.BlobsSecretFile != "" || sv.BlobsSecretEnv != "" {
			if blobSecret, err = config.Secret(sv.BlobsSecretFile, sv.BlobsSecretEnv); err != nil {
				return err
			}
			blobAccess = sv.BlobsAccessKey
		}
		if prov, err = f.Provider(log); err != nil {
			return err
		}
		invoice = service.InvoiceConfig{SellerName: f.Invoice.SellerName, SellerTax: f.Invoice.SellerTaxID, TaxRateBP: f.TaxRateBP()}
		if pay, err = f.Payment(); err != nil {
			return err
		}
		if wxpay, err = f.WeChatPay(); err != nil {
			return err
		}
	}
	if *cert == "" && !*devTLS && !*plain {
		return usageError("serve needs --tls-cert/--tls-key, --dev-tls, or --insecure-http")
	}
	pass := os.Getenv("CERTDESK_CA_PASSPHRASE")
	if caPassEnv != "" {
		pass = os.Getenv(caPassEnv)
	}
	if *passFile != "" {
		b, err := os.ReadFile(*passFile)
		if err != nil {
			return fmt.Errorf("CA passphrase: %w", err)
		}
		pass = strings.TrimRight(string(b), "\r\n")
	}
	proxies, err := httpapi.ParseProxies(*proxy)
	if err != nil {
		return usageError(err.Error())
	}
	var hsm *server.HSMConfig
	if *hsmModule != "" {
		pin, err := os.ReadFile(*hsmPINFile)
		if err != nil {
			return usageError("--ca-pkcs11-module needs --ca-pin-file: " + err.Error())
		}
		hsm = &server.HSMConfig{Module: *hsmModule, Token: *hsmToken, PIN: []byte(strings.TrimRight(string(pin), "\r\n")), KeyType: token.KeyType(*keyType)}
	}
	s, err := server.Start(ctx, server.Config{HSM: hsm, NoMigrate: *noMigrate, OutboxLease: *outboxLease, Addr: *addr, DataDir: c.data, DSN: c.dsn, Blobs: c.blobs, BlobsAccessKey: blobAccess, BlobsSecretKey: blobSecret, OpenS3: s3blob.Open, TLSCert: *cert, TLSKey: *key, DevTLS: *devTLS,
		Log: log, TrustedProxies: proxies, CAPassphrase: pass, PublicURL: *publicURL, DevProviders: *dev,
		CertValidity: time.Duration(*validityDays) * 24 * time.Hour, CAKeyType: *keyType, Provider: prov,
		Service: service.Config{UnlockApproval: *unlockApproval, Invoice: invoice, Pay: pay, WeChat: wxpay}})
	if err != nil {
		return err
	}
	fmt.Fprintln(stderr, "listening on", s.URL)
	<-ctx.Done()
	return s.Close()
}

// operator is the staff identity of the command line: history records the
// OS user who ran it.
func operator() service.Principal {
	name := "unknown"
	if u, err := user.Current(); err == nil {
		name = u.Username
	}
	return service.Operator("cli:" + name)
}

func open(ctx context.Context, c common, log *slog.Logger) (*store.Store, *service.Service, error) {
	// The CA passphrase opens the CA keys and the key-encryption key that
	// seals UKEY SO PINs (ukey init, unlock approvals).
	return server.Open(ctx, server.Config{DataDir: c.data, DSN: c.dsn, Blobs: c.blobs, OpenS3: s3blob.Open, Log: log, CAPassphrase: os.Getenv("CERTDESK_CA_PASSPHRASE")})
}

// openVerb parses a command whose first argument is a verb ("review
// list") and opens the store; no verb is a usage error saying which.
func openVerb(ctx context.Context, c *common, log *slog.Logger, fs *flag.FlagSet, args []string, verbs string) ([]string, *store.Store, *service.Service, error) {
	pos, err := cliargs.Parse(fs, args)
	if err != nil || len(pos) == 0 {
		return nil, nil, nil, usageError(verbs)
	}
	st, svc, err := open(ctx, *c, log)
	return pos, st, svc, err
}

func review(ctx context.Context, args []string, log *slog.Logger, stdout, stderr io.Writer) error {
	fs, c := commandFlags("review", stderr)
	var states stringList
	fs.Var(&states, "state", "state to list (repeatable; default: paid and under_review)")
	reason := fs.String("reason", "", "why the application is rejected (shown to the applicant)")
	reasonCode := fs.Int("reason-code", -1, "RFC 5280 revocation reason")
	asJSON := fs.Bool("json", false, "JSON output")
	pos, st, svc, err := openVerb(ctx, c, log, fs, args, "review: list, show, approve or reject")
	if err != nil {
		return err
	}
	defer st.Close()
	op := operator()
	switch pos[0] {
	case "list":
		ss := []apply.State{}
		for _, s := range states {
			ss = append(ss, apply.State(s))
		}
		if len(ss) == 0 {
			ss = []apply.State{apply.StatePaid, apply.StateUnderReview}
		}
		list, err := svc.StaffApplications(ctx, op, ss...)
		if err != nil {
			return err
		}
		if *asJSON {
			return json.NewEncoder(stdout).Encode(list)
		}
		tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "ID\t种类 KIND\t主体 SUBJECT\t用户名 USERNAME\t状态 STATE\t更新 UPDATED")
		for _, a := range list {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", a.ID, a.Kind.Label(apply.ZH), a.Subject, a.Username, a.State.Label(apply.ZH), a.UpdatedAt.Local().Format("2006-01-02 15:04"))
		}
		return tw.Flush()
	case "show", "approve", "reject", "revoke", "confirm-payment":
		if len(pos) != 2 {
			return usageError("review " + pos[0] + " needs an application ID")
		}
		var a *api.Application
		switch pos[0] {
		case "show":
			a, err = svc.Application(ctx, op, pos[1])
		case "approve":
			a, err = svc.Review(ctx, op, pos[1], api.ReviewRequest{Approve: true})
		case "revoke":
			if *reasonCode < 0 {
				return usageError("review revoke needs --reason-code (1 key compromise, 4 superseded, 5 cessation)")
			}
			a, err = svc.Revoke(ctx, op, pos[1], *reasonCode, *reason)
		case "confirm-payment":
			a, err = svc.ConfirmTransfer(ctx, op, pos[1], *reason)
		case "reject":
			if strings.TrimSpace(*reason) == "" {
				return usageError("review reject needs --reason: the applicant corrects the application from it")
			}
			a, err = svc.Review(ctx, op, pos[1], api.ReviewRequest{Approve: false, Reason: *reason})
		}
		if err != nil {
			return err
		}
		return printApplication(stdout, a, *asJSON)
	}
	return usageError("review: unknown subcommand " + pos[0])
}

func printApplication(w io.Writer, a *api.Application, asJSON bool) error {
	if asJSON {
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(a)
	}
	fmt.Fprintf(w, "%s  %s  %s\n", a.ID, a.Kind.Label(apply.ZH), a.State.Label(apply.ZH))
	for _, f := range apply.Schema(a.Kind) {
		if v := a.Form[f.Key]; v != "" && f.Type != apply.TypeSecret {
			fmt.Fprintf(w, "  %-12s %s\n", f.Label.ZH, f.Display(v, apply.ZH))
		}
	}
	if a.RejectReason != "" {
		fmt.Fprintf(w, "  退回原因     %s\n", a.RejectReason)
	}
	fmt.Fprintf(w, "  材料 %d 份:\n", len(a.Materials))
	for _, m := range a.Materials {
		fmt.Fprintf(w, "    %-18s %d×%d %.0f DPI %d KB sha256:%s\n", m.Type.Label(apply.ZH), m.Width, m.Height, m.DPI, m.Bytes/1024, m.SHA256[:12])
	}
	fmt.Fprintln(w, "  历史:")
	for _, h := range a.History {
		fmt.Fprintf(w, "    %s  %s(%s → %s)%s:%s %s\n", h.At.Local().Format("2006-01-02 15:04:05"), h.Describe(apply.ZH), h.From.Label(apply.ZH), h.To.Label(apply.ZH), actorLabel(h.Actor), h.ActorID, h.Note)
	}
	return nil
}

func actorLabel(a apply.Actor) string {
	switch a {
	case apply.ActorApplicant:
		return "申请人"
	case apply.ActorStaff:
		return "工作人员"
	case apply.ActorSystem:
		return "系统"
	}
	return string(a)
}

type stringList []string

func (s *stringList) String() string     { return strings.Join(*s, ",") }
func (s *stringList) Set(v string) error { *s = append(*s, v); return nil }

func readPassword(stdin io.Reader) (string, error) {
	if p := os.Getenv("CERTDESK_PASSWORD"); p != "" {
		return p, nil
	}
	line, err := bufio.NewReader(stdin).ReadString('\n')
	if err != nil && line == "" {
		return "", usageError("give the password on stdin or in CERTDESK_PASSWORD (never as an argument)")
	}
	return strings.TrimRight(line, "\r\n"), nil
}

func users(ctx context.Context, args []string, stdin io.Reader, log *slog.Logger, stdout, stderr io.Writer) error {
	fs, c := commandFlags("user", stderr)
	email := fs.String("email", "", "login email")
	mobile := fs.String("mobile", "", "login mobile")
	isStaff := fs.Bool("staff", false, "a CA staff account")
	duties := fs.String("duties", "", "staff: duties, comma-separated: reviewer, finance, admin (add, roles)")
	role := fs.String("role", "", "list only this role")
	pos, st, svc, err := openVerb(ctx, c, log, fs, args, "user: add, list, disable, enable, passwd, roles, totp or audit")
	if err != nil {
		return err
	}
	defer st.Close()
	switch pos[0] {
	case "add":
		pw, err := readPassword(stdin)
		if err != nil {
			return err
		}
		req := api.RegisterRequest{Email: *email, Mobile: *mobile, Password: pw}
		var acc *api.Account
		url := ""
		if *isStaff {
			rs, rerr := service.ParseStaffRoles(*duties)
			if rerr != nil || *duties == "" {
				return usageError("user add --staff needs --duties reviewer, finance and/or admin")
			}
			acc, url, err = svc.CreateStaff(ctx, req, rs)
		} else {
			acc, err = svc.Register(ctx, req)
		}
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "created %s account %s (%s%s)\n", acc.Role, acc.ID, acc.Mobile, acc.Email)
		if url != "" {
			printTOTP(stdout, url)
			return svc.LogStaff(ctx, operator(), "user.add_staff", acc.ID, "duties "+*duties)
		}
		return nil
	case "list":
		as, err := st.ListAccounts(ctx, *role)
		if err != nil {
			return err
		}
		tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "ID\tROLE\tMOBILE\tEMAIL\tDISABLED\tCREATED")
		for _, a := range as {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%v\t%s\n", a.ID, a.Role, a.Mobile, a.Email, a.Disabled, a.CreatedAt.Local().Format("2006-01-02 15:04"))
		}
		return tw.Flush()
	case "roles":
		rs, err := service.ParseStaffRoles(*duties)
		if err != nil || *duties == "" {
			return usageError("user roles needs --duties reviewer, finance and/or admin")
		}
		a, err := accountArg(ctx, st, pos)
		if err != nil {
			return err
		}
		if api.Role(a.Role) != api.RoleStaff {
			return fmt.Errorf("%s is not a staff account", pos[1])
		}
		list := make([]string, len(rs))
		for i, r := range rs {
			list[i] = string(r)
		}
		if err := st.SetStaffRoles(ctx, a.ID, strings.Join(list, ",")); err != nil {
			return err
		}
		return svc.LogStaff(ctx, operator(), "user.duties", a.ID, strings.Join(list, ","))
	case "totp":
		a, err := accountArg(ctx, st, pos)
		if err != nil {
			return err
		}
		url, err := svc.EnrolTOTP(ctx, a.ID)
		if err != nil {
			return err
		}
		printTOTP(stdout, url)
		return svc.LogStaff(ctx, operator(), "user.totp", a.ID, "authenticator replaced")
	case "audit":
		a, err := accountArg(ctx, st, pos)
		if err != nil {
			return err
		}
		es, err := svc.Audit(ctx, service.Principal{AccountID: a.ID, Role: api.Role(a.Role)})
		if err != nil {
			return err
		}
		for _, e := range es {
			fmt.Fprintf(stdout, "%s  %-10s %-26s %s\n", e.At.Local().Format("2006-01-02 15:04:05"), e.Actor, e.Event, e.Detail)
		}
		return nil
	case "disable", "enable", "passwd":
		a, err := accountArg(ctx, st, pos)
		if err != nil {
			return err
		}
		if pos[0] == "passwd" {
			pw, err := readPassword(stdin)
			if err != nil {
				return err
			}
			if err := svc.SetPassword(ctx, a.ID, pw); err != nil {
				return err
			}
			return svc.LogStaff(ctx, operator(), "user.passwd", a.ID, "password set")
		}
		if err := st.InTx(ctx, func(tx *store.Tx) error { return tx.SetDisabled(ctx, a.ID, pos[0] == "disable") }); err != nil {
			return err
		}
		return svc.LogStaff(ctx, operator(), "user."+pos[0], a.ID, "")
	}
	return usageError("user: unknown subcommand " + pos[0])
}

// auditCmd checks or lists the staff audit log.
func auditCmd(ctx context.Context, args []string, log *slog.Logger, stdout, stderr io.Writer) error {
	fs, c := commandFlags("audit", stderr)
	limit := fs.Int("limit", 100, "list: how many, newest last")
	pos, st, svc, err := openVerb(ctx, c, log, fs, args, "audit: verify or list")
	if err != nil {
		return err
	}
	defer st.Close()
	switch pos[0] {
	case "verify":
		n, err := svc.VerifyAudit(ctx)
		var p *service.AuditProblem
		if errors.As(err, &p) {
			return fmt.Errorf("审计日志被改动过 / the audit log was altered: %w", err)
		}
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "审计日志完整 / audit log intact: %d entries, chain verified\n", n)
		return nil
	case "list":
		var rows []*store.StaffAction
		if _, _, err := st.StaffActions(ctx, func(a *store.StaffAction) error {
			rows = append(rows, a)
			if len(rows) > *limit {
				rows = rows[1:]
			}
			return nil
		}); err != nil {
			return err
		}
		for _, a := range rows {
			fmt.Fprintf(stdout, "%6d  %s  %-22s %-18s %-26s %s  %s\n", a.Seq, a.At.Local().Format("2006-01-02 15:04:05"), a.Actor, a.Addr, a.Action, a.Target, a.Detail)
		}
		return nil
	}
	return usageError("audit: verify or list")
}

// accountArg is the account a "user VERB LOGIN" command names.
func accountArg(ctx context.Context, st *store.Store, pos []string) (*store.Account, error) {
	if len(pos) != 2 {
		return nil, usageError("user " + pos[0] + " needs a login name")
	}
	a, err := st.AccountByLogin(ctx, pos[1])
	if err != nil {
		return nil, fmt.Errorf("account %s: %w", pos[1], err)
	}
	return a, nil
}

// printTOTP shows a staff member's authenticator enrolment, once: the
// otpauth:// URL every authenticator app reads (as a QR code or typed).
func printTOTP(w io.Writer, url string) {
	fmt.Fprintf(w, "员工登录需要动态验证码:请在认证器 App(如 Microsoft/Google Authenticator)中添加下面的地址(只显示这一次)\n"+
		"staff log in with an authenticator code: add this to an authenticator app (shown this once)\n%s\n", url)
}

func outboxCmd(ctx context.Context, args []string, log *slog.Logger, stdout, stderr io.Writer) error {
	fs, c := commandFlags("outbox", stderr)
	app := fs.String("application", "", "only this application's messages")
	limit := fs.Int("limit", 50, "how many, newest first")
	if _, err := cliargs.Parse(fs, args); err != nil {
		return usageError(err.Error())
	}
	st, _, err := open(ctx, *c, log)
	if err != nil {
		return err
	}
	defer st.Close()
	msgs, err := st.Messages(ctx, *app, *limit)
	if err != nil {
		return err
	}
	for _, m := range msgs {
		status := "pending"
		if !m.SentAt.IsZero() {
			status = "sent " + m.SentAt.Local().Format("15:04:05")
		} else if m.LastError != "" {
			status = fmt.Sprintf("retry #%d: %s", m.Attempts, m.LastError)
		}
		fmt.Fprintf(stdout, "%s  %-5s to %s  [%s]  %s\n    %s\n", m.CreatedAt.Local().Format("2006-01-02 15:04:05"), m.Channel, m.Recipient, status, m.ApplicationID, m.Body)
	}
	return nil
}

func policyCmd(ctx context.Context, args []string, log *slog.Logger, stdout, stderr io.Writer) error {
	fs, c := commandFlags("policy", stderr)
	pos, st, svc, err := openVerb(ctx, c, log, fs, args, "policy: approvals [1|2]")
	if err != nil {
		return err
	}
	defer st.Close()
	if pos[0] != "approvals" || len(pos) > 2 {
		return usageError("policy: approvals [1|2]")
	}
	if len(pos) == 2 {
		n, err := strconv.Atoi(pos[1])
		if err != nil {
			return usageError("policy approvals takes 1 or 2")
		}
		if err := svc.SetApprovals(ctx, operator(), n); err != nil {
			return err
		}
	}
	fmt.Fprintf(stdout, "每个申请需 %d 位审核员批准 / approvals per application: %d\n", svc.ApprovalsNeeded(ctx), svc.ApprovalsNeeded(ctx))
	return nil
}

func reasonsCmd(ctx context.Context, args []string, log *slog.Logger, stdout, stderr io.Writer) error {
	fs, c := commandFlags("reasons", stderr)
	zh := fs.String("zh", "", "the reason in Chinese (shown to the applicant)")
	en := fs.String("en", "", "the reason in English")
	position := fs.Int("position", 100, "order in the list")
	pos, st, svc, err := openVerb(ctx, c, log, fs, args, "reasons: list, add or retire")
	if err != nil {
		return err
	}
	defer st.Close()
	op := operator()
	switch {
	case pos[0] == "list" && len(pos) == 1:
		rs, err := svc.RejectReasons(ctx, op)
		if err != nil {
			return err
		}
		for _, r := range rs {
			fmt.Fprintf(stdout, "%-12s %s / %s\n", r.Code, r.Text.ZH, r.Text.EN)
		}
		return nil
	case pos[0] == "add" && len(pos) == 2:
		return svc.SaveRejectReason(ctx, op, api.RejectReason{Code: pos[1], Text: apply.Text{ZH: *zh, EN: *en}}, *position, false)
	case pos[0] == "retire" && len(pos) == 2:
		rs, err := svc.RejectReasons(ctx, op)
		if err != nil {
			return err
		}
		for _, r := range rs {
			if r.Code == pos[1] {
				return svc.SaveRejectReason(ctx, op, r, 0, true)
			}
		}
		return fmt.Errorf("没有该原因 / no such reason: %s", pos[1])
	}
	return usageError("reasons: list, add CODE --zh TEXT --en TEXT, or retire CODE")
}

func configCmd(args []string, stdout io.Writer) error {
	if len(args) != 2 || args[0] != "check" {
		return usageError("config: check FILE")
	}
	if _, err := config.Load(args[1]); err != nil {
		var ps config.Problems
		if errors.As(err, &ps) {
			for _, p := range ps {
				fmt.Fprintf(stdout, "%s: %s\n", args[1], p)
			}
			return fmt.Errorf("配置文件有 %d 处问题 / the configuration has %d problems", len(ps), len(ps))
		}
		return err
	}
	fmt.Fprintf(stdout, "%s: 配置正确 / the configuration is valid\n", args[1])
	return nil
}

func migrateCmd(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs, c := commandFlags("migrate", stderr)
	schemaOnly := fs.Bool("schema-only", false, "apply schema changes only; make no CA keys (the CA key is in an HSM: the first serve with --ca-pkcs11-module makes ca/)")
	if pos, err := cliargs.Parse(fs, args); err != nil || len(pos) > 0 {
		return usageError("migrate takes no arguments but --data / --dsn / --blobs / --schema-only")
	}
	dsn := c.dsn
	if dsn == "" {
		if err := os.MkdirAll(c.data, 0o700); err != nil {
			return err
		}
		dsn = filepath.Join(c.data, "certdesk.db")
	}
	st, err := store.Open(ctx, dsn)
	if err != nil {
		return err
	}
	st.Close()
	fmt.Fprintln(stdout, "数据库结构已是最新 / the schema is up to date")
	if *schemaOnly {
		return nil
	}
	// The first time, make what every instance must share: the CA keys
	// (encrypted by the CA passphrase) and the server's MAC key. Existing
	// ones are left alone (opening them would need the passphrase, or the
	// HSM, for nothing).
	if _, err := os.Stat(filepath.Join(c.data, "ca", "issuing.crt")); errors.Is(err, os.ErrNotExist) {
		if os.Getenv("CERTDESK_CA_PASSPHRASE") == "" {
			return usageError("migrate makes the CA keys the first time: set CERTDESK_CA_PASSPHRASE (or use --schema-only)")
		}
		log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
		st, _, err := open(ctx, *c, log)
		if err != nil {
			return err
		}
		st.Close()
	}
	fmt.Fprintf(stdout, "各实例须使用相同的 CA 密钥与服务器密钥:%s 与 %s / every instance needs the same CA keys and server key: %[1]s and %[2]s\n",
		filepath.Join(c.data, "ca"), filepath.Join(c.data, "secret.key"))
	return nil
}
