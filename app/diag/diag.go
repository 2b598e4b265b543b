// Package diag is CertDesk's self-check for support staff on an
// applicant's PC: one report of checks, each green, yellow or red with a
// hint in Chinese (and English) saying what to do, and a redacted support
// bundle to send. It runs headless (`certdesk diag`) and under the GUI
// (`certdesk --diag`); it knows nothing of Fyne.
package diag

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"time"

	"certdesk/app/apply"
	"certdesk/token"
)

// Level is a check's colour.
type Level string

const (
	Green  Level = "green"
	Yellow Level = "yellow"
	Red    Level = "red"
)

// Check is one line of the report.
type Check struct {
	ID     string     `json:"id"`
	Title  apply.Text `json:"title"`
	Level  Level      `json:"level"`
	Detail string     `json:"detail"` // English: the support bundle's and --json's
	// DetailZH is Detail worded for the Chinese window; empty when Detail
	// has no words to translate (versions, paths, numbers).
	DetailZH string     `json:"detail_zh,omitempty"`
	Fix      apply.Text `json:"fix,omitempty"`
	// Data carries machine-readable facts (modules, tokens, certificates).
	Data any `json:"data,omitempty"`
}

// DetailIn is the detail in the window's language.
func (c Check) DetailIn(l apply.Lang) string {
	if l == apply.ZH && c.DetailZH != "" {
		return c.DetailZH
	}
	return c.Detail
}

// Report is every check, in a fixed order.
type Report struct {
	Generated time.Time `json:"generated"`
	Version   string    `json:"version"`
	Checks    []Check   `json:"checks"`
}

// Worst is the report's overall level.
func (r Report) Worst() Level {
	w := Green
	for _, c := range r.Checks {
		if c.Level == Red {
			return Red
		}
		if c.Level == Yellow {
			w = Yellow
		}
	}
	return w
}

// Local is what the client keeps on this PC.
type Local struct {
	Drafts        int // autosaved drafts not yet on the server
	QueuedUploads int
	FailedUploads int
	Settings      map[string]string
}

// Env is what the checks look at.
type Env struct {
	Version   string
	DataDir   string
	ServerURL string
	Embedded  bool
	HTTP      *http.Client // for the server checks; nil uses a 5 s client
	// Modules are the PKCS#11 module paths to try (token.Discover).
	Modules []string
	Local   *Local
	LogFile string // the client's log, scanned for recent errors
	// Helpers are the programs that must sit beside certdesk (the print
	// preview's renderer).
	Helpers []string
	Now     func() time.Time
}

// Run performs every check. It never fails: what it cannot find out is a
// check of its own.
func Run(ctx context.Context, env Env) Report {
	if env.Now == nil {
		env.Now = time.Now
	}
	if env.HTTP == nil {
		env.HTTP = &http.Client{Timeout: 5 * time.Second}
	}
	r := Report{Generated: env.Now(), Version: env.Version}
	r.Checks = append(r.Checks, appCheck(env), platformCheck(), dataDirCheck(env), helperCheck(env))
	r.Checks = append(r.Checks, serverChecks(ctx, env)...)
	r.Checks = append(r.Checks, tokenChecks(env)...)
	r.Checks = append(r.Checks, localCheck(env), logCheck(env))
	r.Checks = append(r.Checks, blockerChecks(env)...)
	return r
}

func appCheck(env Env) Check {
	return Check{ID: "app", Title: apply.Text{ZH: "程序版本", EN: "Application version"}, Level: Green,
		Detail: fmt.Sprintf("certdesk %s · %s · %s/%s", env.Version, runtime.Version(), runtime.GOOS, runtime.GOARCH)}
}

// helperCheck finds the programs installed beside certdesk. Security
// software sometimes quarantines a newly installed one; without the
// preview helper the form still opens and prints, only the preview goes.
func helperCheck(env Env) Check {
	c := Check{ID: "helpers", Title: apply.Text{ZH: "程序组件", EN: "Program components"}, Level: Green}
	var missing []string
	for _, p := range env.Helpers {
		if fi, err := os.Stat(p); err != nil || !fi.Mode().IsRegular() {
			missing = append(missing, filepath.Base(p))
		}
	}
	if len(missing) == 0 {
		c.Detail = fmt.Sprintf("%d/%d", len(env.Helpers), len(env.Helpers))
		return c
	}
	c.Level = Yellow
	c.Detail = "missing: " + strings.Join(missing, ", ")
	c.DetailZH = "缺少:" + strings.Join(missing, "、")
	c.Fix = apply.Text{
		ZH: "打印预览组件(" + strings.Join(missing, "、") + ")缺失:受理表仍可打开打印,但窗口内不能预览。请重新安装证书助手;若杀毒软件隔离了该文件,请恢复并加入信任。",
		EN: "The print preview component (" + strings.Join(missing, ", ") + ") is missing: the form still opens and prints, but is not previewed in the window. Reinstall CertDesk; if security software quarantined the file, restore it and allow it."}
	return c
}

