package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
	"time"

	"certdesk/app/api"
	"certdesk/app/apply"
	"certdesk/app/cliargs"
	"certdesk/app/client"
	"certdesk/app/holder"
	"certdesk/token"
)

const certUsage = `用法 / usage:
  certdesk cert renew [--module PATH] [--token SERIAL] [--cert SERIAL] [--wait 30m]
                      证书更新:标准输入依次为 UKEY 的 PIN、验证答案、(缴费后)短信验证码 /
                      renew: stdin lines: the UKEY's PIN, the security answer, then (once paid) the SMS code;
                      新证书装在同一把 UKEY,新证书验证无误后才删除旧证书;中断后再次运行即可继续 /
                      the new certificate goes onto the same UKEY, the old one is removed only after it
                      verifies; run again after an interruption to go on
`

func runCert(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] != "renew" {
		fmt.Fprint(stderr, certUsage)
		return exitUsage
	}
	fs := flag.NewFlagSet("cert", flag.ContinueOnError)
	fs.SetOutput(stderr)
	module := fs.String("module", "", "PKCS#11 module path")
	serial := fs.String("token", "", "UKEY serial")
	certSerial := fs.String("cert", "", "serial (hex) of the certificate to renew (default: the newest on the UKEY)")
	wait := fs.Duration("wait", 30*time.Minute, "how long to wait for the payment and the approval")
	if _, err := cliargs.Parse(fs, args[1:]); err != nil {
		return exitUsage
	}
	if err := certRenew(ctx, *module, *serial, *certSerial, *wait, stdin, stdout, stderr); err != nil {
		fmt.Fprintln(stderr, renewErrorText(err))
		return exitFail
	}
	return exitOK
}

var errNotPaid = errors.New("renewal not paid yet")

func certRenew(ctx context.Context, explicit, serial, certSerial string, wait time.Duration, stdin io.Reader, stdout, stderr io.Writer) error {
	in := lines{bufio.NewReader(stdin)}
	m, err := loadModule(explicit)
	if err != nil {
		return err
	}
	defer m.Close()
	t, err := m.Find(serial, "")
	if err != nil {
		return err
	}
	old, err := pickCert(m, t.Serial, certSerial)
	if err != nil {
		return err
	}
	fmt.Fprintf(stderr, "更新证书 / renewing %s (序列号 serial %s, 到期 ends %s)\n请输入 UKEY 的 PIN,然后输入验证答案 / the UKEY's PIN, then the security answer:\n",
		old.CommonName, old.Serial, old.NotAfter.Local().Format("2006-01-02"))
	pin, err1 := in.next()
	answer, err2 := in.next()
	defer clear(pin)
	if err1 != nil || err2 != nil {
		return errMissingLine
	}
	c, done, err := holderClient(ctx, warnLog(stderr))
	if err != nil {
		return err
	}
	defer done()
	if _, err := holder.LoginWithUKEY(ctx, c, m, t.Serial, old.Serial, bytes.Clone(pin), false); err != nil {
		return err
	}
	renewal, err := startRenewal(ctx, c, old.Serial, string(answer))
	if err != nil {
		return err
	}
	a, err := waitApproved(ctx, c, renewal, wait, stderr)
	if err != nil {
		return err
	}
	fmt.Fprintln(stderr, "已核准,下载验证码已发送到经办人手机,请输入 / approved: enter the SMS download code:")
	code, err := in.next()
	if err != nil {
		return errMissingLine
	}
	cert, err := installRenewal(ctx, c, m, t.Serial, a, string(code), bytes.Clone(pin))
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "证书已更新 / certificate renewed: %s, 序列号 serial %s, 有效期至 valid until %s\n",
		cert.Subject.CommonName, cert.SerialNumber.Text(16), cert.NotAfter.Local().Format("2006-01-02"))
	return nil
}

// pickCert is the certificate to renew on UKEY tokenSerial.
func pickCert(m *token.Module, tokenSerial, certSerial string) (holder.Cert, error) {
	certs, err := holder.List(m, time.Now())
	if err != nil {
		return holder.Cert{}, err
	}
	for _, c := range certs {
		if c.TokenSerial == tokenSerial && (certSerial == "" || strings.EqualFold(c.Serial, certSerial)) {
			return c, nil
		}
	}
	return holder.Cert{}, holder.ErrNoCertificate
}

