package apply

import (
	"errors"
	"fmt"
	"testing"
	"time"
)

// expected is the state machine written out by hand, independently of the
// table in state.go: from, event → to, and who may take the step.
var expected = map[string]struct {
	to     State
	actors string
}{
	"draft/submit":                            {StateSubmitted, "applicant"},
	"draft/modify":                            {StateDraft, "applicant"},
	"draft/cancel":                            {StateCancelled, "applicant,staff"},
	"submitted/materials_complete":            {StateMaterialsComplete, "system"},
	"submitted/modify":                        {StateSubmitted, "applicant"},
	"submitted/cancel":                        {StateCancelled, "applicant,staff"},
	"materials_complete/materials_incomplete": {StateSubmitted, "system"},
	"materials_complete/identity_verified":    {StateIdentityVerified, "system"},
	"materials_complete/modify":               {StateSubmitted, "applicant"},
	"materials_complete/cancel":               {StateCancelled, "applicant,staff"},
	"identity_verified/start_payment":         {StatePaymentPending, "applicant"},
	"identity_verified/confirm_payment":       {StatePaid, "system,staff"},
	"identity_verified/modify":                {StateSubmitted, "applicant"},
	"identity_verified/cancel":                {StateCancelled, "applicant,staff"},
	"payment_pending/confirm_payment":         {StatePaid, "system,staff"},
	"payment_pending/modify":                  {StateSubmitted, "applicant"},
	"payment_pending/cancel":                  {StateCancelled, "applicant,staff"},
	"paid/start_review":                       {StateUnderReview, "system,staff"},
	"under_review/approve":                    {StateApproved, "staff"},
	"under_review/reject":                     {StateRejected, "staff"},
	"rejected/resubmit":                       {StateUnderReview, "applicant"},
	"approved/issue":                          {StateIssued, "system"},
	"approved/revoke":                         {StateRevoked, "staff"},
	"issued/revoke":                           {StateRevoked, "applicant,staff,system"},
}

var allEvents = []Event{EvSubmit, EvModify, EvMaterialsComplete, EvMaterialsIncomplete, EvIdentityVerified,
	EvStartPayment, EvConfirmPayment, EvStartReview, EvApprove, EvReject, EvResubmit, EvIssue, EvCancel, EvRevoke}
var allActors = []Actor{ActorApplicant, ActorStaff, ActorSystem}

func TestStateMachineExhaustive(t *testing.T) {
	at := time.Date(2026, 11, 25, 10, 0, 0, 0, time.FixedZone("CST", 8*3600))
	used := map[string]bool{}
	for _, s := range States {
		for _, ev := range allEvents {
			key := fmt.Sprintf("%s/%s", s, ev)
			want, edge := expected[key]
			for _, a := range allActors {
				to, h, err := Step(s, ev, a, "u1", at, "n")
				allowed := edge && containsActor(want.actors, a)
				switch {
				case allowed:
					used[key] = true
					if err != nil || to != want.to {
						t.Errorf("%s by %s = %s, %v; want %s", key, a, to, err, want.to)
					}
					if h.From != s || h.To != to || h.Event != ev || h.Actor != a || h.ActorID != "u1" || !h.At.Equal(at) || h.At.Location() != time.UTC || h.Note != "n" {
						t.Errorf("%s by %s: history entry %+v", key, a, h)
					}
				case edge:
					if !errors.Is(err, ErrActor) || to != s {
						t.Errorf("%s by %s: want ErrActor and state kept, got %s, %v", key, a, to, err)
					}
				default:
					if !errors.Is(err, ErrTransition) || to != s {
						t.Errorf("%s by %s: want ErrTransition and state kept, got %s, %v", key, a, to, err)
					}
					var se *StepError
					if !errors.As(err, &se) || se.Message().ZH == "" || se.Message().EN == "" {
						t.Errorf("%s by %s: refusal without a message: %v", key, a, err)
					}
				}
			}
		}
	}
	if len(used) != len(expected) {
		t.Errorf("expected edges never taken: %d of %d used", len(used), len(expected))
	}
	if len(Transitions()) < len(expected) {
		t.Errorf("table has %d edges, expected at least %d", len(Transitions()), len(expected))
	}
}

