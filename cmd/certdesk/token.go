package main

import (
	"bufio"
	"bytes"
	"certdesk/app/diag"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/big"
	"strings"
	"time"

	"certdesk/app/cliargs"
	"certdesk/app/holder"
	"certdesk/token"
)

const tokenUsage = `用法 / usage:
  certdesk token list [--module PATH] [--json]        模块、UKEY、状态、证书 / modules, tokens, flags, certificates (no PIN)
  certdesk token test [--module PATH] [--token SERIAL] [--key p256|rsa2048]
                      PIN 从标准输入读取 / PIN read from stdin: login, key generation, CSR,
                      certificate install and read-back, sign/verify, then clean up
                      (--keep leaves the test key and certificate for inspection)
  certdesk token change-pin [--module PATH] [--token SERIAL] [--final-try]
                      旧 PIN 与新 PIN 各一行从标准输入读取 / old and new PIN as two lines on stdin;
                      新 PIN 6–16 位、不能全部相同、不能与旧 PIN 相同 / new PIN: 6–16 characters,
                      not one repeated, not the old one (--final-try: spend the UKEY's last try)
  certdesk token show [--module PATH] [--json] [--offline]
                      每把 UKEY 中的证书及 CA 的状态 / every certificate on every UKEY, with the CA's status
  certdesk token unlock --login 手机号或邮箱 [--module PATH] [--token SERIAL] [--wait 10m]
                      解锁被锁定的 PIN;标准输入依次为登录密码、短信验证码、新 PIN、再次新 PIN /
                      unlock a locked PIN; stdin lines: password, SMS code, new PIN, new PIN again
`

func runToken(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, tokenUsage)
		return exitUsage
	}
	fs := flag.NewFlagSet("token", flag.ContinueOnError)
	fs.SetOutput(stderr)
	module := fs.String("module", "", "PKCS#11 module path")
	asJSON := fs.Bool("json", false, "JSON output")
	serial := fs.String("token", "", "token serial (or label) to use")
	keyType := fs.String("key", "", "key type for the test: p256 or rsa2048 (default: what the token supports)")
	keep := fs.Bool("keep", false, "leave the test key and certificate on the token, to inspect them with other tools")
	finalTry := fs.Bool("final-try", false, "change-pin: use the UKEY's last PIN try")
	offline := fs.Bool("offline", false, "show: do not ask the server for the certificates' status")
	login := fs.String("login", "", "unlock: the account (mobile or e-mail) that applied for the certificate")
	wait := fs.Duration("wait", 10*time.Minute, "unlock: how long to wait for the CA's approval")
	if _, err := cliargs.Parse(fs, args[1:]); err != nil {
		return exitUsage
	}
	switch args[0] {
	case "list":
		return tokenList(*module, *asJSON, stdout, stderr)
	case "test":
		return tokenTest(*module, *serial, token.KeyType(*keyType), *keep, stdin, stdout, stderr)
	case "change-pin":
		return tokenChangePIN(*module, *serial, *finalTry, stdin, stdout, stderr)
	case "show":
		return tokenShow(ctx, *module, *asJSON, *offline, stdout, stderr)
	case "unlock":
		return tokenUnlock(ctx, *module, *serial, *login, *wait, stdin, stdout, stderr)
	}
	fmt.Fprint(stderr, tokenUsage)
	return exitUsage
}

func moduleCandidates(explicit string) []string { return token.Discover(explicit) }

// ModuleReport is one module in `certdesk token list --json` (the same
// report `certdesk diag` makes).
type ModuleReport = diag.ModuleReport

// inspectModules loads every candidate module that exists and reports its
// tokens and certificates; no PIN is needed.
func inspectModules(explicit string) []ModuleReport {
	return diag.InspectModules(moduleCandidates(explicit), time.Now())
}

// writeJSON is the --json output of a command: indented, one value.
func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

