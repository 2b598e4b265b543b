package apply

import (
	_ "embed"
	"encoding/json"
	"fmt"
	"strings"
)

// The default schedule is data shipped with the program; a CA replaces it
// with its own file in the server's configuration.
//
//go:embed fees.json
var defaultFees []byte

// FeeItem is one priced line.
type FeeItem struct {
	Label Text  `json:"label"`
	Fen   int64 `json:"fen"`
}

// Schedule is a CA's price list. Amounts are integer fen: money is never a
// float.
type Schedule struct {
	Version  string              `json:"version"`
	Currency string              `json:"currency"`
	Kinds    map[Kind]FeeItem    `json:"kinds"`
	Services map[Service]FeeItem `json:"services"`
	MailFen  int64               `json:"mail_fen"`
	// Renewal is the fee of a renewal (证书更新) per kind, the UKEY kept;
	// a kind without one renews free of charge.
	Renewal map[Kind]FeeItem `json:"renewal,omitempty"`
}

// DefaultSchedule returns the schedule shipped with CertDesk.
func DefaultSchedule() Schedule {
	s, err := ParseSchedule(defaultFees)
	if err != nil {
		panic("embedded fees.json: " + err.Error()) // a build defect, caught by tests
	}
	return s
}

// ParseSchedule reads and checks a schedule.
func ParseSchedule(b []byte) (Schedule, error) {
	var s Schedule
	if err := json.Unmarshal(b, &s); err != nil {
		return Schedule{}, fmt.Errorf("parse fee schedule: %w", err)
	}
	for _, k := range Kinds {
		it, ok := s.Kinds[k]
		if !ok || it.Fen <= 0 {
			return Schedule{}, fmt.Errorf("fee schedule %s: no positive fee for kind %s", s.Version, k)
		}
	}
	for _, sv := range []Service{ServiceSeal, ServiceSignature} {
		if it, ok := s.Services[sv]; !ok || it.Fen < 0 {
			return Schedule{}, fmt.Errorf("fee schedule %s: no fee for service %s", s.Version, sv)
		}
	}
	if s.MailFen < 0 {
		return Schedule{}, fmt.Errorf("fee schedule %s: negative mail fee", s.Version)
	}
	return s, nil
}

// Quote is the itemised fee of one application.
type Quote struct {
	Items    []FeeItem `json:"items"`
	TotalFen int64     `json:"total_fen"`
	Currency string    `json:"currency"`
	Version  string    `json:"schedule_version"`
}

// Quote prices a kind with its options and delivery.
func (s Schedule) Quote(k Kind, o Options, d Delivery) (Quote, error) {
	base, ok := s.Kinds[k]
	if !ok {
		return Quote{}, fmt.Errorf("no fee for kind %q", k)
	}
	q := Quote{Items: []FeeItem{base}, Currency: s.Currency, Version: s.Version}
	for _, sv := range o.Services() {
		q.Items = append(q.Items, s.Services[sv])
	}
	if d == DeliveryMail && s.MailFen > 0 {
		q.Items = append(q.Items, FeeItem{Label: Text{"UKEY 邮寄费", "UKEY postage"}, Fen: s.MailFen})
	}
	for _, it := range q.Items {
		q.TotalFen += it.Fen
	}
	return q, nil
}

// RenewalQuote is what a renewal costs: the kind's renewal fee and the
// services chosen (they are yearly too); no postage, the UKEY stays.
func (s Schedule) RenewalQuote(k Kind, o Options) Quote {
	q := Quote{Currency: s.Currency, Version: s.Version, Items: []FeeItem{}}
	if it, ok := s.Renewal[k]; ok && it.Fen > 0 {
		q.Items = append(q.Items, it)
		for _, sv := range o.Services() {
			q.Items = append(q.Items, s.Services[sv])
		}
	}
	for _, it := range q.Items {
		q.TotalFen += it.Fen
	}
	return q
}

// FormatFen renders an amount as yuan with two decimals, e.g. 30000 → "300.00".
func FormatFen(fen int64) string {
	sign := ""
	if fen < 0 {
		sign, fen = "-", -fen
	}
	return fmt.Sprintf("%s%d.%02d", sign, fen/100, fen%100)
}

// ParseYuan reads an amount in yuan with at most two decimals ("300",
// "300.5", "300.50") as fen, exactly: providers send amounts so, and money
// is never a float here.
func ParseYuan(s string) (int64, error) {
	y, f, frac := s, "", false
	if i := strings.IndexByte(s, '.'); i >= 0 {
		y, f, frac = s[:i], s[i+1:], true
	}
	if y == "" || len(y) > 15 || frac && (len(f) == 0 || len(f) > 2) {
		return 0, fmt.Errorf("amount %q: not yuan with up to two decimals", s)
	}
	var fen int64
	for _, c := range y + (f + "00")[:2] {
		if c < '0' || c > '9' {
			return 0, fmt.Errorf("amount %q: not yuan with up to two decimals", s)
		}
		fen = fen*10 + int64(c-'0')
	}
	return fen, nil
}
