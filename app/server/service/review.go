package service

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"certdesk/app/api"
	"certdesk/app/apply"
	"certdesk/app/server/auth"
	"certdesk/app/server/store"
)

// LockFor is how long opening an application in the console marks it as
// being looked at (a soft lock: shown in the queue, not enforced).
const LockFor = 10 * time.Minute

// settingApprovals is the CA's review policy: how many reviewers approve
// an application, 1, or 2 for two-person approval (never the same person
// twice). It is kept in the database, so every instance and the command
// line hold the same policy.
const settingApprovals = "review_approvals"

func approvalsFrom(v string) int {
	if v == "2" {
		return 2
	}
	return 1
}

// ApprovalsNeeded is the review policy now.
func (s *Service) ApprovalsNeeded(ctx context.Context) int {
	v, err := s.st.Setting(ctx, settingApprovals)
	if err != nil {
		s.cfg.Log.WarnContext(ctx, "review policy", "err", err)
		return 2 // the stricter one, when it cannot be read
	}
	return approvalsFrom(v)
}

// SetApprovals sets the review policy (administrators).
func (s *Service) SetApprovals(ctx context.Context, p Principal, n int) error {
	if err := needRole(p, api.StaffAdmin); err != nil {
		return err
	}
	if n != 1 && n != 2 {
		return api.ValidationError(apply.FieldErrors{{Field: "approvals", Code: apply.CodeChoice, Message: apply.Text{ZH: "审核人数应为 1 或 2", EN: "The number of approvals is 1 or 2"}}})
	}
	return s.st.InTx(ctx, func(tx *store.Tx) error {
		if err := tx.SetSetting(ctx, settingApprovals, fmt.Sprint(n)); err != nil {
			return err
		}
		return s.logStaff(ctx, tx, p.AccountID, "policy.approvals", settingApprovals, fmt.Sprint(n))
	})
}

func errAlreadyApproved() *api.Error {
	return api.NewError(api.CodeConflict).WithMessage(apply.Text{
		ZH: "您已批准过该申请:双人审核需由另一位审核员批准",
		EN: "You have approved this application already: two-person review needs another reviewer's approval"})
}

// startReview takes a paid application into review (the first reviewer's
// decision does it).
func (s *Service) startReview(ctx context.Context, tx *store.Tx, p Principal, a *store.Application) error {
	if a.State != apply.StatePaid {
		return nil
	}
	return s.step(ctx, tx, a, apply.EvStartReview, apply.ActorStaff, p.AccountID, "")
}

// approve is one reviewer's approval. Under two-person review the first
// is recorded and the application stays in review; the second, by
// someone else, approves it. The application's row is locked (FOR UPDATE,
// or SQLite's one writer) so two first approvals cannot both be first.
func (s *Service) approve(ctx context.Context, p Principal, id, note string) (*api.Application, error) {
	if err := needRole(p, api.StaffReviewer); err != nil {
		return nil, err
	}
	if fe := apply.CheckText("reason", apply.Text{ZH: "说明", EN: "The note"}, note); fe != nil {
		return nil, api.ValidationError(apply.FieldErrors{*fe})
	}
	return s.staffTx(ctx, p, id, "approve", func(tx *store.Tx, a *store.Application) error {
		if err := s.startReview(ctx, tx, p, a); err != nil {
			return err
		}
		if a.State != apply.StateUnderReview {
			return api.StateError(&apply.StepError{State: a.State, Event: apply.EvApprove})
		}
		have, err := tx.ReviewApprovals(ctx, id)
		if err != nil {
			return err
		}
		for _, ap := range have {
			if ap.AccountID == p.AccountID {
				return errAlreadyApproved()
			}
		}
		policy, err := tx.Setting(ctx, settingApprovals)
		if err != nil {
			return err
		}
		if len(have)+1 < approvalsFrom(policy) {
			if err := tx.AddReviewApproval(ctx, id, p.AccountID, s.now()); err != nil {
				if errors.Is(err, store.ErrConflict) {
					return errAlreadyApproved()
				}
				return err
			}
			return s.logStaff(ctx, tx, p.AccountID, "application.approve_first", id, strings.TrimSpace(note))
		}
		if err := tx.ClearReviewApprovals(ctx, id); err != nil {
			return err
		}
		if err := tx.ReleaseReviewLock(ctx, id); err != nil {
			return err
		}
		return s.step(ctx, tx, a, apply.EvApprove, apply.ActorStaff, p.AccountID, note)
	})
}