func tokenList(explicit string, asJSON bool, stdout, stderr io.Writer) int {
	reports := inspectModules(explicit)
	if asJSON {
		if err := writeJSON(stdout, reports); err != nil {
			fmt.Fprintln(stderr, err)
			return exitFail
		}
	} else {
		if len(reports) == 0 {
			fmt.Fprintln(stdout, "未找到 PKCS#11 模块:请安装 UKEY 驱动,或用 --module 指定 / no PKCS#11 module found: install the UKEY driver or pass --module")
		}
		for _, r := range reports {
			fmt.Fprintf(stdout, "模块 module: %s\n", r.Path)
			if r.Info != nil {
				fmt.Fprintf(stdout, "  %s, %s %s, Cryptoki %s\n", r.Info.Manufacturer, r.Info.Library, r.Info.LibraryVersion, r.Info.Cryptoki)
			}
			if r.Error != "" {
				fmt.Fprintf(stdout, "  错误 error: %s\n", r.Error)
			}
			if r.Error == "" && len(r.Tokens) == 0 {
				fmt.Fprintln(stdout, "  没有插入 UKEY / no UKEY present")
			}
			for _, t := range r.Tokens {
				fmt.Fprintf(stdout, "  UKEY %q serial %s model %s (%s)\n", t.Label, t.Serial, t.Model, t.Manufacturer)
				fmt.Fprintf(stdout, "    flags: login required %v, PIN count low %v, final try %v, locked %v, to change %v\n",
					t.Flags.LoginRequired, t.Flags.PINCountLow, t.Flags.PINFinalTry, t.Flags.PINLocked, t.Flags.PINToChange)
				fmt.Fprintf(stdout, "    mechanisms: %s\n", strings.Join(t.Mechanisms, " "))
				for _, c := range t.Certificates {
					state := "有效 valid"
					if c.Expired {
						state = "已过期 EXPIRED"
					}
					fmt.Fprintf(stdout, "    证书 certificate: %s, serial %s, until %s (%s)\n", c.Subject, c.Serial, c.NotAfter.Format("2006-01-02"), state)
				}
			}
		}
	}
	for _, r := range reports {
		if r.Error != "" {
			return exitFail
		}
	}
	return exitOK
}

// pinRuleText words a refused new PIN, Chinese then English.
var pinRuleText = map[token.PINRule]string{
	token.PINLength: "新 PIN 应为 6–16 位 / the new PIN must have 6 to 16 characters",
	token.PINSame:   "新 PIN 不能全部是同一个字符 / the new PIN must not be one character repeated",
	token.PINOld:    "新 PIN 不能与旧 PIN 相同 / the new PIN must differ from the old one",
	token.PINASCII:  "新 PIN 只能用字母、数字和英文符号,不能有空格或中文 / the new PIN may hold letters, digits and ASCII symbols only",
}

// pinRefused says on stderr which PIN rule a new PIN breaks, if one does.
func pinRefused(stderr io.Writer, old, pin []byte) bool {
	var re *token.PINRuleError
	if err := token.CheckNewPIN(old, pin); errors.As(err, &re) {
		fmt.Fprintln(stderr, pinRuleText[re.Rule])
		return true
	}
	return false
}

// tokenChangePIN changes the UKEY's user PIN: the old and the new PIN as
// two lines on stdin, the new one checked against the PIN rules first.
// Neither is echoed, logged or kept past the call.
func tokenChangePIN(explicit, ref string, finalTry bool, stdin io.Reader, stdout, stderr io.Writer) int {
	br := bufio.NewReader(stdin)
	old, err1 := readPIN(br)
	pin, err2 := readPIN(br)
	defer clear(old)
	defer clear(pin)
	if err1 != nil || err2 != nil {
		fmt.Fprintln(stderr, "请在标准输入给出旧 PIN 和新 PIN,各占一行 / give the old and the new PIN on stdin, one line each")
		return exitUsage
	}
	if pinRefused(stderr, old, pin) {
		return exitUsage
	}
	m, err := loadModule(explicit)
	if err != nil {
		fmt.Fprintln(stderr, pinErrorText(err))
		return exitFail
	}
	defer m.Close()
	if err := holder.ChangePIN(m, token.Ref{Serial: ref, Label: ref}, bytes.Clone(old), bytes.Clone(pin), finalTry); err != nil {
		fmt.Fprintln(stderr, pinErrorText(err))
		return exitFail
	}
	fmt.Fprintln(stdout, "PIN 已修改 / PIN changed")
	return exitOK
}

// pinErrorText words a token error of a PIN operation, Chinese then
// English.
func pinErrorText(err error) string {
	var pe *token.PINError
	switch {
	case errors.As(err, &pe) && pe.FinalTry:
		return "旧 PIN 不正确,只剩最后一次机会;确认无误后加 --final-try 再试 / wrong old PIN; one try is left: add --final-try when sure"
	case errors.As(err, &pe):
		return "旧 PIN 不正确 / wrong old PIN"
	case errors.Is(err, token.ErrPINFinalTry):
		return "只剩最后一次机会,再输错 UKEY 将被锁定;确认无误后加 --final-try / one PIN try is left; add --final-try when sure"
	case errors.Is(err, token.ErrPINLocked):
		return "UKEY 已锁定,请联系 CA 客服解锁 / the UKEY's PIN is locked: ask the CA to unlock it"
	case errors.Is(err, token.ErrNoToken), errors.Is(err, token.ErrTokenRemoved):
		return "没有检测到 UKEY / no UKEY found"
	}
	return err.Error()
}