func dataDirCheck(env Env) Check {
	c := Check{ID: "datadir", Title: apply.Text{ZH: "数据目录与磁盘空间", EN: "Data directory and free space"}}
	if err := os.MkdirAll(env.DataDir, 0o700); err != nil {
		c.Level, c.Detail = Red, err.Error()
		c.Fix = apply.Text{ZH: "数据目录无法创建或写入,请检查权限,或设置 CERTDESK_HOME 指向可写目录", EN: "The data directory cannot be created or written: check permissions or point CERTDESK_HOME at a writable directory"}
		return c
	}
	probe := filepath.Join(env.DataDir, ".diag-write-test")
	if err := os.WriteFile(probe, []byte("ok"), 0o600); err != nil {
		c.Level, c.Detail = Red, err.Error()
		c.Fix = apply.Text{ZH: "数据目录不可写,请检查权限或安全软件拦截", EN: "The data directory is not writable: check permissions or security software"}
		return c
	}
	os.Remove(probe)
	free, err := freeBytes(env.DataDir)
	switch {
	case err != nil:
		c.Level, c.Detail = Yellow, env.DataDir+" · "+err.Error()
	case free < 50<<20:
		c.Level = Red
		c.Fix = apply.Text{ZH: "磁盘空间不足 50 MB,材料无法保存,请清理磁盘", EN: "Under 50 MB free: materials cannot be saved; free some disk space"}
	case free < 500<<20:
		c.Level = Yellow
		c.Fix = apply.Text{ZH: "磁盘空间不足 500 MB,建议清理", EN: "Under 500 MB free: consider freeing disk space"}
	default:
		c.Level = Green
	}
	if err == nil {
		c.Detail = fmt.Sprintf("%s · %.1f GB free", env.DataDir, float64(free)/(1<<30))
		c.DetailZH = fmt.Sprintf("%s · 可用 %.1f GB", env.DataDir, float64(free)/(1<<30))
	}
	return c
}

// serverChecks: reachability, TLS, and the clock against the server's Date.
func serverChecks(ctx context.Context, env Env) []Check {
	reach := Check{ID: "server", Title: apply.Text{ZH: "服务器连接", EN: "Server connection"}}
	clock := Check{ID: "clock", Title: apply.Text{ZH: "系统时间", EN: "System clock"}}
	if env.ServerURL == "" {
		reach.Level, reach.Detail, reach.DetailZH = Yellow, "no server configured", "未设置服务器地址"
		clock.Level, clock.Detail, clock.DetailZH = Yellow, "not compared", "未比对"
		return []Check{reach, clock}
	}
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, strings.TrimSuffix(env.ServerURL, "/")+"/readyz", nil)
	start := env.Now()
	res, err := env.HTTP.Do(req)
	if err != nil {
		reach.Level, reach.Detail = Red, err.Error()
		var ce *x509.CertificateInvalidError
		var ua x509.UnknownAuthorityError
		switch {
		case errors.As(err, &ce), errors.As(err, &ua), strings.Contains(err.Error(), "certificate"):
			reach.Fix = apply.Text{ZH: "服务器证书无法验证:请确认系统时间正确,并检查是否有代理或安全软件拦截 HTTPS", EN: "The server's certificate cannot be verified: check the clock, and any proxy or security software intercepting HTTPS"}
		default:
			reach.Fix = apply.Text{ZH: "无法连接服务器:请检查网络,或稍后再试;公司网络请确认未屏蔽该地址", EN: "Cannot reach the server: check the network or try later; on a company network make sure the address is not blocked"}
		}
		clock.Level, clock.Detail, clock.DetailZH = Yellow, "not compared (no answer)", "未比对(服务器无应答)"
		return []Check{reach, clock}
	}
	res.Body.Close()
	rtt := env.Now().Sub(start)
	tlsInfo := "http"
	if res.TLS != nil {
		tlsInfo = tlsVersion(res.TLS.Version)
	}
	reach.Detail = fmt.Sprintf("%s · %s · %d · %d ms", env.ServerURL, tlsInfo, res.StatusCode, rtt.Milliseconds())
	tlsZH := tlsInfo
	if res.TLS == nil {
		tlsZH = "未加密"
	}
	reach.DetailZH = fmt.Sprintf("%s · %s · %d · %d 毫秒", env.ServerURL, tlsZH, res.StatusCode, rtt.Milliseconds())
	switch {
	case res.StatusCode != http.StatusOK:
		reach.Level = Yellow
		reach.Fix = apply.Text{ZH: "服务器暂时不可用,请稍后再试", EN: "The server is not ready; try again later"}
	case res.TLS == nil && !env.Embedded && !loopback(env.ServerURL):
		reach.Level = Red
		reach.Fix = apply.Text{ZH: "与服务器的连接没有加密,请改用 https:// 地址", EN: "The connection is not encrypted: use an https:// address"}
	default:
		reach.Level = Green
	}
	date, err := http.ParseTime(res.Header.Get("Date"))
	if err != nil {
		clock.Level, clock.Detail, clock.DetailZH = Yellow, "the server sent no Date", "服务器没有返回时间"
		return []Check{reach, clock}
	}
	skew := env.Now().Sub(date.Add(rtt / 2)).Round(time.Second)
	clock.Detail = fmt.Sprintf("%+v against the server", skew)
	clock.DetailZH = fmt.Sprintf("与服务器相差 %v", skew)
	switch abs := max(skew, -skew); {
	case abs > 5*time.Minute:
		clock.Level = Red
		clock.Fix = apply.Text{ZH: "电脑时间与服务器相差超过 5 分钟,证书和登录会失败:请在“设置 → 时间和语言”中开启“自动设置时间”", EN: "The clock is over 5 minutes off: certificates and login will fail; turn on Set time automatically in Settings → Time & language"}
	case abs > time.Minute:
		clock.Level = Yellow
		clock.Fix = apply.Text{ZH: "电脑时间与服务器相差超过 1 分钟,建议开启自动校时", EN: "The clock is over a minute off: turn on automatic time"}
	default:
		clock.Level = Green
	}
	return []Check{reach, clock}
}

