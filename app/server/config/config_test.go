package config

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestCheckNamesLineAndKey(t *testing.T) {
	secret := filepath.Join(t.TempDir(), "s")
	if err := os.WriteFile(secret, []byte("k\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	good := `[server]
addr = "0.0.0.0:8443"
public_url = "https://ca.example.cn"

[invoice]
seller_name = "福建省数字证书认证中心"
tax_rate_percent = 6

[mail]
host = "smtp.example.cn"
port = 587
username = "ca"
password_file = "` + secret + `"
from = "noreply@ca.example.cn"

[sms]
provider = "aliyun"
access_key_id = "LTAI5t"
access_key_secret_file = "` + secret + `"
sign_name = "证书助手"
[sms.templates]
status = "SMS_100001"
download_code = "SMS_100002"
unlock_code = "SMS_100003"
renewal = "SMS_100004"
`
	f, err := Parse([]byte(good))
	if err != nil {
		t.Fatalf("a good file: %v", err)
	}
	if f.Mail.Port != 587 || f.SMS.Templates["renewal"] != "SMS_100004" {
		t.Fatalf("decoded: %+v", f)
	}
	for _, tc := range []struct {
		name, old, new string
		line           int
		key, zh        string
	}{
		{"unknown key", `port = 587`, `prot = 587`, 11, "mail.prot", "没有这个设置项"},
		{"wrong type", `port = 587`, `port = "587"`, 11, "mail.port", "无法解析"},
		{"port range", `port = 587`, `port = 70000`, 11, "mail.port", "端口应为"},
		{"syntax", `host = "smtp.example.cn"`, `host = "smtp.example.cn`, 10, "", "无法解析"},
		{"tls mode", `port = 587`, "port = 587\ntls = \"ssl\"", 12, "mail.tls", "starttls"},
		{"secret missing", `password_file = "` + secret + `"`, `password_env = "CERTDESK_NO_SUCH_VAR"`, 13, "mail.password_env", "未设置"},
		{"template", `renewal = "SMS_100004"`, `renewal = "100004"`, 25, "sms.templates.renewal", "模板代码"},
		{"extra template", `renewal = "SMS_100004"`, "renewal = \"SMS_100004\"\nrenwal = \"SMS_100006\"", 26, "sms.templates.renwal", "没有这种短信"},
		{"public url", `public_url = "https://ca.example.cn"`, `public_url = "ca.example.cn"`, 3, "server.public_url", "https://"},
		{"blobs url", `public_url = "https://ca.example.cn"`, "public_url = \"https://ca.example.cn\"\nblobs = \"s3://certdesk\"", 4, "server.blobs", "endpoint="},
		{"blobs secret", `public_url = "https://ca.example.cn"`, "public_url = \"https://ca.example.cn\"\nblobs = \"s3://certdesk?endpoint=s3.example.cn\"\nblobs_access_key = \"AK\"\nblobs_secret_env = \"CERTDESK_NO_SUCH_VAR\"", 6, "server.blobs_secret_env", "未设置"},
		{"blobs secret without key", `public_url = "https://ca.example.cn"`, "public_url = \"https://ca.example.cn\"\nblobs = \"s3://certdesk?endpoint=s3.example.cn\"\nblobs_secret_file = \"" + secret + "\"", 5, "server.blobs_secret_file", "blobs_access_key"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse([]byte(strings.Replace(good, tc.old, tc.new, 1)))
			var ps Problems
			if !errors.As(err, &ps) || len(ps) == 0 {
				t.Fatalf("no problem found: %v", err)
			}
			p := ps[0]
			if p.Line != tc.line || tc.key != "" && p.Key != tc.key || !strings.Contains(p.ZH, tc.zh) || p.EN == "" {
				t.Fatalf("got %s", p)
			}
		})
	}
}

func TestAlipaySection(t *testing.T) {
	dir := t.TempDir()
	key, _ := rsa.GenerateKey(rand.Reader, 2048)
	p8, _ := x509.MarshalPKCS8PrivateKey(key)
	pub, _ := x509.MarshalPKIXPublicKey(&key.PublicKey)
	priv, pubf := filepath.Join(dir, "app.pem"), filepath.Join(dir, "alipay.txt")
	_ = os.WriteFile(priv, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: p8}), 0o600)
	_ = os.WriteFile(pubf, []byte(base64.StdEncoding.EncodeToString(pub)+"\n"), 0o600) // bare base64, as Alipay's console shows it
	src := "[alipay]\napp_id = \"2021000000000000\"\napp_private_key_file = \"" + priv + "\"\nalipay_public_key_file = \"" + pubf + "\"\n"
	f, err := Parse([]byte(src))
	if err != nil {
		t.Fatal(err)
	}
	if p, err := f.Payment(); err != nil || p == nil || p.AppID() != "2021000000000000" {
		t.Fatalf("payment: %v %v", p, err)
	}
	_, err = Parse([]byte(strings.Replace(src, priv, filepath.Join(dir, "missing.pem"), 1)))
	var ps Problems
	if !errors.As(err, &ps) || ps[0].Key != "alipay.app_private_key_file" || ps[0].Line != 3 {
		t.Fatalf("missing key file: %v", err)
	}
}

func TestWeChatPaySection(t *testing.T) {
	dir := t.TempDir()
	key, _ := rsa.GenerateKey(rand.Reader, 2048)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(7), Subject: pkix.Name{CommonName: "Tenpay.com Root CA"}, NotBefore: time.Now(), NotAfter: time.Now().Add(time.Hour)}
	der, _ := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	write := func(name string, b []byte) string {
		p := filepath.Join(dir, name)
		_ = os.WriteFile(p, b, 0o600)
		return p
	}
	mk := write("apiclient_key.pem", pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(key)}))
	cert := write("wechatpay_platform.pem", pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}))
	v3 := write("apiv3", []byte("0123456789abcdef0123456789abcdef\n"))
	src := "[wechatpay]\nmchid = \"1900000109\"\nappid = \"wx2026\"\nmerchant_serial_no = \"5157F09E\"\nmerchant_private_key_file = \"" + mk +
		"\"\nplatform_certificate_file = \"" + cert + "\"\napiv3_key_file = \"" + v3 + "\"\n"
	f, err := Parse([]byte(src))
	if err != nil {
		t.Fatal(err)
	}
	if p, err := f.WeChatPay(); err != nil || p == nil || p.AppID() != "1900000109" {
		t.Fatalf("wechat: %v %v", p, err)
	}
	short := write("short", []byte("tooshort"))
	_, err = Parse([]byte(strings.Replace(src, v3, short, 1)))
	var ps Problems
	if !errors.As(err, &ps) || ps[0].Key != "wechatpay.apiv3_key_file" || ps[0].Line != 7 || !strings.Contains(ps[0].ZH, "32") {
		t.Fatalf("short API v3 key: %v", err)
	}
}
