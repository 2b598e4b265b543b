package apply

import (
	"fmt"
	"time"
)

// State is where an application stands.
type State string

const (
	StateDraft             State = "draft"
	StateSubmitted         State = "submitted"
	StateMaterialsComplete State = "materials_complete"
	StateIdentityVerified  State = "identity_verified"
	StatePaymentPending    State = "payment_pending"
	StatePaid              State = "paid"
	StateUnderReview       State = "under_review"
	StateApproved          State = "approved" // 激活完成: download code issued
	StateIssued            State = "issued"   // certificate on the UKEY
	StateRejected          State = "rejected"
	StateCancelled         State = "cancelled"
	StateRevoked           State = "revoked"
)

// States lists every state in the order of the happy path, side exits last.
var States = []State{StateDraft, StateSubmitted, StateMaterialsComplete, StateIdentityVerified,
	StatePaymentPending, StatePaid, StateUnderReview, StateApproved, StateIssued,
	StateRejected, StateCancelled, StateRevoked}

// Label is the state as the user center shows it.
func (s State) Label(lang Lang) string {
	t, ok := stateLabels[s]
	if !ok {
		return string(s)
	}
	return t.In(lang)
}

var stateLabels = map[State]Text{
	StateDraft:             {"填写中", "Draft"},
	StateSubmitted:         {"待提交材料", "Awaiting materials"},
	StateMaterialsComplete: {"待身份识别", "Awaiting identity check"},
	StateIdentityVerified:  {"待缴费", "Awaiting payment"},
	StatePaymentPending:    {"缴费中", "Payment in progress"},
	StatePaid:              {"已缴费", "Paid"},
	StateUnderReview:       {"审核中", "Under review"},
	StateApproved:          {"激活完成", "Approved: ready to download"},
	StateIssued:            {"已下载证书", "Certificate installed"},
	StateRejected:          {"审核未通过", "Returned for correction"},
	StateCancelled:         {"已取消", "Cancelled"},
	StateRevoked:           {"已吊销", "Revoked"},
}

// Terminal reports whether no further step is possible.
func (s State) Terminal() bool { return s == StateCancelled || s == StateRevoked }

// Event is a step that moves an application.
type Event string

const (
	EvCreate              Event = "create"               // application started (the agreement accepted)
	EvSubmit              Event = "submit"               // form sent (提交数据)
	EvModify              Event = "modify"               // form changed (修改证书申请)
	EvMaterialsComplete   Event = "materials_complete"   // every required material valid
	EvMaterialsIncomplete Event = "materials_incomplete" // a required material deleted
	EvIdentityVerified    Event = "identity_verified"    // face-ID passed
	EvStartPayment        Event = "start_payment"        // order created or transfer chosen
	EvConfirmPayment      Event = "confirm_payment"      // notify verified or transfer confirmed
	EvStartReview         Event = "start_review"
	EvApprove             Event = "approve"
	EvReject              Event = "reject"
	EvResubmit            Event = "resubmit" // corrections made after a rejection
	EvIssue               Event = "issue"    // certificate downloaded to the UKEY
	// EvRenewalApprove: a renewal (证书更新, unchanged data, the holder
	// proven by the UKEY and the security answer) is approved by the
	// system once paid, or at once when the schedule has no renewal fee.
	EvRenewalApprove Event = "renewal_approve"
	EvCancel         Event = "cancel"
	EvRevoke         Event = "revoke"
)

// Actor is who takes a step.
type Actor string

const (
	ActorApplicant Actor = "applicant"
	ActorStaff     Actor = "staff"
	ActorSystem    Actor = "system"
)

// Transition is one allowed edge of the state machine.
type Transition struct {
	From   State
	Event  Event
	To     State
	Actors []Actor
}

var (
	applicant       = []Actor{ActorApplicant}
	staff           = []Actor{ActorStaff}
	system          = []Actor{ActorSystem}
	systemOrStaff   = []Actor{ActorSystem, ActorStaff}
	applicantStaff  = []Actor{ActorApplicant, ActorStaff}
	beforePayment   = []State{StateDraft, StateSubmitted, StateMaterialsComplete, StateIdentityVerified, StatePaymentPending}
	transitionTable = buildTransitions()
)

