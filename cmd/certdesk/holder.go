package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"time"

	"certdesk/app/api"
	"certdesk/app/client"
	"certdesk/app/holder"
	"certdesk/token"
)

// The holder's tools without a window, for support staff: the
// certificates on the UKEYs with the CA's word on them, and a PIN unlock.

// holderClient reaches the server the window would use (CERTDESK_SERVER,
// the remembered --server, else the embedded one, started here).
func holderClient(ctx context.Context, log *slog.Logger) (*client.Client, func(), error) {
	dir, err := dataDir()
	if err != nil {
		return nil, nil, err
	}
	url, err := chooseServer(ctx, dir, "")
	if err != nil {
		return nil, nil, err
	}
	be, err := startBackend(ctx, url, dir, log)
	if err != nil {
		return nil, nil, err
	}
	c, err := client.New(client.Config{BaseURL: be.URL, Log: log, Retries: 2})
	if err != nil {
		be.Close()
		return nil, nil, err
	}
	return c, func() { be.Close() }, nil
}

func warnLog(stderr io.Writer) *slog.Logger {
	return slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
}

var statusText = map[string]string{
	api.CertValid:    "有效 valid",
	api.CertExpiring: "即将到期,请更新 expiring: renew",
	api.CertExpired:  "已过期 expired",
	api.CertRevoked:  "已吊销 revoked",
	api.CertUnknown:  "非本 CA 签发 not issued by this CA",
}

// tokenShow lists every certificate on every UKEY with what the CA says.
func tokenShow(ctx context.Context, explicit string, asJSON, offline bool, stdout, stderr io.Writer) int {
	m, err := loadModule(explicit)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return exitFail
	}
	defer m.Close()
	certs, err := holder.List(m, time.Now())
	if err != nil {
		fmt.Fprintln(stderr, err)
		return exitFail
	}
	if !offline && len(certs) > 0 {
		c, done, err := holderClient(ctx, warnLog(stderr))
		if err != nil {
			fmt.Fprintln(stderr, "无法连接服务器,不显示证书状态 / cannot reach the server; no status shown:", err)
		} else {
			certs = holder.WithStatus(ctx, c, certs)
			done()
		}
	}
	if asJSON {
		if certs == nil {
			certs = []holder.Cert{}
		}
		if err := writeJSON(stdout, certs); err != nil {
			fmt.Fprintln(stderr, err)
			return exitFail
		}
		return exitOK
	}
	if len(certs) == 0 {
		fmt.Fprintln(stdout, "UKEY 中没有证书 / no certificate on the UKEYs")
	}
	for _, c := range certs {
		status := statusText[c.Status]
		if c.Status == "" {
			status = "未知(无法连接服务器) unknown (server not reached)"
		}
		fmt.Fprintf(stdout, "UKEY %s (%s)\n  使用者 subject: %s\n  颁发者 issuer:  %s\n  序列号 serial:  %s\n  有效期 valid:   %s – %s(剩余 %d 天 / %d days left)\n  密钥 key:       %s\n  状态 status:    %s\n  SHA-256:        %s\n",
			c.TokenSerial, c.TokenLabel, c.Subject, c.Issuer, c.Serial, c.NotBefore.Local().Format("2006-01-02"), c.NotAfter.Local().Format("2006-01-02"), c.DaysLeft, c.DaysLeft, c.KeyType, status, c.SHA256)
	}
	return exitOK
}

// loadModule finds the UKEY driver (--module, else the known vendors')
// and loads it.
func loadModule(explicit string) (*token.Module, error) {
	path, err := token.Find(moduleCandidates(explicit))
	if err != nil {
		return nil, fmt.Errorf("未找到 UKEY 驱动 / no PKCS#11 module: %w", err)
	}
	return token.Load(path)
}

// lines reads stdin one line at a time, keeping nothing.
type lines struct{ r *bufio.Reader }

func (l lines) next() ([]byte, error) {
	b, err := l.r.ReadBytes('\n')
	if err != nil && len(b) == 0 {
		return nil, io.ErrUnexpectedEOF
	}
	for len(b) > 0 && (b[len(b)-1] == '\n' || b[len(b)-1] == '\r') {
		b = b[:len(b)-1]
	}
	return b, nil
}