// startRenewal starts the renewal of the certificate, or finds the one
// under way (a second run after an interruption).
func startRenewal(ctx context.Context, c *client.Client, certSerial, answer string) (string, error) {
	apps, err := c.Applications(ctx)
	if err != nil {
		return "", err
	}
	appID := ""
	for _, a := range apps {
		if a.CertSerial == certSerial {
			appID = a.ID
		}
	}
	if appID == "" {
		return "", errors.New("这张证书不在登录的账户下 / this certificate is not in the account")
	}
	rs, err := c.Renewals(ctx)
	if err != nil {
		return "", err
	}
	for _, r := range rs {
		if r.ApplicationID == appID && r.Successor != "" {
			return r.Successor, nil
		}
	}
	// The renewal's download may have ended the old application already.
	for _, a := range apps {
		if a.State == apply.StateApproved {
			if full, err := c.Application(ctx, a.ID); err == nil && full.Renews == appID && full.Renewal {
				return a.ID, nil
			}
		}
	}
	n, err := c.Renew(ctx, appID, answer)
	if err != nil {
		return "", err
	}
	return n.ID, nil
}

// waitApproved waits for the renewal's payment and approval, saying what
// is to be paid.
func waitApproved(ctx context.Context, c *client.Client, id string, wait time.Duration, stderr io.Writer) (*api.Application, error) {
	deadline := time.Now().Add(wait)
	told := false
	for {
		a, err := c.Application(ctx, id)
		if err != nil {
			return nil, err
		}
		if a.State == apply.StateApproved {
			return a, nil
		}
		if !told {
			fmt.Fprintf(stderr, "请缴纳证书更新费用 %s 元(在证书助手窗口扫码支付,或银行转账后由 CA 确认),申请编号 %s / pay the renewal fee of %s yuan (in the CertDesk window, or by bank transfer confirmed by the CA), application %s\n",
				apply.FormatFen(a.Fee.TotalFen), a.ID, apply.FormatFen(a.Fee.TotalFen), a.ID)
			told = true
		}
		if time.Now().After(deadline) {
			return nil, errNotPaid
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(2 * time.Second):
		}
	}
}

// installRenewal makes (or resumes) the renewal's key on the UKEY of the
// renewed certificate, downloads and installs the new certificate, checks
// it reads back and signs, and only then removes the renewed pair.
func installRenewal(ctx context.Context, c *client.Client, m *token.Module, tokenSerial string, a *api.Application, code string, pin []byte) (*x509.Certificate, error) {
	s, err := m.OpenLoggedIn(token.Ref{Serial: tokenSerial}, pin, false)
	if err != nil {
		return nil, err
	}
	defer s.Close()
	olds, err := s.Keys(a.Renews)
	if err != nil {
		return nil, err
	}
	cur, err := s.Keys(a.ID)
	if err != nil {
		return nil, err
	}
	if len(olds) == 0 && len(cur) == 0 {
		return nil, errors.New("这把 UKEY 中没有要更新的证书 / this UKEY does not hold the certificate being renewed")
	}
	k, _, err := s.KeyFor(a.ID, token.KeyAuto)
	if err != nil {
		return nil, err
	}
	csr, err := k.CSR("")
	if err != nil {
		return nil, err
	}
	b, err := c.Download(ctx, a.ID, api.DownloadRequest{CSR: csr, Code: code, TokenSerial: tokenSerial})
	if err != nil {
		return nil, err
	}
	cert, err := k.Install(b.Certificate)
	if err != nil {
		return nil, err
	}
	h := sha256.Sum256([]byte("CertDesk check " + a.ID))
	sig, err := k.Sign(rand.Reader, h[:], crypto.SHA256)
	if err != nil {
		return nil, err
	}
	if err := holder.CheckSignature(cert, h[:], sig); err != nil {
		return nil, err
	}
	for _, o := range olds {
		if err := o.Destroy(); err != nil {
			return nil, fmt.Errorf("remove the renewed certificate: %w", err)
		}
	}
	return cert, nil
}

func renewErrorText(err error) string {
	switch {
	case errors.Is(err, errNotPaid):
		return "还没有缴费或核准;缴费后再次运行 certdesk cert renew 即可继续 / not paid or approved yet: run certdesk cert renew again once paid"
	case errors.Is(err, holder.ErrCertNotOnUKEY):
		return "这把 UKEY 中没有这张证书的密钥 / this certificate's key is not on this UKEY"
	case errors.Is(err, errMissingLine):
		return "标准输入应依次给出:PIN、验证答案、短信验证码 / stdin lines: PIN, security answer, SMS code"
	}
	return unlockErrorText(err)
}
