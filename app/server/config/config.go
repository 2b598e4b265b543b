// Package config reads certdesk-server's one configuration file (TOML,
// pelletier/go-toml v2): the server, the CA's invoice details, the mail
// server and the SMS gateway. Secrets are never in the file itself but
// named by a file path (*_file) or an environment variable (*_env), so the
// file can be read by those who run the server without handing out the
// keys. Check reports every problem with its line and key, in Chinese and
// English.
package config

import (
	"bytes"
	"errors"
	"fmt"
	"net/mail"
	"net/url"
	"os"
	"regexp"
	"sort"
	"strings"

	"github.com/pelletier/go-toml/v2"
)

// File is the configuration.
type File struct {
	Server  Server  `toml:"server"`
	Invoice Invoice `toml:"invoice"`
	Mail    *Mail   `toml:"mail"`
	SMS     *SMS    `toml:"sms"`
	Alipay  *Alipay `toml:"alipay"`
	WeChat  *WeChat `toml:"wechatpay"`
}

// WeChat is the CA's WeChat Pay merchant (API v3, Native).
type WeChat struct {
	BaseURL          string `toml:"base_url"` // default https://api.mch.weixin.qq.com
	MchID            string `toml:"mchid"`
	AppID            string `toml:"appid"`
	SerialNo         string `toml:"merchant_serial_no"`
	MerchantKeyFile  string `toml:"merchant_private_key_file"`
	PlatformCertFile string `toml:"platform_certificate_file"` // the platform certificate (PEM) whose key signs answers and notifies
	APIv3KeyFile     string `toml:"apiv3_key_file"`
	APIv3KeyEnv      string `toml:"apiv3_key_env"`
}

// Alipay is the CA's Alipay merchant app (当面付).
type Alipay struct {
	Gateway             string `toml:"gateway"` // default https://openapi.alipay.com/gateway.do
	AppID               string `toml:"app_id"`
	AppPrivateKeyFile   string `toml:"app_private_key_file"`   // PEM (PKCS#1 or PKCS#8), or the bare base64 Alipay's tool writes
	AlipayPublicKeyFile string `toml:"alipay_public_key_file"` // PEM, or bare base64
}

// Server is serve's settings (the command's flags, by the same names).
type Server struct {
	Addr             string   `toml:"addr"`
	PublicURL        string   `toml:"public_url"`
	Data             string   `toml:"data"`
	DSNFile          string   `toml:"dsn_file"`
	DSNEnv           string   `toml:"dsn_env"`
	Blobs            string   `toml:"blobs"`
	BlobsAccessKey   string   `toml:"blobs_access_key"`
	BlobsSecretFile  string   `toml:"blobs_secret_file"`
	BlobsSecretEnv   string   `toml:"blobs_secret_env"`
	TLSCert          string   `toml:"tls_cert"`
	TLSKey           string   `toml:"tls_key"`
	TrustProxy       []string `toml:"trust_proxy"`
	CAPassphraseFile string   `toml:"ca_passphrase_file"`
	CAPassphraseEnv  string   `toml:"ca_passphrase_env"`
	DevProviders     bool     `toml:"dev_providers"`
}

// Invoice is the seller's side of the e-invoice.
type Invoice struct {
	SellerName     string  `toml:"seller_name"`
	SellerTaxID    string  `toml:"seller_tax_id"`
	TaxRatePercent float64 `toml:"tax_rate_percent"`
}

// Mail is the CA's SMTP server.
type Mail struct {
	Host         string `toml:"host"`
	Port         int    `toml:"port"`
	TLS          string `toml:"tls"`
	Username     string `toml:"username"`
	PasswordFile string `toml:"password_file"`
	PasswordEnv  string `toml:"password_env"`
	From         string `toml:"from"`
	FromName     string `toml:"from_name"`
	CAFile       string `toml:"ca_file"` // a private CA for the mail server's certificate
}

// SMS is the gateway (Alibaba Cloud SMS today).
type SMS struct {
	Provider      string            `toml:"provider"`
	Endpoint      string            `toml:"endpoint"`
	Region        string            `toml:"region"`
	AccessKeyID   string            `toml:"access_key_id"`
	SecretFile    string            `toml:"access_key_secret_file"`
	SecretEnv     string            `toml:"access_key_secret_env"`
	SignName      string            `toml:"sign_name"`
	Templates     map[string]string `toml:"templates"`
	PerMobileHour int               `toml:"per_mobile_hour"`
}

// SMSKinds are the messages a template is needed for.
var SMSKinds = []string{"status", "download_code", "unlock_code", "renewal"}

// Problem is one thing wrong with the file.
type Problem struct {
	Line   int // 0 when it has none
	Key    string
	ZH, EN string
}

func (p Problem) String() string {
	loc := ""
	if p.Line > 0 {
		loc = fmt.Sprintf("第 %d 行 / line %d: ", p.Line, p.Line)
	}
	return fmt.Sprintf("%s%s: %s / %s", loc, p.Key, p.ZH, p.EN)
}

// Problems is every problem found.
type Problems []Problem

