package config

import (
	"crypto/x509"
	"fmt"
	"log/slog"
	"math"
	"os"

	"certdesk/app/server/alipay"
	"certdesk/app/server/outbox"
	"certdesk/app/server/payprov"
	"certdesk/app/server/service"
	"certdesk/app/server/wechatpay"
)

// Provider builds the outbox's delivery from the file: SMTP for e-mail and
// the SMS gateway when configured, the log for what is not.
func (f *File) Provider(log *slog.Logger) (outbox.Provider, error) {
	r := outbox.Router{Fallback: outbox.Log{Logger: log}}
	if m := f.Mail; m != nil {
		pw, err := Secret(m.PasswordFile, m.PasswordEnv)
		if err != nil {
			return nil, fmt.Errorf("mail password: %w", err)
		}
		var pool *x509.CertPool
		if m.CAFile != "" {
			pem, err := os.ReadFile(m.CAFile)
			if err != nil {
				return nil, fmt.Errorf("mail ca_file: %w", err)
			}
			pool = x509.NewCertPool()
			if !pool.AppendCertsFromPEM(pem) {
				return nil, fmt.Errorf("mail ca_file %s: no certificate in it", m.CAFile)
			}
		}
		r.Email = outbox.SMTP{Config: outbox.SMTPConfig{Host: m.Host, Port: m.Port, TLS: m.TLS, Username: m.Username, Password: pw,
			From: m.From, FromName: m.FromName, RootCAs: pool}}
	}
	if s := f.SMS; s != nil {
		secret, err := Secret(s.SecretFile, s.SecretEnv)
		if err != nil {
			return nil, fmt.Errorf("sms secret: %w", err)
		}
		r.SMS = &outbox.AliyunSMS{Endpoint: s.Endpoint, Region: s.Region, AccessKeyID: s.AccessKeyID, AccessKeySecret: secret,
			SignName: s.SignName, Templates: s.Templates, PerMobileHour: s.PerMobileHour}
	}
	return r, nil
}

// TaxRateBP is the invoice's tax rate in basis points (6 % when unset).
func (f *File) TaxRateBP() int {
	if f.Invoice.TaxRatePercent == 0 {
		return 600
	}
	return int(math.Round(f.Invoice.TaxRatePercent * 100))
}

// WeChatPay builds the WeChat Pay adapter when the file has a
// [wechatpay] section (nil: none).
func (f *File) WeChatPay() (service.PayProvider, error) {
	w := f.WeChat
	if w == nil {
		return nil, nil
	}
	key, err := ReadRSAPrivateKey(w.MerchantKeyFile)
	if err != nil {
		return nil, fmt.Errorf("wechatpay merchant key: %w", err)
	}
	plat, err := ReadCertificateKey(w.PlatformCertFile)
	if err != nil {
		return nil, fmt.Errorf("wechatpay platform certificate: %w", err)
	}
	v3, err := Secret(w.APIv3KeyFile, w.APIv3KeyEnv)
	if err != nil {
		return nil, fmt.Errorf("wechatpay API v3 key: %w", err)
	}
	base := w.BaseURL
	if base == "" {
		base = "https://api.mch.weixin.qq.com"
	}
	return payprov.WeChat{C: &wechatpay.Client{BaseURL: base, MchID: w.MchID, AppID: w.AppID, SerialNo: w.SerialNo, Key: key, PlatformKey: plat, APIv3Key: []byte(v3)}}, nil
}

// Payment builds the Alipay adapter when the file has an [alipay] section
// (nil: none; online payment is then off unless the development sandbox
// is on).
func (f *File) Payment() (service.PayProvider, error) {
	a := f.Alipay
	if a == nil {
		return nil, nil
	}
	key, err := ReadRSAPrivateKey(a.AppPrivateKeyFile)
	if err != nil {
		return nil, fmt.Errorf("alipay app key: %w", err)
	}
	pub, err := ReadRSAPublicKey(a.AlipayPublicKeyFile)
	if err != nil {
		return nil, fmt.Errorf("alipay public key: %w", err)
	}
	gw := a.Gateway
	if gw == "" {
		gw = "https://openapi.alipay.com/gateway.do"
	}
	return payprov.Alipay{C: &alipay.Client{Gateway: gw, AppID: a.AppID, Key: key, AlipayKey: pub}}, nil
}