func loopback(u string) bool {
	return strings.HasPrefix(u, "http://127.0.0.1") || strings.HasPrefix(u, "http://localhost") || strings.HasPrefix(u, "http://[::1]")
}

func tlsVersion(v uint16) string {
	switch v {
	case 0x0304:
		return "TLS 1.3"
	case 0x0303:
		return "TLS 1.2"
	}
	return fmt.Sprintf("TLS 0x%04x", v)
}

// ModuleReport is one PKCS#11 module: what loading it said, its tokens and
// the certificates on them (`certdesk token list --json` prints these too).
type ModuleReport struct {
	Path   string            `json:"path"`
	Error  string            `json:"error,omitempty"`
	Info   *token.ModuleInfo `json:"info,omitempty"`
	Tokens []TokenReport     `json:"tokens,omitempty"`
}

// TokenReport is one token.
type TokenReport struct {
	Label        string       `json:"label"`
	Serial       string       `json:"serial"`
	Model        string       `json:"model"`
	Manufacturer string       `json:"manufacturer"`
	Flags        token.Flags  `json:"flags"`
	Mechanisms   []string     `json:"mechanisms"`
	Certificates []CertReport `json:"certificates"`
}

// CertReport is one certificate on a token.
type CertReport struct {
	Subject  string    `json:"subject"`
	Issuer   string    `json:"issuer"`
	Serial   string    `json:"serial"`
	NotAfter time.Time `json:"not_after"`
	Expired  bool      `json:"expired"`
}

// InspectModules loads every candidate module that exists (once per file:
// Debian links the same library under two names) and reports its tokens
// and certificates; no PIN is needed, certificates are public objects.
func InspectModules(candidates []string, now time.Time) []ModuleReport {
	var out []ModuleReport
	seen := map[string]bool{}
	for _, p := range candidates {
		real, err := filepath.EvalSymlinks(p)
		if err != nil {
			continue
		}
		if fi, err := os.Stat(real); err != nil || fi.IsDir() || seen[real] {
			continue
		}
		seen[real] = true
		r := ModuleReport{Path: p}
		m, err := token.Load(p)
		if err != nil {
			r.Error = err.Error()
			out = append(out, r)
			continue
		}
		info := m.Info
		r.Info = &info
		ts, err := m.Tokens()
		if err != nil {
			r.Error = err.Error()
		}
		for _, t := range ts {
			tr := TokenReport{Label: t.Label, Serial: t.Serial, Model: t.Model, Manufacturer: t.Manufacturer, Flags: t.Flags, Mechanisms: t.Mechanisms, Certificates: []CertReport{}}
			if s, err := m.Open(t); err == nil {
				certs, _ := s.Certificates()
				for _, c := range certs {
					tr.Certificates = append(tr.Certificates, CertReport{Subject: c.Subject.String(), Issuer: c.Issuer.String(),
						Serial: c.SerialNumber.Text(16), NotAfter: c.NotAfter, Expired: now.After(c.NotAfter)})
				}
				s.Close()
			}
			r.Tokens = append(r.Tokens, tr)
		}
		m.Close()
		out = append(out, r)
	}
	return out
}