// reject returns an application for correction: a general reason, or
// materials each with one of the CA's reasons, or both. It ends the
// review round (approvals given so far are void).
func (s *Service) reject(ctx context.Context, p Principal, id, reason string, returns []api.MaterialReturn) (*api.Application, error) {
	if err := needRole(p, api.StaffReviewer); err != nil {
		return nil, err
	}
	reason = strings.TrimSpace(reason)
	if fe := apply.CheckText("reason", apply.Text{ZH: "退回原因", EN: "The reason"}, reason); fe != nil {
		return nil, api.ValidationError(apply.FieldErrors{*fe}) // it reaches the applicant's SMS and window
	}
	if reason == "" && len(returns) == 0 {
		return nil, api.ValidationError(apply.FieldErrors{{Field: "reason", Code: apply.CodeRequired, Message: apply.Text{
			ZH: "请填写退回原因,或为需要更换的材料选择原因:申请人将据此修改", EN: "Give the reason, or pick one for each material to replace: the applicant corrects the application from it"}}})
	}
	reasons, err := s.reasonMap(ctx)
	if err != nil {
		return nil, s.internal(ctx, "reasons", err)
	}
	var fes apply.FieldErrors
	for i, r := range returns {
		field := fmt.Sprintf("materials[%d]", i)
		if _, ok := reasons[r.Code]; !ok {
			fes = append(fes, apply.FieldError{Field: field + ".code", Code: apply.CodeChoice, Message: apply.Text{
				ZH: "请从退回原因列表中选择", EN: "Choose a reason from the list"}})
		}
		if fe := apply.CheckText(field+".note", apply.Text{ZH: "说明", EN: "The note"}, r.Note); fe != nil {
			fes = append(fes, *fe)
		}
	}
	if len(fes) > 0 {
		return nil, api.ValidationError(fes)
	}
	return s.staffTx(ctx, p, id, "reject", func(tx *store.Tx, a *store.Application) error {
		if err := s.startReview(ctx, tx, p, a); err != nil {
			return err
		}
		mats, err := tx.Materials(ctx, id)
		if err != nil {
			return err
		}
		byID := map[string]*store.Material{}
		for _, m := range mats {
			byID[m.ID] = m
		}
		lines := []string{}
		if reason != "" {
			lines = append(lines, reason)
		}
		seen := map[string]bool{}
		for _, r := range returns {
			m := byID[r.MaterialID]
			if m == nil || seen[r.MaterialID] {
				// Another application's material, a deleted one or twice:
				// not named, as any unknown ID.
				return api.ValidationError(apply.FieldErrors{{Field: "materials", Code: apply.CodeChoice, Message: apply.Text{
					ZH: "所选材料不属于该申请或已被删除,请刷新页面后重试", EN: "A chosen material is not part of this application or was deleted; reload the page and try again"}}})
			}
			seen[r.MaterialID] = true
			if err := tx.AddMaterialRejection(ctx, &store.MaterialRejection{MaterialID: m.ID, ApplicationID: id,
				ReasonCode: r.Code, Note: strings.TrimSpace(r.Note), By: p.AccountID, At: s.now()}); err != nil {
				return err
			}
			line := materialLabel(m.Type).ZH + ":" + reasons[r.Code].Text.ZH
			if n := strings.TrimSpace(r.Note); n != "" {
				line += "(" + n + ")"
			}
			lines = append(lines, line)
		}
		if err := tx.ClearReviewApprovals(ctx, id); err != nil {
			return err
		}
		if err := tx.ReleaseReviewLock(ctx, id); err != nil {
			return err
		}
		a.RejectReason = strings.Join(lines, ";")
		return s.step(ctx, tx, a, apply.EvReject, apply.ActorStaff, p.AccountID, a.RejectReason)
	})
}

func materialLabel(t apply.MaterialType) apply.Text {
	return apply.Text{ZH: t.Label(apply.ZH), EN: t.Label(apply.EN)}
}

func (s *Service) reasonMap(ctx context.Context) (map[string]api.RejectReason, error) {
	rs, err := s.st.RejectReasons(ctx, true)
	if err != nil {
		return nil, err
	}
	out := map[string]api.RejectReason{}
	for _, r := range rs {
		if !r.Retired {
			out[r.Code] = toReason(r)
		}
	}
	return out, nil
}