func (ps Problems) Error() string {
	s := make([]string, len(ps))
	for i, p := range ps {
		s[i] = p.String()
	}
	return strings.Join(s, "\n")
}

// Load reads and checks a configuration file; the error is Problems when
// the file is readable but wrong.
func Load(path string) (*File, error) {
	src, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("config %s: %w", path, err)
	}
	return Parse(src)
}

// Parse decodes and checks a configuration.
func Parse(src []byte) (*File, error) {
	var f File
	dec := toml.NewDecoder(bytes.NewReader(src)).DisallowUnknownFields()
	if err := dec.Decode(&f); err != nil {
		var de *toml.DecodeError
		var sm *toml.StrictMissingError
		switch {
		case errors.As(err, &sm):
			var ps Problems
			for _, e := range sm.Errors {
				row, _ := e.Position()
				ps = append(ps, Problem{Line: row, Key: strings.Join(e.Key(), "."), ZH: "没有这个设置项(拼写错误?)", EN: "no such setting (a typo?)"})
			}
			return nil, ps
		case errors.As(err, &de):
			row, _ := de.Position()
			return nil, Problems{{Line: row, Key: strings.Join(de.Key(), "."), ZH: "无法解析:" + de.Error(), EN: "cannot be read: " + de.Error()}}
		}
		return nil, Problems{{Key: "(file)", ZH: "无法解析:" + err.Error(), EN: "cannot be read: " + err.Error()}}
	}
	if ps := f.check(src); len(ps) > 0 {
		return nil, ps
	}
	return &f, nil
}

var reTemplate = regexp.MustCompile(`^SMS_\d{4,}$`)

