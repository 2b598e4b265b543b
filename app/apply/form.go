package apply

import (
	"net/mail"
	"regexp"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// Field keys. They are the wire names of the form values.
const (
	FUsername         = "cert_username"
	FOrgName          = "org_name"
	FOrgCode          = "org_code"
	FOrgAddress       = "org_address"
	FApplicantName    = "applicant_name"
	FApplicantIDType  = "applicant_id_type"
	FApplicantID      = "applicant_id_number"
	FApplicantMobile  = "applicant_mobile"
	FApplicantEmail   = "applicant_email"
	FHandlerSame      = "handler_same_as_applicant"
	FHandlerName      = "handler_name"
	FHandlerIDType    = "handler_id_type"
	FHandlerID        = "handler_id_number"
	FHandlerMobile    = "handler_mobile"
	FHandlerEmail     = "handler_email"
	FSecurityQuestion = "security_question"
	FSecurityAnswer   = "security_answer"
	FServiceSeal      = "service_seal"
	FServiceSignature = "service_signature"
	FDelivery         = "delivery"
	FMailRecipient    = "mail_recipient"
	FMailPhone        = "mail_phone"
	FMailAddress      = "mail_address"
	FMailPostcode     = "mail_postcode"
)

// Values are the form's values by field key. Booleans are "true" or "".
type Values map[string]string

// Bool reads a boolean field.
func (v Values) Bool(key string) bool {
	switch strings.ToLower(strings.TrimSpace(v[key])) {
	case "true", "1", "yes", "on":
		return true
	}
	return false
}

// Options reads the service options from the form.
func (v Values) Options() Options {
	return Options{Seal: v.Bool(FServiceSeal), Signature: v.Bool(FServiceSignature)}
}

// HandlerIsApplicant tells whether one person is both applicant and handler,
// so one ID image serves both (seed: 与申请人相同则重复上传同一个即可).
func (v Values) HandlerIsApplicant(k Kind) bool {
	return k == KindPersonal && v.Bool(FHandlerSame)
}

// FieldType says how the UI renders a field.
type FieldType string

const (
	TypeText   FieldType = "text"
	TypeChoice FieldType = "choice"
	TypeBool   FieldType = "bool"
	// TypeSecret is typed like text but never stored or echoed in clear
	// (the security answer: only its hash is kept).
	TypeSecret FieldType = "secret"
)

// Choice is one option of a choice field.
type Choice struct {
	Value string `json:"value"`
	Label Text   `json:"label"`
}

// Field describes one form field: how it is labelled, whether it is
// required, and how it is checked.
type Field struct {
	Key      string
	Label    Text
	Help     Text
	Type     FieldType
	Required bool
	Choices  []Choice
	MinLen   int // in characters, not bytes
	MaxLen   int
	// Active reports whether the field applies given the other values
	// (e.g. the mailing address only for mail delivery). Inactive fields are
	// hidden, not required and not checked.
	Active func(Values) bool
	// check returns a normalised value and an error code ("" when valid).
	check func(v string, now time.Time, all Values) (string, Code)
}

// IsActive reports whether the field applies to these values.
func (f *Field) IsActive(v Values) bool { return f.Active == nil || f.Active(v) }

var (
	reUsername = regexp.MustCompile(`^[A-Za-z0-9]{1,12}$`)
	reMobile   = regexp.MustCompile(`^1[3-9][0-9]{9}$`)
	rePostcode = regexp.MustCompile(`^[0-9]{6}$`)
)

func checkUsername(v string, _ time.Time, _ Values) (string, Code) {
	v = strings.TrimSpace(toHalfWidth(v))
	if !reUsername.MatchString(v) {
		return v, CodeUsername
	}
	return v, ""
}

// NormalizeMobile strips spaces, dashes and a +86/0086 prefix.
func NormalizeMobile(v string) string {
	v = toHalfWidth(v)
	v = strings.Map(func(r rune) rune {
		if r == ' ' || r == '-' || r == '(' || r == ')' {
			return -1
		}
		return r
	}, v)
	for _, p := range []string{"+86", "0086"} {
		if strings.HasPrefix(v, p) {
			v = v[len(p):]
		}
	}
	return v
}

// CheckMobile validates a mainland mobile number and returns it normalised.
func CheckMobile(v string) (string, Code) {
	v = NormalizeMobile(v)
	if !reMobile.MatchString(v) {
		return v, CodeMobile
	}
	return v, ""
}

func checkMobile(v string, _ time.Time, _ Values) (string, Code) { return CheckMobile(v) }

// CheckEmail validates a bare address with a dotted domain.
func CheckEmail(v string) (string, Code) {
	v = strings.TrimSpace(toHalfWidth(v))
	a, err := mail.ParseAddress(v)
	if err != nil || a.Name != "" || a.Address != v {
		return v, CodeEmail
	}
	at := strings.LastIndexByte(v, '@')
	domain := v[at+1:]
	if !strings.Contains(domain, ".") || strings.HasPrefix(domain, ".") || strings.HasSuffix(domain, ".") || strings.Contains(domain, "..") {
		return v, CodeEmail
	}
	for _, r := range v {
		if r > unicode.MaxASCII {
			return v, CodeEmail
		}
	}
	return v, ""
}

func checkEmail(v string, _ time.Time, _ Values) (string, Code) { return CheckEmail(v) }

func checkPostcode(v string, _ time.Time, _ Values) (string, Code) {
	v = strings.TrimSpace(toHalfWidth(v))
	if !rePostcode.MatchString(v) {
		return v, CodePostcode
	}
	return v, ""
}

func checkUSCC(v string, _ time.Time, _ Values) (string, Code) { return CheckUSCC(v) }

// checkPersonName accepts names as printed on Chinese and foreign documents:
// Han characters (any plane, so 堃 and 𠮷 pass), letters, spaces, the middle
// dot and hyphens.
func checkPersonName(v string, _ time.Time, _ Values) (string, Code) {
	v = strings.TrimSpace(v)
	v = strings.ReplaceAll(v, "•", "·")
	v = strings.ReplaceAll(v, "．", "·")
	for _, r := range v {
		if unicode.Is(unicode.Han, r) || unicode.IsLetter(r) || r == ' ' || r == '·' || r == '-' || r == '\'' {
			continue
		}
		return v, CodeName
	}
	return v, ""
}

func checkOrgName(v string, _ time.Time, _ Values) (string, Code) {
	if v != strings.TrimSpace(v) {
		return strings.TrimSpace(v), CodeOrgName
	}
	return v, "" // control and format characters: Field.Check, before this
}

func checkIDFor(typeKey string) func(string, time.Time, Values) (string, Code) {
	return func(v string, now time.Time, all Values) (string, Code) {
		return CheckIDNumber(IDType(all[typeKey]), v, now)
	}
}

func checkAnswer(v string, _ time.Time, all Values) (string, Code) {
	a := NormalizeAnswer(v)
	if utf8.RuneCountInString(a) < 2 {
		return v, CodeAnswerTooWeak
	}
	if q := NormalizeAnswer(all[FSecurityQuestion]); q != "" && strings.Contains(q, a) {
		return v, CodeAnswerInQ
	}
	return v, ""
}

// NormalizeAnswer is the form of the security answer that is hashed and
// compared at renewal: case, width and surrounding or repeated spaces do not
// matter, so a renewal months later is not refused for a capital letter.
func NormalizeAnswer(s string) string {
	return strings.ToLower(strings.Join(strings.Fields(toHalfWidth(s)), " "))
}

func idTypeChoices() []Choice {
	cs := make([]Choice, len(IDTypes))
	for i, t := range IDTypes {
		cs[i] = Choice{Value: string(t), Label: Text{t.Label(ZH), t.Label(EN)}}
	}
	return cs
}

var deliveryChoices = []Choice{
	{Value: string(DeliveryPickup), Label: Text{"到受理点领取", "Collect at the service point"}},
	{Value: string(DeliveryMail), Label: Text{"邮寄", "By post"}},
}

func isMail(v Values) bool       { return v[FDelivery] == string(DeliveryMail) }
func handlerShown(v Values) bool { return !v.Bool(FHandlerSame) }

// SecurityQuestions are suggestions; the applicant may write their own.
var SecurityQuestions = []Text{
	{"您母亲的姓名是?", "What is your mother's name?"},
	{"您的出生地是?", "Where were you born?"},
	{"您小学的校名是?", "What was the name of your primary school?"},
	{"您第一个宠物的名字是?", "What was the name of your first pet?"},
}

// fieldDefs holds every field once; the schemas below pick and order them.
func fieldDefs() map[string]Field {
	person := func(prefix string, zh, en string) []Field {
		return []Field{
			{Key: prefix + "_name", Label: Text{zh + "姓名", en + " name"}, Help: Text{"与证件上的姓名完全一致", "Exactly as on the ID document"}, Type: TypeText, Required: true, MinLen: 2, MaxLen: 40, check: checkPersonName},
			{Key: prefix + "_id_type", Label: Text{zh + "证件类型", en + " ID type"}, Type: TypeChoice, Required: true, Choices: idTypeChoices()},
			{Key: prefix + "_id_number", Label: Text{zh + "证件号码", en + " ID number"}, Help: Text{"居民身份证为 18 位,末位可能是 X", "A resident ID has 18 characters; the last may be X"}, Type: TypeText, Required: true, MaxLen: 20, check: checkIDFor(prefix + "_id_type")},
			{Key: prefix + "_mobile", Label: Text{zh + "手机", en + " mobile"}, Help: Text{"用于接收业务办理状态的短信通知,请务必准确可用", "Status notices are sent to it by SMS: make sure it is correct and in use"}, Type: TypeText, Required: true, MaxLen: 20, check: checkMobile},
			{Key: prefix + "_email", Label: Text{zh + "电子邮箱", en + " email"}, Help: Text{"用于接收电子发票,请务必准确可用", "The e-invoice is sent to it: make sure it is correct and in use"}, Type: TypeText, Required: true, MaxLen: 100, check: checkEmail},
		}
	}
	fs := []Field{
		{Key: FUsername, Label: Text{"证书用户名", "Certificate username"}, Help: Text{"一个用户名对应一个证书,不可重名;不超过 12 位字母或数字,可用手机号或简拼", "One username per certificate, never reused; up to 12 letters or digits, e.g. a mobile number or initials"}, Type: TypeText, Required: true, MaxLen: 12, check: checkUsername},
		{Key: FOrgName, Label: Text{"单位名称", "Organisation name"}, Help: Text{"务必与单位证件(营业执照等)上的名称完全相符", "Exactly as on the business licence or other organisation document"}, Type: TypeText, Required: true, MinLen: 2, MaxLen: 100, check: checkOrgName},
		{Key: FOrgCode, Label: Text{"统一社会信用代码", "Unified social credit code"}, Help: Text{"18 位,见营业执照", "18 characters, on the business licence"}, Type: TypeText, Required: true, MaxLen: 24, check: checkUSCC},
		{Key: FOrgAddress, Label: Text{"单位地址", "Organisation address"}, Type: TypeText, Required: true, MinLen: 5, MaxLen: 200},
		{Key: FHandlerSame, Label: Text{"经办人与申请人为同一人", "The handler is the applicant"}, Help: Text{"勾选后只需上传一次证件材料", "If ticked, the ID document is uploaded once"}, Type: TypeBool},
		{Key: FSecurityQuestion, Label: Text{"验证问题", "Security question"}, Help: Text{"办理证书更新等后续业务时会问到", "Asked when you renew the certificate"}, Type: TypeText, Required: true, MinLen: 2, MaxLen: 60},
		{Key: FSecurityAnswer, Label: Text{"验证答案", "Security answer"}, Help: Text{"请牢记,并做纸质记录;办理证书更新时要用", "Remember it and keep a paper note: it is needed to renew the certificate"}, Type: TypeSecret, Required: true, MaxLen: 60, check: checkAnswer},
		{Key: FServiceSeal, Label: Text{"办理签章服务", "Seal service"}, Help: Text{"需要上传 300 DPI 的签章印模", "Needs a 300 DPI scan of the seal imprint"}, Type: TypeBool},
		{Key: FServiceSignature, Label: Text{"办理签名服务", "Signature service"}, Help: Text{"需要上传 300 DPI 的签名印模", "Needs a 300 DPI scan of the signature imprint"}, Type: TypeBool},
		{Key: FDelivery, Label: Text{"UKEY 领取方式", "How to receive the UKEY"}, Type: TypeChoice, Required: true, Choices: deliveryChoices},
		{Key: FMailRecipient, Label: Text{"收件人", "Recipient"}, Type: TypeText, Required: true, MinLen: 2, MaxLen: 40, Active: isMail, check: checkPersonName},
		{Key: FMailPhone, Label: Text{"收件人手机", "Recipient's mobile"}, Type: TypeText, Required: true, MaxLen: 20, Active: isMail, check: checkMobile},
		{Key: FMailAddress, Label: Text{"收件地址", "Postal address"}, Help: Text{"省、市、区县、街道门牌", "Province, city, district, street and number"}, Type: TypeText, Required: true, MinLen: 8, MaxLen: 200, Active: isMail},
		{Key: FMailPostcode, Label: Text{"邮政编码", "Postal code"}, Type: TypeText, Required: true, MaxLen: 6, Active: isMail, check: checkPostcode},
	}
	fs = append(fs, person("applicant", "申请人", "Applicant")...)
	hs := person("handler", "经办人", "Handler")
	for i := range hs {
		hs[i].Active = handlerShown
	}
	fs = append(fs, hs...)
	m := make(map[string]Field, len(fs))
	for _, f := range fs {
		m[f.Key] = f
	}
	return m
}

var schemaOrder = map[Kind][]string{
	// The seed's 单位证书制作申请表: the organisation, then the handler who
	// acts for it.
	KindOrg: {FUsername, FOrgName, FOrgCode, FOrgAddress,
		FHandlerName, FHandlerIDType, FHandlerID, FHandlerMobile, FHandlerEmail,
		FSecurityQuestion, FSecurityAnswer, FServiceSeal, FServiceSignature,
		FDelivery, FMailRecipient, FMailPhone, FMailAddress, FMailPostcode},
	// A personal certificate is held by a person of an organisation (the
	// seed asks for the organisation's 授权委托书), applied for by a handler
	// who may be that person.
	KindPersonal: {FUsername, FApplicantName, FApplicantIDType, FApplicantID, FApplicantMobile, FApplicantEmail,
		FOrgName, FOrgCode, FHandlerSame,
		FHandlerName, FHandlerIDType, FHandlerID, FHandlerMobile, FHandlerEmail,
		FSecurityQuestion, FSecurityAnswer, FServiceSeal, FServiceSignature,
		FDelivery, FMailRecipient, FMailPhone, FMailAddress, FMailPostcode},
}

// Schema returns the form fields of a kind, in display order.
func Schema(k Kind) []Field {
	defs := fieldDefs()
	keys := schemaOrder[k]
	out := make([]Field, 0, len(keys))
	for _, key := range keys {
		out = append(out, defs[key])
	}
	return out
}

// FieldByKey finds one field of a kind's schema.
func FieldByKey(k Kind, key string) (Field, bool) {
	for _, f := range Schema(k) {
		if f.Key == key {
			return f, true
		}
	}
	return Field{}, false
}

// Check validates one field in the context of the whole form, as the UI does
// when the user leaves the field. It returns the normalised value.
func (f *Field) Check(v string, all Values, now time.Time) (string, *FieldError) {
	if !f.IsActive(all) {
		return v, nil
	}
	fail := func(norm string, c Code) (string, *FieldError) {
		return norm, &FieldError{Field: f.Key, Code: c, Message: message(c, f.Label, f)}
	}
	switch f.Type {
	case TypeBool:
		if all.Bool(f.Key) {
			return "true", nil
		}
		return "", nil
	case TypeChoice:
		v = strings.TrimSpace(v)
		if v == "" {
			if f.Required {
				return fail(v, CodeRequired)
			}
			return v, nil
		}
		for _, c := range f.Choices {
			if c.Value == v {
				return v, nil
			}
		}
		return fail(v, CodeChoice)
	}
	// Before any other check, which might strip or misread it.
	if fe := f.invisible(v); fe != nil {
		return v, fe
	}
	if f.Type != TypeSecret {
		v = strings.TrimRight(v, " \t\r\n")
	}
	if strings.TrimSpace(v) == "" {
		if f.Required {
			return fail("", CodeRequired)
		}
		return "", nil
	}
	n := utf8.RuneCountInString(strings.TrimSpace(v))
	if f.MaxLen > 0 && n > f.MaxLen {
		return fail(v, CodeTooLong)
	}
	if f.MinLen > 0 && n < f.MinLen {
		return fail(v, CodeTooShort)
	}
	if f.check != nil {
		norm, c := f.check(v, now, all)
		if c != "" {
			return fail(norm, c)
		}
		return norm, nil
	}
	return strings.TrimSpace(v), nil
}

// Validate checks a whole form of kind k: every field of the schema, and
// no field outside it. It returns the normalised values (inactive fields
// dropped) and every error, in display order.
func Validate(k Kind, in Values, now time.Time) (Values, FieldErrors) {
	schema := Schema(k)
	known := make(map[string]bool, len(schema))
	out := make(Values, len(schema))
	var errs FieldErrors
	for i := range schema {
		f := &schema[i]
		known[f.Key] = true
		if !f.IsActive(in) {
			continue
		}
		norm, fe := f.Check(in[f.Key], in, now)
		if fe != nil {
			errs = append(errs, *fe)
		}
		if norm != "" {
			out[f.Key] = norm
		}
	}
	for key := range in {
		if !known[key] {
			errs = append(errs, FieldError{Field: key, Code: CodeUnknownField, Message: message(CodeUnknownField, Text{key, key}, nil)})
		}
	}
	return out, errs
}

// CopyForSimilar returns the values a 类似申请 starts from: the organisation
// and the handler, never the username (one username per certificate), the
// applicant or the security answer.
func CopyForSimilar(k Kind, v Values) Values {
	keep := []string{FOrgName, FOrgCode, FOrgAddress,
		FHandlerName, FHandlerIDType, FHandlerID, FHandlerMobile, FHandlerEmail,
		FDelivery, FMailRecipient, FMailPhone, FMailAddress, FMailPostcode}
	out := Values{}
	for _, key := range keep {
		if s, ok := v[key]; ok && s != "" {
			out[key] = s
		}
	}
	if k == KindPersonal && v.Bool(FHandlerSame) {
		// The previous applicant acted for themself; in the new application
		// they are the handler for someone else.
		out[FHandlerName] = v[FApplicantName]
		out[FHandlerIDType] = v[FApplicantIDType]
		out[FHandlerID] = v[FApplicantID]
		out[FHandlerMobile] = v[FApplicantMobile]
		if e := v[FApplicantEmail]; e != "" {
			out[FHandlerEmail] = e
		}
	}
	return out
}