func toReason(r *store.RejectReason) api.RejectReason {
	return api.RejectReason{Code: r.Code, Text: apply.Text{ZH: r.ZH, EN: r.EN}, MaterialType: r.MaterialType}
}

// RejectReasons is the CA's current list (staff only).
func (s *Service) RejectReasons(ctx context.Context, p Principal) ([]api.RejectReason, error) {
	if !p.Staff() {
		return nil, api.NewError(api.CodeForbidden)
	}
	rs, err := s.st.RejectReasons(ctx, false)
	if err != nil {
		return nil, s.internal(ctx, "reasons", err)
	}
	out := make([]api.RejectReason, 0, len(rs))
	for _, r := range rs {
		out = append(out, toReason(r))
	}
	return out, nil
}

// SaveRejectReason adds or rewords a reason, or retires it (admin).
func (s *Service) SaveRejectReason(ctx context.Context, p Principal, r api.RejectReason, position int, retired bool) error {
	if err := needRole(p, api.StaffAdmin); err != nil {
		return err
	}
	var fes apply.FieldErrors
	if !reasonCode(r.Code) {
		fes = append(fes, apply.FieldError{Field: "code", Code: apply.CodeChoice, Message: apply.Text{ZH: "代码为 1–32 位小写字母、数字或下划线", EN: "The code is 1–32 lower-case letters, digits or underscores"}})
	}
	for _, f := range []struct {
		field, v string
		label    apply.Text
	}{{"zh", r.Text.ZH, apply.Text{ZH: "中文原因", EN: "The Chinese text"}}, {"en", r.Text.EN, apply.Text{ZH: "英文原因", EN: "The English text"}}} {
		if strings.TrimSpace(f.v) == "" {
			fes = append(fes, apply.FieldError{Field: f.field, Code: apply.CodeRequired, Message: apply.Text{ZH: "请填写" + f.label.ZH, EN: f.label.EN + " is required"}})
		} else if fe := apply.CheckText(f.field, f.label, f.v); fe != nil {
			fes = append(fes, *fe)
		}
	}
	if len(fes) > 0 {
		return api.ValidationError(fes)
	}
	if err := s.st.SaveRejectReason(ctx, &store.RejectReason{Code: r.Code, ZH: strings.TrimSpace(r.Text.ZH), EN: strings.TrimSpace(r.Text.EN),
		MaterialType: r.MaterialType, Position: position, Retired: retired}); err != nil {
		return s.internal(ctx, "save reason", err)
	}
	return s.LogStaff(ctx, p, "reason.save", r.Code, fmt.Sprintf("%s / %s retired=%v", r.Text.ZH, r.Text.EN, retired))
}

func reasonCode(c string) bool {
	if len(c) == 0 || len(c) > 32 {
		return false
	}
	for _, r := range c {
		if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '_') {
			return false
		}
	}
	return true
}

// rejections returns the reviewer's returns of an application's live
// materials by material ID, worded from the CA's list.
func (s *Service) rejections(ctx context.Context, appID string) (map[string]*api.MaterialRejection, error) {
	rj, err := s.st.MaterialRejections(ctx, appID)
	if err != nil || len(rj) == 0 {
		return nil, err
	}
	reasons, err := s.st.RejectReasons(ctx, true)
	if err != nil {
		return nil, err
	}
	text := map[string]apply.Text{}
	for _, r := range reasons {
		text[r.Code] = apply.Text{ZH: r.ZH, EN: r.EN}
	}
	out := map[string]*api.MaterialRejection{}
	for id, r := range rj {
		out[id] = &api.MaterialRejection{Code: r.ReasonCode, Reason: text[r.ReasonCode], Note: r.Note, At: r.At}
	}
	return out, nil
}

// withRejections puts each material's return on its line.
func withRejections(rj map[string]*api.MaterialRejection, mis []api.MaterialInfo) {
	for i := range mis {
		mis[i].Rejection = rj[mis[i].ID]
	}
}

