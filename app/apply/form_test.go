package apply

import (
	"strings"
	"testing"
	"time"
)

func validOrg() Values {
	return Values{
		FUsername:         "zhsoft01",
		FOrgName:          "福州示例软件有限公司",
		FOrgCode:          "91350100M000100Y43",
		FOrgAddress:       "福建省福州市鼓楼区五四路 100 号",
		FHandlerName:      "王堃",
		FHandlerIDType:    string(IDResident),
		FHandlerID:        "11010519491231002X",
		FHandlerMobile:    "13800138000",
		FHandlerEmail:     "wang@example.com",
		FSecurityQuestion: "您的出生地是?",
		FSecurityAnswer:   "福州",
		FServiceSeal:      "true",
		FDelivery:         string(DeliveryPickup),
	}
}

func validPersonal() Values {
	return Values{
		FUsername:         "lizhe",
		FApplicantName:    "李喆",
		FApplicantIDType:  string(IDResident),
		FApplicantID:      "11010519491231002X",
		FApplicantMobile:  "+86 139-0013-9000",
		FApplicantEmail:   "li@example.cn",
		FOrgName:          "福州示例软件有限公司",
		FOrgCode:          "91350100M000100Y43",
		FHandlerSame:      "true",
		FSecurityQuestion: "您第一个宠物的名字是?",
		FSecurityAnswer:   "Mimi",
		FServiceSignature: "true",
		FDelivery:         string(DeliveryMail),
		FMailRecipient:    "李喆",
		FMailPhone:        "13900139000",
		FMailAddress:      "福建省福州市鼓楼区五四路 100 号 8 楼",
		FMailPostcode:     "350001",
	}
}

func TestValidateValidForms(t *testing.T) {
	for _, tc := range []struct {
		kind Kind
		v    Values
	}{{KindOrg, validOrg()}, {KindPersonal, validPersonal()}} {
		norm, errs := Validate(tc.kind, tc.v, testNow)
		if len(errs) != 0 {
			t.Fatalf("%s: unexpected errors: %v", tc.kind, errs)
		}
		if tc.kind == KindPersonal {
			if norm[FApplicantMobile] != "13900139000" {
				t.Errorf("mobile not normalised: %q", norm[FApplicantMobile])
			}
			if _, ok := norm[FHandlerName]; ok {
				t.Errorf("inactive handler field kept: %v", norm)
			}
		}
	}
}

func TestValidateFieldErrors(t *testing.T) {
	tests := []struct {
		name   string
		kind   Kind
		change Values
		field  string
		code   Code
	}{
		{"username with Chinese", KindOrg, Values{FUsername: "示例01"}, FUsername, CodeUsername},
		{"username 13 chars", KindOrg, Values{FUsername: "abcdefghijklm"}, FUsername, CodeTooLong},
		{"username with space", KindOrg, Values{FUsername: "ab cd"}, FUsername, CodeUsername},
		{"username missing", KindOrg, Values{FUsername: ""}, FUsername, CodeRequired},
		{"credit code typo", KindOrg, Values{FOrgCode: "91350100M000100Y44"}, FOrgCode, CodeUSCCCheck},
		{"org name padded", KindOrg, Values{FOrgName: " 福州示例软件有限公司"}, FOrgName, CodeOrgName},
		{"org name missing", KindOrg, Values{FOrgName: "  "}, FOrgName, CodeRequired},
		{"ID check", KindOrg, Values{FHandlerID: "110105194912310021"}, FHandlerID, CodeIDCheck},
		{"ID type unknown", KindOrg, Values{FHandlerIDType: "driver"}, FHandlerIDType, CodeChoice},
		{"passport format", KindOrg, Values{FHandlerIDType: string(IDPassport), FHandlerID: "E-1"}, FHandlerID, CodeIDFormat},
		{"mobile 10 digits", KindOrg, Values{FHandlerMobile: "1380013800"}, FHandlerMobile, CodeMobile},
		{"mobile landline", KindOrg, Values{FHandlerMobile: "059187654321"}, FHandlerMobile, CodeMobile},
		{"email no domain dot", KindOrg, Values{FHandlerEmail: "wang@example"}, FHandlerEmail, CodeEmail},
		{"email display name", KindOrg, Values{FHandlerEmail: "Wang <wang@example.com>"}, FHandlerEmail, CodeEmail},
		{"name with digits", KindOrg, Values{FHandlerName: "王2"}, FHandlerName, CodeName},
		{"answer one char", KindOrg, Values{FSecurityAnswer: "福"}, FSecurityAnswer, CodeAnswerTooWeak},
		{"answer in question", KindOrg, Values{FSecurityQuestion: "福州是我的出生地吗", FSecurityAnswer: "福州"}, FSecurityAnswer, CodeAnswerInQ},
		{"delivery missing", KindOrg, Values{FDelivery: ""}, FDelivery, CodeRequired},
		{"mail without postcode", KindPersonal, Values{FMailPostcode: ""}, FMailPostcode, CodeRequired},
		{"postcode 5 digits", KindPersonal, Values{FMailPostcode: "35000"}, FMailPostcode, CodePostcode},
		{"address too short", KindPersonal, Values{FMailAddress: "福州"}, FMailAddress, CodeTooShort},
		{"handler needed when not same", KindPersonal, Values{FHandlerSame: ""}, FHandlerName, CodeRequired},
		{"unknown field", KindOrg, Values{"favourite_colour": "red"}, "favourite_colour", CodeUnknownField},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v := validOrg()
			if tt.kind == KindPersonal {
				v = validPersonal()
			}
			for k, s := range tt.change {
				v[k] = s
			}
			_, errs := Validate(tt.kind, v, testNow)
			got := errs.For(tt.field)
			if len(got) != 1 || got[0].Code != tt.code {
				t.Fatalf("errors for %s = %v, want one %s (all: %v)", tt.field, got, tt.code, errs)
			}
			m := got[0].Message
			if m.ZH == "" || m.EN == "" || !containsHan(m.ZH) {
				t.Errorf("message not in both languages: %+v", m)
			}
		})
	}
}

