package apply

import (
	"errors"
	"fmt"
	"strings"
)

// Code is a stable, machine-readable reason for a field error. Codes travel
// on the wire and appear in support logs; never rename one.
type Code string

const (
	CodeRequired      Code = "required"
	CodeTooLong       Code = "too_long"
	CodeTooShort      Code = "too_short"
	CodeChoice        Code = "invalid_choice"
	CodeUsername      Code = "username.format"
	CodeUSCCLength    Code = "uscc.length"
	CodeUSCCChars     Code = "uscc.chars"
	CodeUSCCCheck     Code = "uscc.check"
	CodeIDLength      Code = "id.length"
	CodeIDOld15       Code = "id.old15"
	CodeIDChars       Code = "id.chars"
	CodeIDRegion      Code = "id.region"
	CodeIDBirth       Code = "id.birth"
	CodeIDCheck       Code = "id.check"
	CodeIDFormat      Code = "id.format"
	CodeIDType        Code = "id.type"
	CodeMobile        Code = "mobile.format"
	CodeEmail         Code = "email.format"
	CodePostcode      Code = "postcode.format"
	CodeName          Code = "name.format"
	CodeOrgName       Code = "org_name.format"
	CodeAnswerTooWeak Code = "security_answer.weak"
	CodeAnswerInQ     Code = "security_answer.in_question"
	CodeUnknownField  Code = "unknown_field"
	CodeInvisible     Code = "text.invisible"
)

// FieldError is one problem with one form field, worded for the person who
// typed it: what is wrong and how to fix it.
type FieldError struct {
	Field   string `json:"field"`
	Code    Code   `json:"code"`
	Message Text   `json:"message"`
}

func (e FieldError) Error() string {
	return fmt.Sprintf("%s: %s (%s)", e.Field, e.Message.EN, e.Code)
}

// FieldErrors is the result of validating a whole form.
type FieldErrors []FieldError

func (es FieldErrors) Error() string {
	parts := make([]string, len(es))
	for i, e := range es {
		parts[i] = e.Error()
	}
	return strings.Join(parts, "; ")
}

// For returns the errors for one field.
func (es FieldErrors) For(field string) []FieldError {
	var out []FieldError
	for _, e := range es {
		if e.Field == field {
			out = append(out, e)
		}
	}
	return out
}

// message words a code for a field. label is the field's label.
func message(c Code, label Text, f *Field) Text {
	switch c {
	case CodeRequired:
		return Text{"请填写" + label.ZH + "(带 * 的为必填项)", label.EN + " is required (fields marked * must be filled in)"}
	case CodeTooLong:
		return Text{fmt.Sprintf("%s最多 %d 个字,请删减", label.ZH, f.MaxLen), fmt.Sprintf("%s is at most %d characters; please shorten it", label.EN, f.MaxLen)}
	case CodeTooShort:
		return Text{fmt.Sprintf("%s至少 %d 个字,请补全", label.ZH, f.MinLen), fmt.Sprintf("%s needs at least %d characters; please complete it", label.EN, f.MinLen)}
	case CodeChoice:
		return Text{"请从列表中选择" + label.ZH, "Please choose " + label.EN + " from the list"}
	case CodeUsername:
		return Text{"用户名只能是 1–12 位英文字母或数字(不能有汉字、空格或符号),例如手机号或单位简拼", "The username is 1–12 letters or digits only (no Chinese characters, spaces or symbols), e.g. a mobile number or the initials of the organisation"}
	case CodeUSCCLength:
		return Text{"统一社会信用代码应为 18 位,请对照营业执照逐位核对", "The unified social credit code has 18 characters; check it character by character against the business licence"}
	case CodeUSCCChars:
		return Text{"统一社会信用代码只含数字和大写字母(不含 I、O、S、V、Z),第 3–8 位为数字;请核对是否把字母 O 输成了数字 0 等", "The unified social credit code has only digits and capital letters (never I, O, S, V or Z), and characters 3–8 are digits; check for O typed as 0 and the like"}
	case CodeUSCCCheck:
		return Text{"统一社会信用代码校验位不符,其中某一位可能输错了,请对照营业执照重新核对", "The check character of the unified social credit code does not match: one character is probably mistyped; compare it with the business licence again"}
	case CodeIDLength:
		return Text{"居民身份证号码应为 18 位,请核对", "A resident ID number has 18 characters; please check it"}
	case CodeIDOld15:
		return Text{"这是 15 位的旧身份证号码,请填写现行 18 位身份证上的号码", "This is an old 15-digit ID number; enter the 18-character number on the current ID card"}
	case CodeIDChars:
		return Text{"身份证号码前 17 位应为数字,最后一位为数字或 X", "The first 17 characters of an ID number are digits and the last is a digit or X"}
	case CodeIDRegion:
		return Text{"身份证号码前两位不是有效的地区代码,请核对", "The first two digits of the ID number are not a valid region code; please check them"}
	case CodeIDBirth:
		return Text{"身份证号码第 7–14 位的出生日期不存在,请核对", "Characters 7–14 of the ID number are not a real date of birth; please check them"}
	case CodeIDCheck:
		return Text{"身份证号码校验位不符,其中某一位可能输错了,请对照证件重新核对", "The check digit of the ID number does not match: one digit is probably mistyped; compare it with the card again"}
	case CodeIDFormat:
		return Text{"证件号码格式不符合所选证件类型,请核对证件类型和号码", "The number does not fit the chosen document type; check the type and the number"}
	case CodeIDType:
		return Text{"请选择证件类型", "Please choose the ID document type"}
	case CodeMobile:
		return Text{"请填写 11 位中国大陆手机号码,例如 13800138000;该号码用于接收业务办理状态短信", "Enter an 11-digit mainland China mobile number, e.g. 13800138000; status notices are sent to it by SMS"}
	case CodeEmail:
		return Text{"电子邮箱格式不正确,例如 name@example.com;该邮箱用于接收电子发票", "The email address is not valid, e.g. name@example.com; the e-invoice is sent to it"}
	case CodePostcode:
		return Text{"邮政编码应为 6 位数字", "The postal code has 6 digits"}
	case CodeName:
		return Text{"姓名请与证件上完全一致(汉字、字母、空格或间隔号 ·),不要含数字或其他符号", "Enter the name exactly as on the ID document (Chinese characters, letters, spaces or the middle dot ·), without digits or other symbols"}
	case CodeOrgName:
		return Text{"单位名称请与营业执照等单位证件上的名称完全一致,首尾不要有空格", "Enter the organisation name exactly as on the business licence, without leading or trailing spaces"}
	case CodeAnswerTooWeak:
		return Text{"验证答案至少 2 个字,请设一个自己记得住、别人猜不到的答案;办理证书更新时要用", "The security answer needs at least 2 characters: pick one you will remember and others cannot guess; it is needed to renew the certificate"}
	case CodeAnswerInQ:
		return Text{"验证答案不能出现在验证问题里", "The security answer must not appear in the question"}
	case CodeUnknownField:
		return Text{"未知的字段", "Unknown field"}
	}
	return Text{label.ZH + "填写有误", label.EN + " is not valid"}
}

// Sentinel errors for callers that branch on the kind of failure.
var (
	// ErrTransition: the application's state does not allow the event.
	ErrTransition = errors.New("transition not allowed in this state")
	// ErrActor: the event exists in this state but not for this actor.
	ErrActor = errors.New("actor may not take this step")
)