// returnedMaterials names the live materials a reviewer returned.
func (s *Service) returnedMaterials(ctx context.Context, tx *store.Tx, appID string) ([]apply.MaterialType, error) {
	rj, err := tx.MaterialRejections(ctx, appID)
	if err != nil {
		return nil, err
	}
	mats, err := tx.Materials(ctx, appID)
	if err != nil {
		return nil, err
	}
	var out []apply.MaterialType
	for _, m := range mats {
		if rj[m.ID] != nil {
			out = append(out, m.Type)
		}
	}
	return out, nil
}

// Review facts beside the application on the console's page.
type ReviewInfo struct {
	Needed    int
	Approvals []Approval
	Lock      *Lock // the lock as it stands after this look
}

// Approval is one given approval, with the reviewer's login.
type Approval struct {
	By, Name string
	At       time.Time
}

// Lock is who is looking at an application.
type Lock struct {
	By, Name string
	Until    time.Time
	Mine     bool
}

// LookAt is a staff member opening an application in the console: it
// takes the soft lock when no one else holds it and returns what the
// reviewer sees beside the form.
func (s *Service) LookAt(ctx context.Context, p Principal, id string) (*ReviewInfo, error) {
	if !p.Staff() {
		return nil, api.NewError(api.CodeForbidden)
	}
	if _, err := s.st.Application(ctx, id); errors.Is(err, store.ErrNotFound) {
		return nil, api.NewError(api.CodeNotFound)
	} else if err != nil {
		return nil, s.internal(ctx, "look", err)
	}
	now := s.now()
	l, err := s.st.TakeReviewLock(ctx, id, p.AccountID, now, now.Add(LockFor))
	if err != nil {
		return nil, s.internal(ctx, "lock", err)
	}
	aps, err := s.st.ReviewApprovals(ctx, id)
	if err != nil {
		return nil, s.internal(ctx, "approvals", err)
	}
	names := s.names(ctx)
	info := &ReviewInfo{Needed: s.ApprovalsNeeded(ctx), Lock: &Lock{By: l.AccountID, Name: names(l.AccountID), Until: l.Until, Mine: l.AccountID == p.AccountID}}
	for _, a := range aps {
		info.Approvals = append(info.Approvals, Approval{By: a.AccountID, Name: names(a.AccountID), At: a.At})
	}
	return info, nil
}

// names returns a lookup of staff logins by account ID, cached for one
// request.
func (s *Service) names(ctx context.Context) func(string) string {
	cache := map[string]string{}
	return func(id string) string {
		if n, ok := cache[id]; ok {
			return n
		}
		n := id
		if a, err := s.st.AccountByID(ctx, id); err == nil {
			n = a.Mobile
			if n == "" {
				n = a.Email
			}
		}
		cache[id] = n
		return n
	}
}

// QueueFilter narrows the console's queue.
type QueueFilter struct {
	Kind     apply.Kind
	State    apply.State // one of QueueStates, or "" for all of them
	From, To time.Time   // entered its state in [From, To)
	Name     string      // part of the subject or the handler's name
	Code     string      // part of the unified social credit code
}

// QueueStates are the states that wait for staff: review (paid, in
// review) and a bank transfer to confirm.
var QueueStates = []apply.State{apply.StatePaid, apply.StateUnderReview, apply.StatePaymentPending}

// QueueRow is one application waiting.
type QueueRow struct {
	api.Summary
	CreditCode string
	Handler    string
	Method     api.PaymentMethod // of the latest payment
	Approvals  int
	Lock       *Lock
}

// Queue is the console's list, oldest first, with the counts per state
// before the filter's state (so the tabs show what waits).
type Queue struct {
	Rows   []QueueRow
	Counts map[apply.State]int
}