func containsActor(list string, a Actor) bool {
	for _, s := range splitComma(list) {
		if Actor(s) == a {
			return true
		}
	}
	return false
}

func splitComma(s string) []string {
	var out []string
	start := 0
	for i := 0; i <= len(s); i++ {
		if i == len(s) || s[i] == ',' {
			out = append(out, s[start:i])
			start = i + 1
		}
	}
	return out
}

func TestNoModifyOrCancelAfterPayment(t *testing.T) {
	for _, s := range []State{StatePaid, StateUnderReview, StateApproved, StateIssued, StateRejected} {
		if CanModify(s) || CanCancel(s) {
			t.Errorf("%s: modify/cancel must be refused once paid", s)
		}
		_, _, err := Step(s, EvCancel, ActorApplicant, "", time.Now(), "")
		var se *StepError
		if !errors.As(err, &se) || se.Message().ZH != "已缴费审核的证书申请不能修改或取消;如需变更请联系客服" {
			t.Errorf("%s: cancel refusal wording: %v", s, err)
		}
	}
	for _, s := range []State{StateDraft, StateSubmitted, StateMaterialsComplete, StateIdentityVerified, StatePaymentPending} {
		if !CanModify(s) || !CanCancel(s) {
			t.Errorf("%s: modify/cancel must be allowed before payment", s)
		}
	}
}

func TestEveryStateHasLabelAndNextAction(t *testing.T) {
	for _, s := range States {
		if s.Label(ZH) == string(s) || s.Label(EN) == string(s) {
			t.Errorf("%s has no label", s)
		}
		if NextAction(s).ZH == "" {
			t.Errorf("%s has no next action", s)
		}
	}
	if got := Allowed(StateUnderReview, ActorStaff); len(got) != 2 {
		t.Errorf("staff in review may approve or reject, got %v", got)
	}
	if !StateRevoked.Terminal() || StateIssued.Terminal() {
		t.Errorf("terminal states wrong")
	}
}