func readPIN(stdin io.Reader) ([]byte, error) {
	line, err := bufio.NewReader(stdin).ReadBytes('\n')
	if err != nil && len(line) == 0 {
		return nil, errors.New("give the PIN on standard input")
	}
	for len(line) > 0 && (line[len(line)-1] == '\n' || line[len(line)-1] == '\r') {
		line = line[:len(line)-1]
	}
	return line, nil
}

// tokenTest is the support self-test: the enrolment path without the
// server. It logs in, generates a key, signs a CSR, installs a certificate
// issued from it by a throwaway in-memory CA, reads it back, signs and
// verifies, then removes what it made.
func tokenTest(explicit, which string, kt token.KeyType, keep bool, stdin io.Reader, stdout, stderr io.Writer) int {
	step := func(name string, start time.Time, err error) bool {
		if err != nil {
			fmt.Fprintf(stdout, "✗ %-22s %v\n", name, err)
			return false
		}
		fmt.Fprintf(stdout, "✓ %-22s %6.1f ms\n", name, float64(time.Since(start).Microseconds())/1000)
		return true
	}
	path, err := token.Find(moduleCandidates(explicit))
	if err != nil {
		fmt.Fprintln(stderr, err)
		return exitFail
	}
	t0 := time.Now()
	m, err := token.Load(path)
	if !step("load module", t0, err) {
		return exitFail
	}
	defer m.Close()
	tok, err := m.Find(which, "")
	if err != nil && which != "" {
		tok, err = m.Find("", which)
	}
	if !step("find UKEY", t0, err) {
		return exitFail
	}
	pin, err := readPIN(stdin)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return exitUsage
	}
	t0 = time.Now()
	s, err := m.OpenLoggedIn(token.Ref{Serial: tok.Serial}, pin, false) // clears pin
	if err == nil {
		defer s.Close()
	}
	var pe *token.PINError
	if errors.As(err, &pe) {
		err = fmt.Errorf("PIN 不正确 / wrong PIN (tries low %v, final try %v)", pe.CountLow, pe.FinalTry)
	}
	if !step("open session and login", t0, err) {
		return exitFail
	}
	t0 = time.Now()
	k, err := s.GenerateKey(fmt.Sprintf("selftest-%d", time.Now().UnixNano()), kt)
	if !step("generate key", t0, err) {
		return exitFail
	}
	if keep {
		fmt.Fprintf(stdout, "  key and certificate kept: label %s, id %x\n", k.Label, k.ID)
	} else {
		defer func() {
			if err := k.Destroy(); err != nil {
				fmt.Fprintf(stderr, "  the test key could not be removed (label %s): %v\n", k.Label, err)
			}
		}()
	}
	t0 = time.Now()
	csrDER, err := k.CSR("CertDesk self-test")
	if !step("sign CSR", t0, err) {
		return exitFail
	}
	t0 = time.Now()
	certDER, err := selfTestCert(csrDER)
	if err == nil {
		_, err = k.Install(certDER)
	}
	if !step("install certificate", t0, err) {
		return exitFail
	}
	t0 = time.Now()
	h := sha256.Sum256([]byte("CertDesk self-test"))
	sig, err := k.Sign(rand.Reader, h[:], crypto.SHA256)
	if err == nil {
		switch pub := k.Public().(type) {
		case *ecdsa.PublicKey:
			if !ecdsa.VerifyASN1(pub, h[:], sig) {
				err = errors.New("signature does not verify")
			}
		case *rsa.PublicKey:
			err = rsa.VerifyPKCS1v15(pub, crypto.SHA256, h[:], sig)
		}
	}
	if !step("sign and verify", t0, err) {
		return exitFail
	}
	fmt.Fprintln(stdout, "UKEY 工作正常 / the UKEY works")
	return exitOK
}

// selfTestCert issues a certificate for the CSR's key from a CA that
// exists only in memory for this test.
func selfTestCert(csrDER []byte) ([]byte, error) {
	csr, err := x509.ParseCertificateRequest(csrDER)
	if err != nil {
		return nil, err
	}
	if err := csr.CheckSignature(); err != nil {
		return nil, fmt.Errorf("the CSR signed on the UKEY does not verify: %w", err)
	}
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	ca := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "CertDesk self-test CA"}, IsCA: true, BasicConstraintsValid: true,
		NotBefore: time.Now().Add(-time.Minute), NotAfter: time.Now().Add(time.Hour), KeyUsage: x509.KeyUsageCertSign}
	sn, _ := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 64))
	tmpl := &x509.Certificate{SerialNumber: sn, Subject: csr.Subject, NotBefore: time.Now().Add(-time.Minute), NotAfter: time.Now().Add(time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature}
	return x509.CreateCertificate(rand.Reader, tmpl, ca, csr.PublicKey, caKey)
}
