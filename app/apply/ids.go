package apply

import (
	"strings"
	"time"
)

// The check-character algorithms below are short, fixed by national
// standards and have no maintained Go library; they are written here.

// usccAlphabet is the GB 32100-2015 character set: digits and upper-case
// letters without I, O, S, V and Z, valued 0..30 in this order.
const usccAlphabet = "0123456789ABCDEFGHJKLMNPQRTUWXY"

var usccWeights = [17]int{1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28}

// USCCCheckChar computes the 18th character of a unified social credit code
// from its first 17. ok is false when a character is outside the alphabet.
func USCCCheckChar(first17 string) (byte, bool) {
	if len(first17) != 17 {
		return 0, false
	}
	sum := 0
	for i := 0; i < 17; i++ {
		v := strings.IndexByte(usccAlphabet, first17[i])
		if v < 0 {
			return 0, false
		}
		sum += v * usccWeights[i]
	}
	c := (31 - sum%31) % 31
	return usccAlphabet[c], true
}

// CheckUSCC validates a 统一社会信用代码 and returns the normalised code
// (upper case, no spaces) or a field error code.
func CheckUSCC(s string) (string, Code) {
	code := strings.ToUpper(strings.Join(strings.Fields(s), ""))
	code = toHalfWidth(code)
	if code == "" {
		return "", CodeRequired
	}
	if len(code) != 18 {
		return code, CodeUSCCLength
	}
	for i := 0; i < 18; i++ {
		if strings.IndexByte(usccAlphabet, code[i]) < 0 {
			return code, CodeUSCCChars
		}
	}
	// Characters 3 to 8 are the administrative division code: digits only.
	for i := 2; i < 8; i++ {
		if code[i] < '0' || code[i] > '9' {
			return code, CodeUSCCChars
		}
	}
	want, _ := USCCCheckChar(code[:17])
	if code[17] != want {
		return code, CodeUSCCCheck
	}
	return code, ""
}

var residentWeights = [17]int{7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2}

const residentCheck = "10X98765432"

// ResidentIDCheckChar computes the GB 11643-1999 check character from the
// first 17 digits.
func ResidentIDCheckChar(first17 string) (byte, bool) {
	if len(first17) != 17 {
		return 0, false
	}
	sum := 0
	for i := 0; i < 17; i++ {
		c := first17[i]
		if c < '0' || c > '9' {
			return 0, false
		}
		sum += int(c-'0') * residentWeights[i]
	}
	return residentCheck[sum%11], true
}

// provinces are the first two digits of a resident ID that name a
// province-level division (GB/T 2260), plus 8x for the Hong Kong, Macao and
// Taiwan residence permits, which share the format.
var provinces = map[string]bool{
	"11": true, "12": true, "13": true, "14": true, "15": true,
	"21": true, "22": true, "23": true,
	"31": true, "32": true, "33": true, "34": true, "35": true, "36": true, "37": true,
	"41": true, "42": true, "43": true, "44": true, "45": true, "46": true,
	"50": true, "51": true, "52": true, "53": true, "54": true,
	"61": true, "62": true, "63": true, "64": true, "65": true,
	"71": true, "81": true, "82": true, "83": true,
}

// CheckResidentID validates an 18-character resident identity card number:
// region, a real birth date not in the future, and the check character. now
// is passed in because this package does no I/O, the clock included.
func CheckResidentID(s string, now time.Time) (string, Code) {
	id := strings.ToUpper(toHalfWidth(strings.Join(strings.Fields(s), "")))
	if id == "" {
		return "", CodeRequired
	}
	if len(id) == 15 {
		return id, CodeIDOld15
	}
	if len(id) != 18 {
		return id, CodeIDLength
	}
	for i := 0; i < 17; i++ {
		if id[i] < '0' || id[i] > '9' {
			return id, CodeIDChars
		}
	}
	if c := id[17]; !(c >= '0' && c <= '9') && c != 'X' {
		return id, CodeIDChars
	}
	if !provinces[id[:2]] {
		return id, CodeIDRegion
	}
	birth, err := time.Parse("20060102", id[6:14])
	if err != nil || birth.Year() < 1900 || birth.After(now) {
		return id, CodeIDBirth
	}
	want, _ := ResidentIDCheckChar(id[:17])
	if id[17] != want {
		return id, CodeIDCheck
	}
	return id, ""
}