// Queue lists what waits for staff.
func (s *Service) Queue(ctx context.Context, p Principal, f QueueFilter) (*Queue, error) {
	if !p.Staff() {
		return nil, api.NewError(api.CodeForbidden)
	}
	as, err := s.st.Applications(ctx, "", QueueStates...)
	if err != nil {
		return nil, s.internal(ctx, "queue", err)
	}
	locks, err := s.st.ReviewLocks(ctx, s.now())
	if err != nil {
		return nil, s.internal(ctx, "queue locks", err)
	}
	// One query each for the payment methods and the approvals, not one
	// per row.
	methods, err := s.st.PendingMethods(ctx)
	if err != nil {
		return nil, s.internal(ctx, "queue payments", err)
	}
	approvals, err := s.st.ApprovalCounts(ctx)
	if err != nil {
		return nil, s.internal(ctx, "queue approvals", err)
	}
	names := s.names(ctx)
	q := &Queue{Counts: map[apply.State]int{}}
	name, code := strings.ToLower(strings.TrimSpace(f.Name)), strings.ToUpper(strings.TrimSpace(f.Code))
	for _, a := range as {
		if f.Kind != "" && a.Kind != f.Kind ||
			!f.From.IsZero() && a.UpdatedAt.Before(f.From) || !f.To.IsZero() && !a.UpdatedAt.Before(f.To) ||
			name != "" && !strings.Contains(strings.ToLower(a.Subject), name) && !strings.Contains(strings.ToLower(a.Form[apply.FHandlerName]), name) ||
			code != "" && !strings.Contains(strings.ToUpper(a.Form[apply.FOrgCode]), code) {
			continue
		}
		row := QueueRow{Summary: summaries([]*store.Application{a})[0], CreditCode: a.Form[apply.FOrgCode], Handler: a.Form[apply.FHandlerName]}
		if a.State == apply.StatePaymentPending {
			if methods[a.ID] != string(api.PayBankTransfer) {
				continue // online payments need no one
			}
			row.Method = api.PayBankTransfer
		}
		q.Counts[a.State]++
		if f.State != "" && a.State != f.State {
			continue
		}
		if a.State == apply.StateUnderReview {
			row.Approvals = approvals[a.ID]
		}
		if l := locks[a.ID]; l != nil {
			row.Lock = &Lock{By: l.AccountID, Name: names(l.AccountID), Until: l.Until, Mine: l.AccountID == p.AccountID}
		}
		q.Rows = append(q.Rows, row)
	}
	sort.SliceStable(q.Rows, func(i, j int) bool { return q.Rows[i].UpdatedAt.Before(q.Rows[j].UpdatedAt) })
	return q, nil
}

// PaymentRecord is a payment as finance sees it.
type PaymentRecord struct {
	store.Payment
	Subject string
	State   apply.State
}

// Payment returns an application's latest payment (nil when none), for
// finance and reviewers.
func (s *Service) Payment(ctx context.Context, p Principal, appID string) (*store.Payment, error) {
	if !p.Staff() {
		return nil, api.NewError(api.CodeForbidden)
	}
	pay, err := s.st.LatestPayment(ctx, appID)
	if errors.Is(err, store.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, s.internal(ctx, "payment", err)
	}
	return pay, nil
}

// Identity returns an application's latest face-ID session, for the
// reviewer (nil when none).
func (s *Service) Identity(ctx context.Context, p Principal, appID string) (*api.IdentitySession, error) {
	if !p.Staff() {
		return nil, api.NewError(api.CodeForbidden)
	}
	is, err := s.st.LatestIdentitySession(ctx, appID)
	if errors.Is(err, store.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, s.internal(ctx, "identity", err)
	}
	return s.identityView(is), nil
}

// Refunds lists money to return: payments that arrived for cancelled
// applications (finance).
func (s *Service) Refunds(ctx context.Context, p Principal) ([]PaymentRecord, error) {
	if err := needRole(p, api.StaffFinance); err != nil {
		return nil, err
	}
	ps, err := s.st.RefundPayments(ctx)
	if err != nil {
		return nil, s.internal(ctx, "refunds", err)
	}
	out := make([]PaymentRecord, 0, len(ps))
	for _, pay := range ps {
		r := PaymentRecord{Payment: *pay}
		if a, err := s.st.Application(ctx, pay.ApplicationID); err == nil {
			r.Subject, r.State = a.Subject, a.State
		}
		out = append(out, r)
	}
	return out, nil
}

