package api

import (
	"encoding/json"
	"errors"
	"net/http"
	"testing"
	"time"

	"certdesk/app/apply"
)

func TestErrorShapeOnTheWire(t *testing.T) {
	_, fes := apply.Validate(apply.KindOrg, apply.Values{apply.FOrgCode: "91350100M000100Y44"}, time.Now())
	e := ValidationError(fes)
	b, err := json.Marshal(e)
	if err != nil {
		t.Fatal(err)
	}
	var raw map[string]any
	if err := json.Unmarshal(b, &raw); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"code", "message_zh", "message_en", "fields"} {
		if _, ok := raw[k]; !ok {
			t.Errorf("error body lacks %q: %s", k, b)
		}
	}
	f0 := raw["fields"].([]any)[0].(map[string]any)
	for _, k := range []string{"field", "code", "message_zh", "message_en"} {
		if s, _ := f0[k].(string); s == "" {
			t.Errorf("field error lacks %q: %v", k, f0)
		}
	}
	var back Error
	if err := json.Unmarshal(b, &back); err != nil || back.Code != CodeValidation || len(back.Fields) != len(fes) {
		t.Fatalf("round trip: %+v %v", back, err)
	}
	found := false
	for _, f := range back.Fields {
		if f.Field == apply.FOrgCode && f.Code == string(apply.CodeUSCCCheck) {
			found = true
		}
	}
	if !found {
		t.Errorf("credit code error lost: %+v", back.Fields)
	}
}

func TestErrorsIsByCode(t *testing.T) {
	var err error = NewError(CodeRateLimited)
	if !errors.Is(err, &Error{Code: CodeRateLimited}) || errors.Is(err, &Error{Code: CodeNotFound}) {
		t.Errorf("errors.Is must compare codes")
	}
}

func TestEveryCodeHasWordsAndStatus(t *testing.T) {
	for c, m := range defaultMessages {
		if m.ZH == "" || m.EN == "" {
			t.Errorf("%s: missing message", c)
		}
		if s := c.HTTPStatus(); s < 400 || (s == http.StatusInternalServerError && c != CodeInternal) {
			t.Errorf("%s: status %d", c, s)
		}
	}
	_, _, stepErr := apply.Step(apply.StatePaid, apply.EvCancel, apply.ActorApplicant, "", time.Now(), "")
	if e := StateError(stepErr); e.Code != CodeStateNotAllowed || e.MessageZH != "已缴费审核的证书申请不能修改或取消;如需变更请联系客服" {
		t.Errorf("state error wording: %+v", e)
	}
}