// tokenChecks loads each candidate module, lists its tokens with their
// flags and mechanisms, and reads the certificates (public objects: no PIN).
func tokenChecks(env Env) []Check {
	mods := Check{ID: "pkcs11", Title: apply.Text{ZH: "UKEY 驱动(PKCS#11)", EN: "UKEY driver (PKCS#11)"}}
	toks := Check{ID: "tokens", Title: apply.Text{ZH: "UKEY", EN: "UKEY"}}
	certs := Check{ID: "certificates", Title: apply.Text{ZH: "UKEY 中的证书", EN: "Certificates on the UKEY"}}
	infos := InspectModules(env.Modules, env.Now())
	var loaded, archBad int
	var all []TokenReport
	for _, mi := range infos {
		switch {
		case mi.Info != nil:
			loaded++
		case strings.Contains(mi.Error, token.ErrModuleArch.Error()):
			archBad++
		}
		all = append(all, mi.Tokens...)
	}
	mods.Data = infos
	var lines []string
	for _, mi := range infos {
		l := mi.Path
		if mi.Error != "" {
			l += " · " + mi.Error
		} else {
			l += fmt.Sprintf(" · %d UKEY", len(mi.Tokens))
		}
		lines = append(lines, l)
	}
	mods.Detail = strings.Join(lines, "\n")
	switch {
	case len(infos) == 0:
		mods.Level = Red
		mods.Fix = apply.Text{ZH: "没有找到 UKEY 驱动:请安装 UKEY 厂商的驱动程序(随 UKEY 提供或到 CA 网站下载)", EN: "No UKEY driver found: install the UKEY maker's driver (shipped with the UKEY or from the CA's site)"}
	case loaded == 0 && archBad > 0:
		mods.Level = Red
		mods.Fix = apply.Text{ZH: "找到的 UKEY 驱动是 32 位的,本程序为 64 位:请安装厂商的 64 位驱动", EN: "The UKEY driver found is 32-bit and CertDesk is 64-bit: install the maker's 64-bit driver"}
	case loaded == 0:
		mods.Level = Red
		mods.Fix = apply.Text{ZH: "UKEY 驱动无法加载:请重新安装驱动;若安装了安全软件,请将驱动加入信任", EN: "The UKEY driver does not load: reinstall it; if security software is installed, add the driver to its trusted list"}
	default:
		mods.Level = Green
	}

	toks.Data = all
	toks.Level = Green
	var tl, tz []string
	for _, t := range all {
		s := fmt.Sprintf("%s (%s, %s) · %d mechanisms", t.Label, t.Serial, t.Model, len(t.Mechanisms))
		z := fmt.Sprintf("%s(序列号 %s,型号 %s)· 支持 %d 种算法", t.Label, t.Serial, t.Model, len(t.Mechanisms))
		switch {
		case t.Flags.PINLocked:
			s += " · PIN LOCKED"
			z += " · PIN 已锁定"
			toks.Level = Red
			toks.Fix = apply.Text{ZH: "UKEY 的 PIN 已锁定:请携带 UKEY 和有效证件到 CA 解锁", EN: "The UKEY's PIN is locked: bring the UKEY and your ID to the CA to unlock it"}
		case t.Flags.PINFinalTry:
			s += " · PIN final try"
			z += " · PIN 只剩最后一次机会"
			if toks.Level != Red {
				toks.Level = Yellow
				toks.Fix = apply.Text{ZH: "再输错一次 PIN 就会锁定 UKEY,请确认 PIN 后再输入", EN: "One more wrong PIN locks the UKEY: be sure of the PIN before typing it"}
			}
		case t.Flags.PINCountLow:
			s += " · PIN count low"
			z += " · 最近输错过 PIN"
			if toks.Level == Green {
				toks.Level = Yellow
				toks.Fix = apply.Text{ZH: "最近输错过 PIN,请小心输入", EN: "A wrong PIN was entered recently: type it carefully"}
			}
		}
		tl = append(tl, s)
		tz = append(tz, z)
	}
	if len(all) == 0 {
		toks.Level = Red
		toks.Fix = apply.Text{ZH: "没有检测到 UKEY:请插入 UKEY,换一个 USB 口再试;仍不行请重新安装驱动", EN: "No UKEY detected: plug it in, try another USB port, then reinstall the driver"}
	}
	toks.Detail = strings.Join(tl, "\n")
	toks.DetailZH = strings.Join(tz, "\n")

	certs.Level = Green
	var cl []string
	now := env.Now()
	for _, t := range all {
		for _, c := range t.Certificates {
			s := fmt.Sprintf("%s · %s · %s · %s", t.Label, c.Subject, c.Serial, c.NotAfter.Format("2006-01-02"))
			switch {
			case now.After(c.NotAfter):
				s += " · EXPIRED"
				certs.Level = Red
				certs.Fix = apply.Text{ZH: "证书已过期:请在用户中心办理证书更新", EN: "A certificate expired: renew it from the user center"}
			case c.NotAfter.Sub(now) < 30*24*time.Hour:
				s += " · expires soon"
				if certs.Level == Green {
					certs.Level = Yellow
					certs.Fix = apply.Text{ZH: "证书将在 30 天内到期,请尽快办理更新", EN: "A certificate expires within 30 days: renew it soon"}
				}
			}
			cl = append(cl, s)
		}
	}
	sort.Strings(cl)
	certs.Detail = strings.Join(cl, "\n")
	if len(cl) == 0 {
		certs.Detail, certs.DetailZH = "none", "无"
	}
	return []Check{mods, toks, certs}
}