// tokenUnlock runs the CA's PIN unlock for a locked UKEY: the account's
// login and password (proof of who asks), the SMS code sent to the
// handler's mobile, staff approval if the CA asks for it, then the new PIN
// twice; the UKEY's user PIN is reset with the SO PIN the CA releases once
// and the SO PIN rotated. stdin lines: password, SMS code, new PIN, new
// PIN again. Prompts go to stderr.
func tokenUnlock(ctx context.Context, explicit, serial, login string, wait time.Duration, stdin io.Reader, stdout, stderr io.Writer) int {
	if login == "" {
		fmt.Fprintln(stderr, "请用 --login 给出申请证书的账户(手机号或邮箱) / give the account with --login (mobile or e-mail)")
		return exitUsage
	}
	in := lines{bufio.NewReader(stdin)}
	fail := func(err error) int {
		fmt.Fprintln(stderr, unlockErrorText(err))
		return exitFail
	}
	m, err := loadModule(explicit)
	if err != nil {
		return fail(err)
	}
	defer m.Close()
	t, err := m.Find(serial, "")
	if err != nil {
		return fail(err)
	}
	cert, err := holder.UnlockCertificate(m, t.Serial, time.Now())
	if err != nil {
		return fail(err)
	}
	c, done, err := holderClient(ctx, warnLog(stderr))
	if err != nil {
		return fail(err)
	}
	defer done()
	fmt.Fprintln(stderr, "请输入登录密码 / login password:")
	pw, err := in.next()
	if err != nil {
		return fail(errMissingLine)
	}
	password := string(pw)
	clear(pw)
	if _, err := c.Login(ctx, api.LoginRequest{Login: login, Password: password}); err != nil {
		return fail(err)
	}
	defer func() { _ = c.Logout(context.WithoutCancel(ctx)) }() // else the session ends with its TTL
	u, err := c.StartUnlock(ctx, t.Serial, api.StartUnlockRequest{Password: password, Certificate: cert.DER})
	if err != nil {
		return fail(err)
	}
	fmt.Fprintf(stderr, "短信验证码已发送到 %s,请输入 / SMS code sent to %s, enter it:\n", u.Mobile, u.Mobile)
	id := u.ID
	for u.State == api.UnlockCodeSent {
		code, err := in.next()
		if err != nil {
			return fail(errMissingLine)
		}
		next, err := c.UnlockCode(ctx, id, string(code))
		var ae *api.Error
		switch {
		case errors.As(err, &ae) && ae.Code == api.CodeCodeInvalid:
			fmt.Fprintf(stderr, "%s / %s\n", ae.MessageZH, ae.MessageEN)
			continue
		case err != nil:
			return fail(err)
		}
		u = next
	}
	deadline := time.Now().Add(wait)
	for u.State == api.UnlockApproval {
		if time.Now().After(deadline) {
			fmt.Fprintf(stderr, "CA 工作人员尚未审核,请稍后重试(解锁申请 %s) / not approved yet; try again later (unlock %s)\n", u.ID, u.ID)
			return exitFail
		}
		fmt.Fprintln(stderr, "等待 CA 工作人员审核… / waiting for the CA's staff to approve…")
		select {
		case <-ctx.Done():
			return exitFail
		case <-time.After(2 * time.Second):
		}
		if u, err = c.Unlock(ctx, id); err != nil {
			return fail(err)
		}
	}
	if u.State != api.UnlockGranted {
		return fail(fmt.Errorf("unlock %s is %s", u.ID, u.State))
	}
	fmt.Fprintln(stderr, "请输入新 PIN,再输入一次 / new PIN, then again:")
	pin, err1 := in.next()
	again, err2 := in.next()
	defer clear(pin)
	defer clear(again)
	if err1 != nil || err2 != nil {
		return fail(errMissingLine)
	}
	if string(pin) != string(again) {
		fmt.Fprintln(stderr, "两次输入的新 PIN 不一致 / the two new PINs differ")
		return exitUsage
	}
	if pinRefused(stderr, nil, pin) {
		return exitUsage
	}
	if err := holder.FinishUnlock(ctx, c, m, t.Serial, id, append([]byte(nil), pin...)); err != nil {
		return fail(err)
	}
	// Proof: the new PIN opens the UKEY.
	s, err := m.OpenLoggedIn(token.Ref{Serial: t.Serial}, append([]byte(nil), pin...), false)
	if err != nil {
		return fail(err)
	}
	s.Close()
	fmt.Fprintln(stdout, "UKEY 已解锁,新 PIN 已生效 / UKEY unlocked: the new PIN works")
	return exitOK
}

var errMissingLine = errors.New("stdin ended early")

func unlockErrorText(err error) string {
	var ae *api.Error
	switch {
	case errors.As(err, &ae):
		return ae.MessageZH + " / " + ae.MessageEN
	case errors.Is(err, errMissingLine):
		return "标准输入应依次给出:登录密码、短信验证码、新 PIN、再次输入新 PIN / stdin lines: password, SMS code, new PIN, new PIN again"
	case errors.Is(err, holder.ErrSOPINUnknown):
		return "CA 登记的管理员 PIN 打不开这把 UKEY,请带 UKEY 到 CA 受理点处理 / the CA's SO PIN does not open this UKEY: take it to the CA's service point"
	case errors.Is(err, holder.ErrNoCertificate):
		return "这把 UKEY 中没有证书,无法确认它属于您 / no certificate on this UKEY, so it cannot be shown to be yours"
	case errors.Is(err, client.ErrNetwork):
		return "无法连接服务器,请检查网络后重试 / cannot reach the server: check the network and try again"
	}
	return pinErrorText(err)
}
