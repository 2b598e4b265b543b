package outbox

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"strings"
	"time"

	mail "github.com/wneessen/go-mail"
)

// SMTPConfig is the CA's mail server.
type SMTPConfig struct {
	Host string
	Port int
	// TLS is "starttls" (the default: STARTTLS required), "tls" (implicit
	// TLS, port 465) or "none" (a relay on loopback only).
	TLS      string
	Username string
	Password string // never logged
	From     string // the CA's sender address
	FromName string
	// RootCAs trusts a private CA's mail server certificate (nil: the
	// system's roots).
	RootCAs *x509.CertPool
	Timeout time.Duration
}

// SMTP sends the e-mail channel through the CA's mail server (go-mail).
type SMTP struct{ Config SMTPConfig }

// subjects word the outbox's subject codes for people.
var subjects = map[string]string{
	"e-invoice": "电子发票(开票申请及收款凭证)/ e-invoice",
	"refund":    "退款通知 / Refund",
}

// Subject is the e-mail subject for a message.
func Subject(code string) string {
	if s, ok := subjects[code]; ok {
		return "【证书助手】" + s
	}
	if strings.HasPrefix(code, "status:") {
		return "【证书助手】证书申请状态更新 / Application status"
	}
	return "【证书助手】" + code
}

// Send delivers one e-mail; the answer comes once the server accepted it.
func (s SMTP) Send(ctx context.Context, m *Outgoing) error {
	c := s.Config
	msg := mail.NewMsg(mail.WithNoDefaultUserAgent())
	if err := msg.FromFormat(c.FromName, c.From); err != nil {
		return fmt.Errorf("mail from %q: %w", c.From, err)
	}
	if err := msg.To(m.Recipient); err != nil {
		return fmt.Errorf("mail to: %w", err) // the address is the applicant's: not logged
	}
	msg.Subject(Subject(m.Subject))
	msg.SetMessageIDWithValue(m.ID + "@certdesk") // the same ID on every retry: the server can drop a duplicate
	msg.SetBodyString(mail.TypeTextPlain, m.Body)
	for _, a := range m.Attachments {
		if err := msg.AttachReader(a.Name, bytes.NewReader(a.Data), mail.WithFileContentType(mail.ContentType(a.ContentType))); err != nil {
			return fmt.Errorf("attach %s: %w", a.Name, err)
		}
	}
	opts := []mail.Option{mail.WithPort(c.Port), mail.WithTimeout(max(c.Timeout, 5*time.Second))}
	tc := &tls.Config{ServerName: c.Host, RootCAs: c.RootCAs, MinVersion: tls.VersionTLS12}
	switch c.TLS {
	case "", "starttls":
		opts = append(opts, mail.WithTLSPolicy(mail.TLSMandatory), mail.WithTLSConfig(tc))
	case "tls":
		opts = append(opts, mail.WithSSL(), mail.WithTLSConfig(tc))
	case "none":
		opts = append(opts, mail.WithTLSPolicy(mail.NoTLS))
	default:
		return fmt.Errorf("smtp tls %q: starttls, tls or none", c.TLS)
	}
	if c.Username != "" {
		opts = append(opts, mail.WithSMTPAuth(mail.SMTPAuthPlain), mail.WithUsername(c.Username), mail.WithPassword(c.Password))
	}
	client, err := mail.NewClient(c.Host, opts...)
	if err != nil {
		return fmt.Errorf("smtp client %s: %w", c.Host, err)
	}
	if err := client.DialAndSendWithContext(ctx, msg); err != nil {
		return fmt.Errorf("smtp %s:%d: %w", c.Host, c.Port, err)
	}
	return nil
}