func localCheck(env Env) Check {
	c := Check{ID: "local", Title: apply.Text{ZH: "本机草稿与待上传材料", EN: "Local drafts and queued uploads"}, Level: Green}
	if env.Local == nil {
		c.Detail, c.DetailZH = "no local store", "没有本地存储"
		return c
	}
	c.Detail = fmt.Sprintf("%d unsent drafts · %d queued uploads · %d failed uploads", env.Local.Drafts, env.Local.QueuedUploads, env.Local.FailedUploads)
	c.DetailZH = fmt.Sprintf("未同步的草稿 %d 份 · 等待上传 %d 份 · 上传失败 %d 份", env.Local.Drafts, env.Local.QueuedUploads, env.Local.FailedUploads)
	switch {
	case env.Local.FailedUploads > 0:
		c.Level = Yellow
		c.Fix = apply.Text{ZH: "有材料上传失败:请打开申请的“上传材料”步骤查看原因并重新选择文件", EN: "Some uploads failed: open the application's materials step to see why and choose the files again"}
	case env.Local.Drafts > 0 || env.Local.QueuedUploads > 0:
		c.Level = Yellow
		c.Fix = apply.Text{ZH: "有尚未同步到服务器的内容,联网后会自动发送,请不要删除数据目录", EN: "Some work is not on the server yet; it is sent once online; do not delete the data directory"}
	}
	return c
}

// logCheck reports the last errors in the client's log.
func logCheck(env Env) Check {
	c := Check{ID: "log", Title: apply.Text{ZH: "最近的错误", EN: "Recent errors"}, Level: Green}
	lines := RecentErrors(env.LogFile, 10)
	if len(lines) == 0 {
		c.Detail, c.DetailZH = "none", "无"
		return c
	}
	c.Level = Yellow
	c.Detail = Redact(strings.Join(lines, "\n"))
	c.Fix = apply.Text{ZH: "如问题仍在,请导出支持包发给客服", EN: "If the problem persists, export a support bundle for support"}
	return c
}

// RecentErrors returns the last n lines of the log at level WARN or ERROR.
func RecentErrors(path string, n int) []string {
	if path == "" {
		return nil
	}
	b, err := tail(path, 256<<10)
	if err != nil {
		return nil
	}
	var out []string
	for _, l := range strings.Split(string(b), "\n") {
		if strings.Contains(l, "level=ERROR") || strings.Contains(l, "level=WARN") {
			out = append(out, l)
		}
	}
	if len(out) > n {
		out = out[len(out)-n:]
	}
	return out
}

// tail reads at most the last max bytes of a file.
func tail(path string, max int64) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	off := int64(0)
	if fi.Size() > max {
		off = fi.Size() - max
	}
	b := make([]byte, fi.Size()-off)
	_, err = f.ReadAt(b, off)
	return b, err
}