func buildTransitions() []Transition {
	ts := []Transition{
		{StateDraft, EvSubmit, StateSubmitted, applicant},
		{StateSubmitted, EvMaterialsComplete, StateMaterialsComplete, system},
		{StateMaterialsComplete, EvMaterialsIncomplete, StateSubmitted, system},
		{StateMaterialsComplete, EvIdentityVerified, StateIdentityVerified, system},
		{StateIdentityVerified, EvStartPayment, StatePaymentPending, applicant},
		// A bank transfer can be confirmed by staff before the applicant
		// chose a method in the client, so both states accept it.
		{StateIdentityVerified, EvConfirmPayment, StatePaid, systemOrStaff},
		{StatePaymentPending, EvConfirmPayment, StatePaid, systemOrStaff},
		{StatePaid, EvStartReview, StateUnderReview, systemOrStaff},
		{StateUnderReview, EvApprove, StateApproved, staff},
		{StateUnderReview, EvReject, StateRejected, staff},
		{StateRejected, EvResubmit, StateUnderReview, applicant},
		{StateApproved, EvIssue, StateIssued, system},
		{StatePaid, EvRenewalApprove, StateApproved, system},
		{StateIdentityVerified, EvRenewalApprove, StateApproved, system},
		{StateApproved, EvRevoke, StateRevoked, staff},
		// The system revokes a certificate superseded by its renewal.
		{StateIssued, EvRevoke, StateRevoked, []Actor{ActorApplicant, ActorStaff, ActorSystem}},
	}
	for _, s := range beforePayment {
		// 已缴费审核的证书申请不能修改/取消: modify and cancel exist only
		// before payment is confirmed. A change after submission sends the
		// application back to materials: the acceptance form shows the data
		// and must be printed, signed and scanned again.
		to := StateSubmitted
		if s == StateDraft {
			to = StateDraft
		}
		ts = append(ts,
			Transition{s, EvModify, to, applicant},
			Transition{s, EvCancel, StateCancelled, applicantStaff},
		)
	}
	return ts
}

// Transitions returns a copy of the whole table, for documentation and
// exhaustive tests.
func Transitions() []Transition {
	out := make([]Transition, len(transitionTable))
	copy(out, transitionTable)
	return out
}

// HistoryEntry records one step: who took it, when, and why.
type HistoryEntry struct {
	From    State     `json:"from"`
	To      State     `json:"to"`
	Event   Event     `json:"event"`
	Actor   Actor     `json:"actor"`
	ActorID string    `json:"actor_id,omitempty"`
	At      time.Time `json:"at"`
	Note    string    `json:"note,omitempty"`
}

// StepError explains a refused step. It wraps ErrTransition or ErrActor.
type StepError struct {
	State State
	Event Event
	Actor Actor
	err   error
}

func (e *StepError) Error() string {
	return fmt.Sprintf("%s by %s in state %s: %v", e.Event, e.Actor, e.State, e.err)
}

func (e *StepError) Unwrap() error { return e.err }

// Message words the refusal for the applicant.
func (e *StepError) Message() Text {
	if e.err == ErrActor {
		return Text{"您无权执行此操作", "You may not take this step"}
	}
	switch e.Event {
	case EvModify, EvCancel:
		if e.State == StatePaid || e.State == StateUnderReview || e.State == StateApproved || e.State == StateIssued || e.State == StateRejected {
			return Text{"已缴费审核的证书申请不能修改或取消;如需变更请联系客服", "An application that is paid and under review can no longer be changed or cancelled; contact support to change it"}
		}
	}
	return Text{fmt.Sprintf("申请当前状态为“%s”,不能执行此操作", e.State.Label(ZH)), fmt.Sprintf("The application is %q, so this step is not possible now", e.State.Label(EN))}
}

// Step applies event by actor to an application in state from. It returns
// the new state and the history entry to record with it, or a *StepError.
func Step(from State, ev Event, actor Actor, actorID string, at time.Time, note string) (State, HistoryEntry, error) {
	actorMatched := false
	for _, t := range transitionTable {
		if t.From != from || t.Event != ev {
			continue
		}
		for _, a := range t.Actors {
			if a == actor {
				return t.To, HistoryEntry{From: from, To: t.To, Event: ev, Actor: actor, ActorID: actorID, At: at.UTC(), Note: note}, nil
			}
		}
		actorMatched = true
	}
	if actorMatched {
		return from, HistoryEntry{}, &StepError{State: from, Event: ev, Actor: actor, err: ErrActor}
	}
	return from, HistoryEntry{}, &StepError{State: from, Event: ev, Actor: actor, err: ErrTransition}
}