// RecordRefund is finance recording money returned (bank reference in
// note), once.
func (s *Service) RecordRefund(ctx context.Context, p Principal, paymentID, note string) error {
	if err := needRole(p, api.StaffFinance); err != nil {
		return err
	}
	note = strings.TrimSpace(note)
	if note == "" {
		return api.ValidationError(apply.FieldErrors{{Field: "note", Code: apply.CodeRequired, Message: apply.Text{ZH: "请填写退款流水号或说明", EN: "Enter the refund's bank reference or a note"}}})
	}
	if fe := apply.CheckText("note", apply.Text{ZH: "说明", EN: "The note"}, note); fe != nil {
		return api.ValidationError(apply.FieldErrors{*fe})
	}
	pay, err := s.st.PaymentByID(ctx, paymentID)
	if errors.Is(err, store.ErrNotFound) {
		return api.NewError(api.CodeNotFound)
	}
	if err != nil {
		return s.internal(ctx, "refund", err)
	}
	if rf, ok := s.provider(api.PaymentMethod(pay.Method)).(Refunder); ok && pay.RefundNeeded && pay.RefundedAt.IsZero() {
		// Back the way it came: the provider refunds (the request number
		// makes a second click the same refund), then it is recorded.
		if err := rf.Refund(ctx, pay.ID, pay.AmountFen, pay.ID+"-refund", "证书申请已取消"); err != nil {
			s.cfg.Log.WarnContext(ctx, "provider refund", "order", pay.ID, "err", err)
			return api.NewError(api.CodeUnavailable).WithMessage(apply.Text{ZH: "支付通道退款失败,请稍后重试:" + err.Error(), EN: "The provider's refund failed; try again later: " + err.Error()})
		}
		note = "原路退回 / refunded to the payer · " + note
	}
	err = s.st.InTx(ctx, func(tx *store.Tx) error {
		if err := tx.RecordRefund(ctx, paymentID, note, s.now()); errors.Is(err, store.ErrNotFound) {
			return api.NewError(api.CodeStateNotAllowed).WithMessage(apply.Text{ZH: "该款项无需退款或已登记退款", EN: "This payment needs no refund, or its refund is recorded already"})
		} else if err != nil {
			return err
		}
		return s.logStaff(ctx, tx, p.AccountID, "payment.refund", paymentID, note)
	})
	if err != nil {
		return s.internal(ctx, "refund", err)
	}
	return nil
}

// CertRecord is an issued certificate as the console lists it.
type CertRecord struct {
	store.Certificate
	Subject string
	State   apply.State
}

// SearchCertificates finds issued certificates by part of the serial,
// the subject or the application ID (reviewers).
func (s *Service) SearchCertificates(ctx context.Context, p Principal, q string) ([]CertRecord, error) {
	if err := needRole(p, api.StaffReviewer); err != nil {
		return nil, err
	}
	cs, err := s.st.CertificateSearch(ctx, strings.TrimSpace(q), 100)
	if err != nil {
		return nil, s.internal(ctx, "search certificates", err)
	}
	out := make([]CertRecord, 0, len(cs))
	for _, c := range cs {
		r := CertRecord{Certificate: *c}
		if a, err := s.st.Application(ctx, c.ApplicationID); err == nil {
			r.Subject, r.State = a.Subject, a.State
		}
		out = append(out, r)
	}
	return out, nil
}

// CRLNumber signs the CRL if a revocation moved it and returns its
// number, for the console to show where a revocation was published.
func (s *Service) CRLNumber(ctx context.Context) (int64, error) {
	if s.cfg.CA == nil {
		return 0, nil
	}
	if _, err := s.CRL(ctx); err != nil {
		return 0, err
	}
	h, err := s.st.CRLHead(ctx)
	if err != nil {
		return 0, s.internal(ctx, "crl head", err)
	}
	return h.Number, nil
}

// TouchConsole slides a console session's idle timeout: it expires idle
// after its last request, and never later than the session's life.
func (s *Service) TouchConsole(ctx context.Context, token string, idle time.Duration) error {
	now := s.now()
	return s.st.TouchSession(ctx, auth.TokenHash(token), now, now.Add(idle), s.cfg.SessionTTL)
}

// CSRFToken is the console's anti-forgery token for a session: a MAC of
// the session, so it needs no storage and dies with the session.
func (s *Service) CSRFToken(sessionToken string) string {
	return s.mac("console-csrf", auth.TokenHash(sessionToken))
}

// Undelivered lists notifications the gateways refused or could not be
// reached for, still being retried (administrators).
func (s *Service) Undelivered(ctx context.Context, p Principal) ([]*store.Message, error) {
	if err := needRole(p, api.StaffAdmin); err != nil {
		return nil, err
	}
	ms, err := s.st.Undelivered(ctx, 200)
	if err != nil {
		return nil, s.internal(ctx, "undelivered", err)
	}
	return ms, nil
}