// check finds what decodes but cannot work.
func (f *File) check(src []byte) Problems {
	var ps Problems
	bad := func(key, zh, en string) {
		ps = append(ps, Problem{Line: lineOf(src, key), Key: key, ZH: zh, EN: en})
	}
	secret := func(key, file, env string) {
		switch {
		case file == "" && env == "":
			bad(key+"_file", "需要指定密钥文件("+key+"_file)或环境变量("+key+"_env)", "name a file ("+key+"_file) or an environment variable ("+key+"_env) holding it")
		case file != "":
			if _, err := os.Stat(file); err != nil {
				bad(key+"_file", "无法读取密钥文件 "+file, "cannot read the secret file "+file)
			}
		case os.Getenv(env) == "":
			bad(key+"_env", "环境变量 "+env+" 未设置", "the environment variable "+env+" is not set")
		}
	}
	if u := f.Server.PublicURL; u != "" {
		if p, err := url.Parse(u); err != nil || p.Scheme != "https" && p.Scheme != "http" || p.Host == "" {
			bad("server.public_url", "应为 https://主机名 形式的地址", "must be an address like https://host")
		}
	}
	if b := f.Server.Blobs; b != "" {
		if p, err := url.Parse(b); err != nil || p.Scheme != "s3" || p.Host == "" || p.Query().Get("endpoint") == "" {
			bad("server.blobs", "应为 s3://存储桶?endpoint=主机:端口 形式的地址", "must be an address like s3://bucket?endpoint=host:port")
		}
		if f.Server.BlobsAccessKey != "" {
			secret("server.blobs_secret", f.Server.BlobsSecretFile, f.Server.BlobsSecretEnv)
		} else if f.Server.BlobsSecretFile != "" || f.Server.BlobsSecretEnv != "" {
			key := "server.blobs_secret_file"
			if f.Server.BlobsSecretFile == "" {
				key = "server.blobs_secret_env"
			}
			bad(key, "已指定对象存储密钥,请同时填写 blobs_access_key", "a secret key is named: blobs_access_key goes with it")
		}
	}
	if (f.Server.TLSCert == "") != (f.Server.TLSKey == "") {
		bad("server.tls_key", "tls_cert 与 tls_key 须同时设置", "tls_cert and tls_key go together")
	}
	if r := f.Invoice.TaxRatePercent; r < 0 || r > 20 {
		bad("invoice.tax_rate_percent", "税率应在 0–20 之间(信息技术服务通常为 6)", "the tax rate is 0–20 (6 for IT services)")
	}
	if m := f.Mail; m != nil {
		if m.Host == "" {
			bad("mail.host", "请填写邮件服务器地址", "the mail server's host is required")
		}
		if m.Port < 1 || m.Port > 65535 {
			bad("mail.port", "端口应为 1–65535(STARTTLS 常用 587,隐式 TLS 用 465)", "the port is 1–65535 (587 for STARTTLS, 465 for implicit TLS)")
		}
		switch m.TLS {
		case "", "starttls", "tls", "none":
		default:
			bad("mail.tls", "应为 starttls、tls 或 none", "is starttls, tls or none")
		}
		if _, err := mail.ParseAddress(m.From); err != nil {
			bad("mail.from", "发件地址无效", "the sender address is not valid")
		}
		if m.Username != "" {
			secret("mail.password", m.PasswordFile, m.PasswordEnv)
		}
	}
	if a := f.Alipay; a != nil {
		if a.AppID == "" {
			bad("alipay.app_id", "请填写支付宝应用 APPID", "the Alipay app ID is required")
		}
		if a.Gateway != "" {
			if p, err := url.Parse(a.Gateway); err != nil || p.Scheme != "https" || p.Host == "" {
				bad("alipay.gateway", "应为 https://openapi.alipay.com/gateway.do 形式的地址", "must be an https address like https://openapi.alipay.com/gateway.do")
			}
		}
		if _, err := ReadRSAPrivateKey(a.AppPrivateKeyFile); err != nil {
			bad("alipay.app_private_key_file", "无法读取应用私钥:"+err.Error(), "cannot read the app's private key: "+err.Error())
		}
		if _, err := ReadRSAPublicKey(a.AlipayPublicKeyFile); err != nil {
			bad("alipay.alipay_public_key_file", "无法读取支付宝公钥:"+err.Error(), "cannot read Alipay's public key: "+err.Error())
		}
	}
	if w := f.WeChat; w != nil {
		if w.MchID == "" || w.AppID == "" || w.SerialNo == "" {
			bad("wechatpay.mchid", "请填写商户号、AppID 与商户证书序列号(mchid、appid、merchant_serial_no)", "mchid, appid and merchant_serial_no are required")
		}
		if _, err := ReadRSAPrivateKey(w.MerchantKeyFile); err != nil {
			bad("wechatpay.merchant_private_key_file", "无法读取商户私钥:"+err.Error(), "cannot read the merchant key: "+err.Error())
		}
		if _, err := ReadCertificateKey(w.PlatformCertFile); err != nil {
			bad("wechatpay.platform_certificate_file", "无法读取微信支付平台证书:"+err.Error(), "cannot read the platform certificate: "+err.Error())
		}
		secret("wechatpay.apiv3_key", w.APIv3KeyFile, w.APIv3KeyEnv)
		if k, err := Secret(w.APIv3KeyFile, w.APIv3KeyEnv); err == nil && k != "" && len(k) != 32 {
			bad("wechatpay.apiv3_key_file", "APIv3 密钥应为 32 个字符", "the API v3 key is 32 characters")
		}
	}
	if s := f.SMS; s != nil {
		if s.Provider != "aliyun" {
			bad("sms.provider", "目前支持 aliyun(阿里云短信服务)", "aliyun (Alibaba Cloud SMS) is supported")
		}
		if s.Endpoint != "" {
			if p, err := url.Parse(s.Endpoint); err != nil || p.Host == "" {
				bad("sms.endpoint", "应为 https://dysmsapi.aliyuncs.com 形式的地址", "must be an address like https://dysmsapi.aliyuncs.com")
			}
		}
		if s.AccessKeyID == "" {
			bad("sms.access_key_id", "请填写 AccessKey ID", "the AccessKey ID is required")
		}
		secret("sms.access_key_secret", s.SecretFile, s.SecretEnv)
		if strings.TrimSpace(s.SignName) == "" {
			bad("sms.sign_name", "请填写已审核通过的短信签名", "the approved SMS sign name is required")
		}
		for _, k := range SMSKinds {
			if !reTemplate.MatchString(s.Templates[k]) {
				bad("sms.templates."+k, "请填写该短信的模板代码(如 SMS_123456789)", "the message's template code is required (e.g. SMS_123456789)")
			}
		}
		var extra []string
		for k := range s.Templates {
			if !contains(SMSKinds, k) {
				extra = append(extra, k)
			}
		}
		sort.Strings(extra)
		for _, k := range extra {
			bad("sms.templates."+k, "没有这种短信(可用:"+strings.Join(SMSKinds, "、")+")", "no such message (there are: "+strings.Join(SMSKinds, ", ")+")")
		}
	}
	return ps
}

func contains(ss []string, s string) bool {
	for _, x := range ss {
		if x == s {
			return true
		}
	}
	return false
}

// lineOf finds the line of a dotted key (table.key or table.sub.key) in
// the source: the key's line inside its table, else the table's header.
func lineOf(src []byte, dotted string) int {
	parts := strings.Split(dotted, ".")
	table, key := strings.Join(parts[:len(parts)-1], "."), parts[len(parts)-1]
	cur, header := "", 0
	for i, raw := range strings.Split(string(src), "\n") {
		l := strings.TrimSpace(raw)
		if strings.HasPrefix(l, "[") && strings.HasSuffix(l, "]") {
			cur = strings.Trim(l, "[] ")
			if cur == table {
				header = i + 1
			}
			continue
		}
		if cur == table {
			if k, _, ok := strings.Cut(l, "="); ok && strings.Trim(strings.TrimSpace(k), `"`) == key {
				return i + 1
			}
		}
	}
	return header
}

// Secret reads a secret named by a file or an environment variable.
func Secret(file, env string) (string, error) {
	if file != "" {
		b, err := os.ReadFile(file)
		if err != nil {
			return "", fmt.Errorf("secret file %s: %w", file, err)
		}
		return strings.TrimRight(string(b), "\r\n"), nil
	}
	if env != "" {
		return os.Getenv(env), nil
	}
	return "", nil
}