// Allowed lists the events an actor may take in a state, for the UI's
// buttons and the user center's "next action".
func Allowed(s State, actor Actor) []Event {
	var evs []Event
	for _, t := range transitionTable {
		if t.From != s {
			continue
		}
		for _, a := range t.Actors {
			if a == actor {
				evs = append(evs, t.Event)
				break
			}
		}
	}
	return evs
}

// CanModify reports whether the form may still be changed (修改证书申请).
func CanModify(s State) bool { return can(s, EvModify) }

// CanCancel reports whether the applicant may still cancel (取消申请).
func CanCancel(s State) bool { return can(s, EvCancel) }

func can(s State, ev Event) bool {
	for _, t := range transitionTable {
		if t.From == s && t.Event == ev {
			return true
		}
	}
	return false
}

// CanReplaceMaterials reports whether materials may be uploaded, deleted or
// replaced: until review, and again after a rejection.
func CanReplaceMaterials(s State) bool {
	switch s {
	case StateDraft, StateSubmitted, StateMaterialsComplete, StateIdentityVerified, StatePaymentPending, StateRejected:
		return true
	}
	return false
}

// NextAction is what the user center tells the applicant to do next.
func NextAction(s State) Text {
	switch s {
	case StateDraft:
		return Text{"继续填写申请表", "Finish the application form"}
	case StateSubmitted:
		return Text{"打印受理表并上传材料", "Print the acceptance form and upload the materials"}
	case StateMaterialsComplete:
		return Text{"进行身份识别", "Verify your identity"}
	case StateIdentityVerified, StatePaymentPending:
		return Text{"缴纳费用", "Pay the fee"}
	case StatePaid, StateUnderReview:
		return Text{"寄送纸质材料,等待审核(约 2 个工作日)", "Post the paper documents and wait for review (about 2 working days)"}
	case StateApproved:
		return Text{"插入 UKEY,输入下载验证码下载证书", "Plug in the UKEY and download the certificate with the download code"}
	case StateIssued:
		return Text{"证书已就绪,可用 UKEY 登录", "The certificate is ready; you can log in with the UKEY"}
	case StateRejected:
		return Text{"按退回原因修改材料后重新提交", "Correct the materials as the reviewer asks and submit again"}
	}
	return Text{"无需操作", "Nothing to do"}
}

var eventLabels = map[Event]Text{
	EvCreate:              {"新建申请(同意服务协议)", "Application started (agreement accepted)"},
	EvSubmit:              {"提交申请表", "Form submitted"},
	EvModify:              {"修改申请表", "Form changed"},
	EvMaterialsComplete:   {"材料齐全", "Materials complete"},
	EvMaterialsIncomplete: {"材料不全", "Materials incomplete"},
	EvIdentityVerified:    {"身份识别通过", "Identity verified"},
	EvStartPayment:        {"开始缴费", "Payment started"},
	EvStartReview:         {"开始审核", "Review started"},
	EvApprove:             {"审核通过", "Approved"},
	EvReject:              {"审核退回", "Returned for correction"},
	EvResubmit:            {"重新提交", "Submitted again"},
	EvIssue:               {"证书已下载到 UKEY", "Certificate installed on the UKEY"},
	EvRenewalApprove:      {"证书更新已核准", "Renewal approved"},
	EvCancel:              {"取消申请", "Cancelled"},
	EvRevoke:              {"证书吊销", "Certificate revoked"},
}

// Label names the step for people.
func (e Event) Label(lang Lang) string {
	if t, ok := eventLabels[e]; ok {
		return t.In(lang)
	}
	return string(e)
}

// Describe words a history entry for the applicant or the reviewer: the
// step, and for a payment how it was paid — the payment provider's notify
// (the system) confirms an online payment, staff confirm a bank transfer;
// an Alipay payment must never read as a transfer.
func (h HistoryEntry) Describe(lang Lang) string {
	if h.Event == EvConfirmPayment {
		if h.Actor == ActorStaff {
			return Text{"工作人员确认转账到账", "Bank transfer confirmed by staff"}.In(lang)
		}
		return Text{"在线支付成功", "Paid online"}.In(lang)
	}
	return h.Event.Label(lang)
}