func containsHan(s string) bool {
	for _, r := range s {
		if r >= 0x4E00 && r <= 0x9FFF {
			return true
		}
	}
	return false
}

func TestSchemaMarksRequiredAndLabels(t *testing.T) {
	for _, k := range Kinds {
		seen := map[string]bool{}
		for _, f := range Schema(k) {
			if f.Key == "" || f.Label.ZH == "" || f.Label.EN == "" {
				t.Errorf("%s: field %q lacks a key or label", k, f.Key)
			}
			if seen[f.Key] {
				t.Errorf("%s: field %q twice", k, f.Key)
			}
			seen[f.Key] = true
		}
		for _, must := range []string{FUsername, FOrgName, FHandlerMobile, FHandlerEmail, FSecurityQuestion, FSecurityAnswer, FDelivery} {
			f, ok := FieldByKey(k, must)
			if !ok || !f.Required {
				t.Errorf("%s: %s must be in the schema and required", k, must)
			}
		}
	}
	if f, _ := FieldByKey(KindOrg, FSecurityAnswer); f.Type != TypeSecret {
		t.Errorf("security answer must be a secret field")
	}
}

func TestNormalizeAnswer(t *testing.T) {
	if NormalizeAnswer("  Mimi  Cat ") != NormalizeAnswer("mimi cat") || NormalizeAnswer("ＭＩＭＩ") != "mimi" {
		t.Errorf("answers differing only in case, width or spacing must normalise alike")
	}
}

func TestCopyForSimilar(t *testing.T) {
	got := CopyForSimilar(KindPersonal, validPersonal())
	if got[FOrgName] != "福州示例软件有限公司" || got[FHandlerName] != "李喆" || got[FHandlerMobile] != "+86 139-0013-9000" {
		t.Errorf("org and handler not carried: %v", got)
	}
	for _, k := range []string{FUsername, FSecurityAnswer, FApplicantName, FApplicantID} {
		if _, ok := got[k]; ok {
			t.Errorf("%s must not be copied into a similar application", k)
		}
	}
	org := CopyForSimilar(KindOrg, validOrg())
	if org[FOrgCode] != "91350100M000100Y43" || org[FHandlerID] != "11010519491231002X" || org[FUsername] != "" {
		t.Errorf("org similar copy wrong: %v", org)
	}
}

func TestFieldCheckLive(t *testing.T) {
	f, _ := FieldByKey(KindOrg, FOrgCode)
	norm, fe := f.Check("91350100m000100y43", validOrg(), testNow)
	if fe != nil || norm != "91350100M000100Y43" {
		t.Fatalf("live check: %q %v", norm, fe)
	}
	_, fe = f.Check("91350100M000100Y4", validOrg(), testNow)
	if fe == nil || !strings.Contains(fe.Message.ZH, "18 位") {
		t.Fatalf("live check of a short code: %v", fe)
	}
}

func TestInvisible(t *testing.T) {
	for _, tc := range []struct {
		in  string
		pos int
		bad bool
	}{
		{"福州示例软件有限公司", 0, false},
		{"王堃 𠮷 䶮 Müller-Lüdenscheidt O'Brien", 0, false},
		{"葛\U000E0100", 0, false},  // ideographic variation selector: a mark
		{"福州\u202e司公", 3, true},    // RIGHT-TO-LEFT OVERRIDE
		{"a\u200bb", 2, true},      // ZERO WIDTH SPACE
		{"\u2066x\u2069", 1, true}, // isolates
		{"x\ue000", 2, true},       // private use
		{"x\u0378", 2, true},       // unassigned
		{"x\u2028y", 2, true},      // line separator
		{"x\x00y", 2, true},        // NUL
		{"x\xffy", 2, true},        // not UTF-8
		{"a\u00adb", 2, true},      // soft hyphen (Cf)
		{"full\u3000width space", 0, false},
	} {
		pos, _, bad := Invisible(tc.in)
		if bad != tc.bad || pos != tc.pos {
			t.Errorf("Invisible(%q) = %d %v, want %d %v", tc.in, pos, bad, tc.pos, tc.bad)
		}
	}
	// Beside the field, in both languages, naming the code point.
	f, _ := FieldByKey(KindOrg, FOrgName)
	_, fe := f.Check("福州\u202e示例", Values{}, time.Now())
	if fe == nil || fe.Code != CodeInvisible || !strings.Contains(fe.Message.ZH, "U+202E") || !strings.Contains(fe.Message.EN, "U+202E") {
		t.Fatalf("field error: %+v", fe)
	}
	// Trailing whitespace pasted from a spreadsheet is trimmed, not refused.
	if v, fe := f.Check("福州示例软件有限公司\r\n", Values{}, time.Now()); fe != nil || v != "福州示例软件有限公司" {
		t.Fatalf("trailing newline: %q %+v", v, fe)
	}
}