// IDType is the kind of identity document.
type IDType string

const (
	IDResident       IDType = "resident"        // 居民身份证
	IDHKMacauPermit  IDType = "hk_macau_permit" // 港澳居民来往内地通行证
	IDTaiwanPermit   IDType = "taiwan_permit"   // 台湾居民来往大陆通行证
	IDResidencePerm  IDType = "gat_residence"   // 港澳台居民居住证
	IDForeignPermRes IDType = "foreign_pr"      // 外国人永久居留身份证
	IDPassport       IDType = "passport"        // 护照
)

// IDTypes in the order the form offers them.
var IDTypes = []IDType{IDResident, IDHKMacauPermit, IDTaiwanPermit, IDResidencePerm, IDForeignPermRes, IDPassport}

// Label returns the display name of the ID type.
func (t IDType) Label(lang Lang) string {
	switch t {
	case IDResident:
		return lang.pick("居民身份证", "Resident identity card")
	case IDHKMacauPermit:
		return lang.pick("港澳居民来往内地通行证", "Mainland travel permit for HK/Macao residents")
	case IDTaiwanPermit:
		return lang.pick("台湾居民来往大陆通行证", "Mainland travel permit for Taiwan residents")
	case IDResidencePerm:
		return lang.pick("港澳台居民居住证", "Residence permit for HK/Macao/Taiwan residents")
	case IDForeignPermRes:
		return lang.pick("外国人永久居留身份证", "Foreign permanent resident ID card")
	case IDPassport:
		return lang.pick("护照", "Passport")
	}
	return string(t)
}

// CheckIDNumber validates a document number for its type. The resident ID
// and the cards that share its format are checked exactly; the other
// documents with looser, format-only rules, since their numbering changes
// between issues.
func CheckIDNumber(t IDType, s string, now time.Time) (string, Code) {
	switch t {
	case IDResident, "":
		return CheckResidentID(s, now)
	case IDResidencePerm:
		id, c := CheckResidentID(s, now)
		if c == "" && !strings.HasPrefix(id, "8") {
			return id, CodeIDRegion
		}
		return id, c
	}
	id := strings.ToUpper(toHalfWidth(strings.Join(strings.Fields(s), "")))
	if id == "" {
		return "", CodeRequired
	}
	ok := false
	switch t {
	case IDHKMacauPermit:
		// H or M followed by 8 digits (10 on older cards).
		ok = (id[0] == 'H' || id[0] == 'M') && (len(id) == 9 || len(id) == 11) && allDigits(id[1:])
	case IDTaiwanPermit:
		ok = (len(id) == 8 || len(id) == 10) && allDigits(id)
	case IDForeignPermRes:
		// 2023 cards: 18 characters starting with 9 and the resident-ID
		// check character; older cards: 3 letters and 12 digits.
		if len(id) == 18 && id[0] == '9' {
			want, good := ResidentIDCheckChar(id[:17])
			ok = good && id[17] == want
		} else {
			ok = len(id) == 15 && allLetters(id[:3]) && allDigits(id[3:])
		}
	case IDPassport:
		ok = len(id) >= 5 && len(id) <= 17 && allAlnum(id)
	default:
		return id, CodeIDType
	}
	if !ok {
		return id, CodeIDFormat
	}
	return id, ""
}

func allDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return s != ""
}

func allLetters(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < 'A' || s[i] > 'Z' {
			return false
		}
	}
	return s != ""
}

func allAlnum(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= '0' && c <= '9' || c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z') {
			return false
		}
	}
	return s != ""
}

// toHalfWidth maps full-width ASCII (as typed by a Chinese IME in full-width
// mode) to ASCII, so "９１３５…" is read as "9135…" rather than refused.
func toHalfWidth(s string) string {
	return strings.Map(func(r rune) rune {
		if r >= '！' && r <= '～' {
			return r - '！' + '!'
		}
		if r == '\u3000' {
			return ' '
		}
		return r
	}, s)
}
