// Package apply is CertDesk's application domain: certificate kinds, the form
// schema and its validators, the material rules, the fee schedule and the
// application state machine. It does no I/O, so the client validates live with
// exactly the rules the server enforces again.
package apply

import "fmt"

// Kind is the kind of certificate applied for.
type Kind string

const (
	KindOrg      Kind = "org"      // 单位证书
	KindPersonal Kind = "personal" // 个人证书
)

// Kinds lists the kinds in the order the user center offers them.
var Kinds = []Kind{KindOrg, KindPersonal}

// ParseKind accepts the wire names.
func ParseKind(s string) (Kind, error) {
	switch Kind(s) {
	case KindOrg, KindPersonal:
		return Kind(s), nil
	}
	return "", fmt.Errorf("unknown certificate kind %q (want org or personal)", s)
}

// Label returns the display name of the kind.
func (k Kind) Label(lang Lang) string {
	switch k {
	case KindOrg:
		return lang.pick("单位证书", "Organisation certificate")
	case KindPersonal:
		return lang.pick("个人证书", "Personal certificate")
	}
	return string(k)
}

// Service is an optional service bound to the certificate.
type Service string

const (
	ServiceSeal      Service = "seal"      // 签章
	ServiceSignature Service = "signature" // 签名
)

// Label returns the display name of the service.
func (s Service) Label(lang Lang) string {
	switch s {
	case ServiceSeal:
		return lang.pick("签章", "Seal")
	case ServiceSignature:
		return lang.pick("签名", "Signature")
	}
	return string(s)
}

// Options are the choices that change the materials and the fee.
type Options struct {
	Seal      bool `json:"seal"`
	Signature bool `json:"signature"`
}

// Services lists the chosen services in a stable order.
func (o Options) Services() []Service {
	var s []Service
	if o.Seal {
		s = append(s, ServiceSeal)
	}
	if o.Signature {
		s = append(s, ServiceSignature)
	}
	return s
}

// Delivery is how the blank UKEY reaches the applicant.
type Delivery string

const (
	DeliveryPickup Delivery = "pickup" // 受理点领取
	DeliveryMail   Delivery = "mail"   // 邮寄
)

// Lang selects the language of a domain text. The UI translates its own
// strings through Fyne's lang; domain texts travel to the server and back, so
// they carry both languages themselves.
type Lang string

const (
	ZH Lang = "zh"
	EN Lang = "en"
)

func (l Lang) pick(zh, en string) string {
	if l == EN {
		return en
	}
	return zh
}

// Text is a message in both languages.
type Text struct {
	ZH string `json:"zh"`
	EN string `json:"en"`
}

// In returns the text in lang.
func (t Text) In(lang Lang) string { return lang.pick(t.ZH, t.EN) }