func TestMaterialsMatchSeed(t *testing.T) {
	types := func(rs []MaterialRule) []MaterialType {
		out := make([]MaterialType, len(rs))
		for i, r := range rs {
			out[i] = r.Type
		}
		return out
	}
	tests := []struct {
		name string
		kind Kind
		opt  Options
		same bool
		want []MaterialType
	}{
		// Seed 2.3: 受理表, 单位有效证件, 授权委托书, 经办人有效证件, 签章印模.
		{"org seal", KindOrg, Options{Seal: true}, false, []MaterialType{MatAcceptanceForm, MatOrgLicense, MatAuthorization, MatHandlerID, MatSealImprint, MatSpare}},
		{"org plain", KindOrg, Options{}, false, []MaterialType{MatAcceptanceForm, MatOrgLicense, MatAuthorization, MatHandlerID, MatSpare}},
		// Seed 3.3: a 授权委托书, b 申请人证件, c 经办人证件, d 受理表, e 签章印模, f 签名印模.
		{"personal both", KindPersonal, Options{Seal: true, Signature: true}, false, []MaterialType{MatAuthorization, MatApplicantID, MatHandlerID, MatAcceptanceForm, MatSealImprint, MatSignatureImprint, MatSpare}},
		{"personal signature", KindPersonal, Options{Signature: true}, true, []MaterialType{MatAuthorization, MatApplicantID, MatHandlerID, MatAcceptanceForm, MatSignatureImprint, MatSpare}},
		{"personal none", KindPersonal, Options{}, false, []MaterialType{MatAuthorization, MatApplicantID, MatHandlerID, MatAcceptanceForm, MatSpare}},
	}
	for _, tt := range tests {
		rs := Materials(tt.kind, tt.opt, tt.same)
		if fmt.Sprint(types(rs)) != fmt.Sprint(tt.want) {
			t.Errorf("%s: %v, want %v", tt.name, types(rs), tt.want)
		}
		for _, r := range rs {
			wantDPI := DocumentDPI
			if r.Type == MatSealImprint || r.Type == MatSignatureImprint {
				wantDPI = ImprintDPI
			}
			if r.MinDPI != wantDPI || r.MaxBytes != 2*1024*1024 || r.Label.ZH == "" {
				t.Errorf("%s: rule %s: dpi %d bytes %d", tt.name, r.Type, r.MinDPI, r.MaxBytes)
			}
			if r.Required != (r.Type != MatSpare) {
				t.Errorf("%s: %s required=%v", tt.name, r.Type, r.Required)
			}
		}
	}
	// One image serves applicant and handler when they are the same person.
	rs := Materials(KindPersonal, Options{}, true)
	present := map[MaterialType]bool{MatAuthorization: true, MatApplicantID: true, MatAcceptanceForm: true}
	if m := MissingMaterials(rs, present); len(m) != 0 {
		t.Errorf("same person: missing %v", m)
	}
	rs = Materials(KindPersonal, Options{}, false)
	if m := MissingMaterials(rs, present); fmt.Sprint(m) != "[handler_id]" {
		t.Errorf("different people: missing %v", m)
	}
	if m := MissingMaterials(Materials(KindOrg, Options{Seal: true}, false), map[MaterialType]bool{}); len(m) != 5 {
		t.Errorf("org with nothing uploaded: missing %v", m)
	}
	if ps := PaperMaterials(KindPersonal, true); len(ps) != 4 {
		t.Errorf("personal, same person: %d paper materials", len(ps))
	}
	for _, name := range []string{"doc", "seal", "handler_id", "payment_voucher"} {
		if _, ok := GenericRule(name); !ok {
			t.Errorf("GenericRule(%q) missing", name)
		}
	}
}

func TestFees(t *testing.T) {
	s := DefaultSchedule()
	tests := []struct {
		kind Kind
		opt  Options
		d    Delivery
		want int64
	}{
		{KindOrg, Options{}, DeliveryPickup, 30000},
		{KindOrg, Options{Seal: true}, DeliveryMail, 30000 + 20000 + 2000},
		{KindPersonal, Options{Seal: true, Signature: true}, DeliveryPickup, 10000 + 20000 + 10000},
	}
	for _, tt := range tests {
		q, err := s.Quote(tt.kind, tt.opt, tt.d)
		if err != nil || q.TotalFen != tt.want || q.Currency != "CNY" {
			t.Errorf("Quote(%s,%+v,%s) = %+v, %v; want %d", tt.kind, tt.opt, tt.d, q, err, tt.want)
		}
	}
	if FormatFen(30050) != "300.50" || FormatFen(5) != "0.05" || FormatFen(-100) != "-1.00" {
		t.Errorf("FormatFen wrong")
	}
	if _, err := ParseSchedule([]byte(`{"kinds":{"org":{"fen":1}}}`)); err == nil {
		t.Errorf("a schedule without the personal fee must be refused")
	}
}

func TestHistoryDescribesHowItWasPaid(t *testing.T) {
	online := HistoryEntry{Event: EvConfirmPayment, Actor: ActorSystem, Note: "alipay trade 2026"}
	transfer := HistoryEntry{Event: EvConfirmPayment, Actor: ActorStaff, Note: "回单 123"}
	if got := online.Describe(ZH); got != "在线支付成功" {
		t.Errorf("online payment reads %q", got)
	}
	if got := transfer.Describe(ZH); got != "工作人员确认转账到账" {
		t.Errorf("transfer reads %q", got)
	}
	for ev := range eventLabels {
		if (HistoryEntry{Event: ev}).Describe(ZH) == string(ev) {
			t.Errorf("%s has no Chinese label", ev)
		}
	}
	if (HistoryEntry{Event: EvApprove}).Describe(EN) != "Approved" {
		t.Error("English label")
	}
}
