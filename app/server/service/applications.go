package service

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"certdesk/app/api"
	"certdesk/app/apply"
	"certdesk/app/server/auth"
	"certdesk/app/server/store"
)

// answerPlaceholder stands for a security answer that is already stored
// (only its hash) when a form is validated again.
const answerPlaceholder = "••••••"

// loadOwned reads an application the caller may see: their own, or any for
// staff. Someone else's application is "not found", never "forbidden", so
// IDs cannot be probed.
func (s *Service) loadOwned(ctx context.Context, tx *store.Tx, p Principal, id string) (*store.Application, error) {
	var a *store.Application
	var err error
	if tx != nil {
		a, err = tx.Application(ctx, id)
	} else {
		a, err = s.st.Application(ctx, id)
	}
	if errors.Is(err, store.ErrNotFound) || (err == nil && !p.Staff() && a.OwnerID != p.AccountID) {
		return nil, api.NewError(api.CodeNotFound)
	}
	return a, err
}

// splitAnswer takes the security answer out of a form and returns its hash
// ("" when the form has none).
func (s *Service) splitAnswer(v apply.Values) (apply.Values, string, error) {
	out := apply.Values{}
	for k, x := range v {
		out[k] = x
	}
	ans, ok := out[apply.FSecurityAnswer]
	delete(out, apply.FSecurityAnswer)
	if !ok || ans == "" || ans == answerPlaceholder {
		return out, "", nil
	}
	h, err := auth.Hash(apply.NormalizeAnswer(ans), s.cfg.Params)
	return out, h, err
}

// keepSchema drops values of keys the kind's schema does not know, so a
// draft stores only form data.
func keepSchema(k apply.Kind, v apply.Values) apply.Values {
	out := apply.Values{}
	for _, f := range apply.Schema(k) {
		if x, ok := v[f.Key]; ok {
			out[f.Key] = x
		}
	}
	return out
}

func subjectOf(k apply.Kind, v apply.Values) string {
	if k == apply.KindPersonal {
		return v[apply.FApplicantName]
	}
	return v[apply.FOrgName]
}

// contactMobile is where status SMS go: the handler's mobile (seed: 经办人
// 手机用于接收业务办理状态的短信通知), or the applicant's when one person.
func contactMobile(a *store.Application) string {
	if a.Form.HandlerIsApplicant(a.Kind) {
		return a.Form[apply.FApplicantMobile]
	}
	return a.Form[apply.FHandlerMobile]
}

// errNeedsEffect: an event whose effect lives outside the application row
// reached the plain step; it must go through the call that makes the
// effect in the same transaction.
var errNeedsEffect = errors.New("event must go through the service call that makes its effect")

// step applies an event to a read application inside tx: state machine,
// history and the status SMS commit together. Revocation is refused here:
// only revoke takes it, with the CRL entry, so "revoked" never stands
// without the certificate on the CRL.
func (s *Service) step(ctx context.Context, tx *store.Tx, a *store.Application, ev apply.Event, actor apply.Actor, actorID, note string) error {
	if ev == apply.EvRevoke {
		return errNeedsEffect
	}
	return s.transition(ctx, tx, a, ev, actor, actorID, note)
}

func (s *Service) transition(ctx context.Context, tx *store.Tx, a *store.Application, ev apply.Event, actor apply.Actor, actorID, note string) error {
	to, h, err := apply.Step(a.State, ev, actor, actorID, s.now(), note)
	if err != nil {
		return api.StateError(err)
	}
	a.State, a.UpdatedAt = to, s.now()
	if to == apply.StateCancelled {
		a.Username = "" // a cancelled application frees its username
	}
	if err := tx.SaveApplication(ctx, a); err != nil {
		return err
	}
	if err := tx.AppendHistory(ctx, a.ID, h); err != nil {
		return err
	}
	if actor == apply.ActorStaff {
		if err := s.logStaff(ctx, tx, actorID, "application."+string(ev), a.ID, staffNote(a, ev, note)); err != nil {
			return err
		}
	}
	if err := s.notify(ctx, tx, a); err != nil {
		return err
	}
	switch to {
	case apply.StateApproved:
		return s.issueCode(ctx, tx, a) // 激活完成: the download code goes out with it
	case apply.StatePaid:
		if err := s.invoice(ctx, tx, a); err != nil { // the e-invoice follows the payment
			return err
		}
		if a.Renewal {
			return s.transition(ctx, tx, a, apply.EvRenewalApprove, apply.ActorSystem, "system", "renewal: paid")
		}
	}
	return nil
}

// notify queues the status SMS for an application's new state.
func (s *Service) notify(ctx context.Context, tx *store.Tx, a *store.Application) error {
	mobile := contactMobile(a)
	if mobile == "" || a.State == apply.StateDraft {
		return nil
	}
	subject := a.Subject
	if subject == "" {
		subject = a.Username
	}
	body := fmt.Sprintf("【证书助手】您的%s申请(%s)状态:%s。%s", a.Kind.Label(apply.ZH), subject, a.State.Label(apply.ZH), apply.NextAction(a.State).ZH)
	if a.State == apply.StateRejected && a.RejectReason != "" {
		body += "退回原因:" + a.RejectReason
	}
	if email := contactEmail(a); email != "" {
		// The same notice by e-mail, for the handler's records.
		if err := tx.Enqueue(ctx, &store.Message{ID: store.NewID(), ApplicationID: a.ID, Channel: "email", Recipient: email,
			Subject: "status:" + string(a.State), Body: body + "\n\n申请编号:" + a.ID, CreatedAt: s.now()}); err != nil {
			return err
		}
	}
	return tx.Enqueue(ctx, &store.Message{ID: store.NewID(), ApplicationID: a.ID, Channel: "sms", Recipient: mobile,
		Subject: "status:" + string(a.State), Body: body, CreatedAt: s.now(),
		Params: map[string]string{"kind": a.Kind.Label(apply.ZH), "app": a.ID[:8], "state": a.State.Label(apply.ZH)}})
}

// CreateApplication starts a draft after the agreement is accepted
// (seed: 进入“电子认证服务协议”,单击【同意】).
func (s *Service) CreateApplication(ctx context.Context, p Principal, req api.CreateApplicationRequest, idemKey string) (*api.Application, error) {
	if _, err := apply.ParseKind(string(req.Kind)); err != nil {
		return nil, api.NewError(api.CodeBadRequest).WithMessage(apply.Text{ZH: "请选择申请单位证书或个人证书", EN: "Choose an organisation or a personal certificate"})
	}
	if req.Agreement.Version != s.cfg.Agreement.Version || req.Agreement.AcceptedAt.IsZero() {
		return nil, api.NewError(api.CodeAgreementRequired)
	}
	if fes := apply.CheckValuesText(req.Kind, req.Form); len(fes) > 0 {
		return nil, api.ValidationError(fes)
	}
	var created *api.Application
	out, err := idempotent(ctx, s, p, idemKey, req, func(tx *store.Tx) (*api.Application, error) {
		form, hash, err := s.splitAnswer(keepSchema(req.Kind, req.Form))
		if err != nil {
			return nil, err
		}
		now := s.now()
		a := &store.Application{ID: store.NewID(), OwnerID: p.AccountID, Kind: req.Kind, State: apply.StateDraft, Form: form,
			AnswerHash: hash, Subject: subjectOf(req.Kind, form), AgreementVersion: req.Agreement.Version,
			AgreementAt: req.Agreement.AcceptedAt.UTC(), CreatedAt: now, UpdatedAt: now}
		h := apply.HistoryEntry{From: "", To: apply.StateDraft, Event: apply.EvCreate, Actor: apply.ActorApplicant, ActorID: p.AccountID, At: now,
			Note: "agreement " + a.AgreementVersion + " accepted " + a.AgreementAt.Format("2006-01-02 15:04:05Z")}
		if err := tx.CreateApplication(ctx, a, h); err != nil {
			return nil, err
		}
		created = s.view(a, []apply.HistoryEntry{h}, nil)
		return &api.Application{ID: a.ID}, nil
	})
	if err != nil {
		return nil, s.internal(ctx, "create application", err)
	}
	if created != nil {
		return created, nil // built from what was written: no second read
	}
	return s.Application(ctx, p, out.ID) // a replayed request
}

// Application returns an application in full.
func (s *Service) Application(ctx context.Context, p Principal, id string) (*api.Application, error) {
	a, err := s.loadOwned(ctx, nil, p, id)
	if err != nil {
		return nil, s.internal(ctx, "read application", err)
	}
	hist, err := s.st.History(ctx, id)
	if err != nil {
		return nil, s.internal(ctx, "history", err)
	}
	mats, err := s.st.Materials(ctx, id)
	if err != nil {
		return nil, s.internal(ctx, "materials", err)
	}
	rj, err := s.rejections(ctx, id)
	if err != nil {
		return nil, s.internal(ctx, "material rejections", err)
	}
	out := s.view(a, hist, mats)
	withRejections(rj, out.Materials)
	return out, nil
}

// view is an application as the API shows it.
func (s *Service) view(a *store.Application, hist []apply.HistoryEntry, mats []*store.Material) *api.Application {
	quote, _ := s.quote(a)
	form := apply.Values{}
	for k, v := range a.Form {
		form[k] = v
	}
	if a.AnswerHash != "" {
		form[apply.FSecurityAnswer] = answerPlaceholder
	}
	out := &api.Application{ID: a.ID, Kind: a.Kind, State: a.State, Form: form,
		Agreement: api.AgreementAcceptance{Version: a.AgreementVersion, AcceptedAt: a.AgreementAt},
		Fee:       quote, RejectReason: a.RejectReason, History: hist, NextAction: apply.NextAction(a.State),
		CreatedAt: a.CreatedAt, UpdatedAt: a.UpdatedAt, Materials: []api.MaterialInfo{}, Renews: a.Renews, Renewal: a.Renewal}
	for _, m := range mats {
		out.Materials = append(out.Materials, toMaterialInfo(m))
	}
	return out
}

// Applications lists the caller's applications for the user center.
func (s *Service) Applications(ctx context.Context, p Principal) ([]api.Summary, error) {
	as, err := s.st.Applications(ctx, p.AccountID)
	if err != nil {
		return nil, s.internal(ctx, "list applications", err)
	}
	out := summaries(as)
	// The certificate's serial lets the holder's certificate list find
	// the application of a certificate on the UKEY (one query for all).
	serials, err := s.st.CertificateSerials(ctx, p.AccountID)
	if err != nil {
		return nil, s.internal(ctx, "list certificates", err)
	}
	for i := range out {
		out[i].CertSerial = serials[out[i].ID]
	}
	return out, nil
}

func summaries(as []*store.Application) []api.Summary {
	out := make([]api.Summary, 0, len(as))
	for _, a := range as {
		out = append(out, api.Summary{ID: a.ID, Kind: a.Kind, Subject: a.Subject, Username: a.Form[apply.FUsername], State: a.State,
			NextAction: apply.NextAction(a.State), CreatedAt: a.CreatedAt, UpdatedAt: a.UpdatedAt})
	}
	return out
}

// UpdateForm saves the form (autosave of a draft), submits it, or modifies
// a submitted application (修改证书申请) until payment is confirmed. A
// submitted form must validate in full; the username is reserved at
// submission.
func (s *Service) UpdateForm(ctx context.Context, p Principal, id string, req api.UpdateFormRequest) (*api.Application, error) {
	err := s.st.InTx(ctx, func(tx *store.Tx) error {
		a, err := s.loadOwned(ctx, tx, p, id)
		if err != nil {
			return err
		}
		// A draft is not validated in full, but nothing invisible is
		// stored even there: it would reach the printed form.
		if fes := apply.CheckValuesText(a.Kind, req.Form); len(fes) > 0 {
			return api.ValidationError(fes)
		}
		if !apply.CanModify(a.State) {
			_, _, stepErr := apply.Step(a.State, apply.EvModify, apply.ActorApplicant, p.AccountID, s.now(), "")
			return api.StateError(stepErr)
		}
		// A renewal is approved without review because its data is the
		// renewed certificate's: changed data needs a new application.
		if a.Renewal {
			return api.NewError(api.CodeStateNotAllowed).WithMessage(apply.Text{
				ZH: "证书更新沿用原证书的信息,不能修改;信息有变化时请取消这次更新,重新申请证书",
				EN: "A renewal keeps the certificate's data and cannot be changed; if the data changed, cancel the renewal and apply anew"})
		}
		form, hash, err := s.splitAnswer(keepSchema(a.Kind, req.Form))
		if err != nil {
			return err
		}
		if hash == "" {
			hash = a.AnswerHash
		}
		full := a.State != apply.StateDraft || req.Submit
		if full {
			check := apply.Values{}
			for k, v := range form {
				check[k] = v
			}
			if _, has := req.Form[apply.FSecurityAnswer]; hash != "" && (!has || req.Form[apply.FSecurityAnswer] == answerPlaceholder) {
				check[apply.FSecurityAnswer] = answerPlaceholder
			} else if has {
				check[apply.FSecurityAnswer] = req.Form[apply.FSecurityAnswer]
			}
			norm, fes := apply.Validate(a.Kind, check, s.now())
			if len(fes) > 0 {
				return api.ValidationError(fes)
			}
			delete(norm, apply.FSecurityAnswer)
			form = norm
			a.Username = form[apply.FUsername]
		}
		changed := !equalValues(a.Form, form) || hash != a.AnswerHash
		a.Form, a.AnswerHash, a.Subject, a.UpdatedAt = form, hash, subjectOf(a.Kind, form), s.now()
		switch {
		case a.State == apply.StateDraft && req.Submit:
			if err := s.step(ctx, tx, a, apply.EvSubmit, apply.ActorApplicant, p.AccountID, ""); err != nil {
				return err
			}
		case a.State != apply.StateDraft && changed:
			if err := s.step(ctx, tx, a, apply.EvModify, apply.ActorApplicant, p.AccountID, ""); err != nil {
				return err
			}
			// The acceptance form shows the data: it must be printed,
			// signed and scanned again.
			if err := s.dropMaterialsOfType(ctx, tx, a.ID, apply.MatAcceptanceForm); err != nil {
				return err
			}
		default:
			if err := tx.SaveApplication(ctx, a); err != nil {
				return err
			}
		}
		return s.advance(ctx, tx, a)
	})
	if err != nil {
		var ce *store.ConflictError
		if errors.As(err, &ce) && ce.Column == "username" {
			e := api.NewError(api.CodeUsernameTaken)
			e.Fields = []api.FieldError{{Field: apply.FUsername, Code: string(api.CodeUsernameTaken), MessageZH: e.MessageZH, MessageEN: e.MessageEN}}
			return nil, e
		}
		return nil, s.internal(ctx, "update form", err)
	}
	return s.Application(ctx, p, id)
}

func equalValues(a, b apply.Values) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

// genericEvents are the events the generic event route takes: those whose
// whole effect is the state, the history and the notices step writes.
// Every other event has an effect outside the application (a certificate
// on the CRL, a payment record, a certificate issued, materials or an
// identity check that the system derives) and only its own call takes it.
var genericEvents = map[apply.Event]bool{
	apply.EvCancel: true, apply.EvResubmit: true,
	apply.EvStartReview: true, apply.EvApprove: true, apply.EvReject: true,
}

// eventRoute tells the caller of the generic route where an effectful
// event is taken instead.
func eventRoute(ev apply.Event) *api.Error {
	e := api.NewError(api.CodeStateNotAllowed)
	switch ev {
	case apply.EvRevoke:
		return e.WithMessage(apply.Text{ZH: "吊销证书请使用吊销功能(需选择吊销原因),证书会同时列入证书吊销列表", EN: "Revoke through the revocation call (with a reason code): it also puts the certificate on the CRL"})
	case apply.EvStartPayment:
		return e.WithMessage(apply.Text{ZH: "请在“费用支付”中选择支付方式", EN: "Choose how to pay in the payment step"})
	}
	return e.WithMessage(apply.Text{ZH: "该步骤由系统自动完成,不能直接提交", EN: "The system takes this step by itself; it cannot be posted"})
}

// Event takes a step through the generic route: the applicant's cancel
// (取消申请) or resubmit after a rejection; staff's cancel, review start,
// approval, rejection, or a bank transfer's confirmation (ConfirmTransfer).
func (s *Service) Event(ctx context.Context, p Principal, id string, req api.EventRequest) (*api.Application, error) {
	if p.Staff() && req.Event == apply.EvConfirmPayment {
		return s.ConfirmTransfer(ctx, p, id, req.Note)
	}
	if p.Staff() && req.Event == apply.EvApprove {
		return s.Review(ctx, p, id, api.ReviewRequest{Approve: true, Reason: req.Note}) // the approval policy holds on every route
	}
	if p.Staff() && req.Event == apply.EvReject {
		return s.Review(ctx, p, id, api.ReviewRequest{Reason: req.Note})
	}
	if !genericEvents[req.Event] {
		// Before anything is read: an unknown ID and a known one answer
		// alike here, and the state machine is not consulted.
		return nil, eventRoute(req.Event)
	}
	if p.Staff() {
		if err := needRole(p, api.StaffReviewer); err != nil {
			return nil, err
		}
	}
	err := s.st.InTx(ctx, func(tx *store.Tx) error {
		a, err := s.loadOwned(ctx, tx, p, id)
		if err != nil {
			return err
		}
		actor := apply.ActorApplicant
		if p.Staff() {
			actor = apply.ActorStaff
		}
		if req.Event == apply.EvResubmit {
			if missing, err := s.missing(ctx, tx, a); err != nil {
				return err
			} else if len(missing) > 0 {
				return api.NewError(api.CodeStateNotAllowed).WithMessage(apply.Text{ZH: "还有材料未上传,请补齐后再提交", EN: "Some materials are still missing; upload them before submitting again"})
			}
			if back, err := s.returnedMaterials(ctx, tx, a.ID); err != nil {
				return err
			} else if len(back) > 0 {
				names := make([]string, 0, len(back))
				namesEN := make([]string, 0, len(back))
				for _, t := range back {
					names, namesEN = append(names, t.Label(apply.ZH)), append(namesEN, t.Label(apply.EN))
				}
				return api.NewError(api.CodeStateNotAllowed).WithMessage(apply.Text{
					ZH: "审核退回的材料尚未更换:" + strings.Join(names, "、") + "。请删除后上传新的文件,再重新提交",
					EN: "Returned materials are not replaced yet: " + strings.Join(namesEN, ", ") + ". Delete each and upload a new file, then submit again"})
			}
		}
		if fe := apply.CheckText("reason", apply.Text{ZH: "说明", EN: "The note"}, req.Note); fe != nil {
			return api.ValidationError(apply.FieldErrors{*fe}) // it reaches the applicant's SMS and window
		}
		if req.Event == apply.EvReject && strings.TrimSpace(req.Note) == "" {
			return api.ValidationError(apply.FieldErrors{{Field: "reason", Code: apply.CodeRequired, Message: apply.Text{ZH: "请填写退回原因,申请人将据此修改", EN: "Give the reason: the applicant corrects the application from it"}}})
		}
		if req.Event == apply.EvReject {
			a.RejectReason = strings.TrimSpace(req.Note)
		}
		return s.step(ctx, tx, a, req.Event, actor, p.AccountID, req.Note)
	})
	if err != nil {
		return nil, s.internal(ctx, "event", err)
	}
	if req.Event == apply.EvCancel {
		// An open online order is closed at the provider; a payment that
		// still arrives is flagged for refund (recordPaid).
		if pay, err := s.st.LatestPayment(ctx, id); err == nil && pay.Status == api.PaymentPending && s.provider(api.PaymentMethod(pay.Method)) != nil {
			if err := s.provider(api.PaymentMethod(pay.Method)).Close(ctx, pay.ID); err != nil {
				s.cfg.Log.WarnContext(ctx, "close order", "order", pay.ID, "err", err)
			}
		}
	}
	return s.Application(ctx, p, id)
}

// systemEvents are what SystemStep takes: steps the system derives with
// no record of their own. A payment, an issuance or a revocation only
// happens through its own call, with its record.
var systemEvents = map[apply.Event]bool{
	apply.EvMaterialsComplete: true, apply.EvMaterialsIncomplete: true,
	apply.EvIdentityVerified: true, apply.EvStartReview: true,
}

// SystemStep takes a step on behalf of the system; tests and benchmarks
// use it to stand in for the materials check and the face-ID provider.
func (s *Service) SystemStep(ctx context.Context, id string, ev apply.Event, note string) error {
	if !systemEvents[ev] {
		return eventRoute(ev)
	}
	return s.st.InTx(ctx, func(tx *store.Tx) error {
		a, err := tx.Application(ctx, id)
		if err != nil {
			return err
		}
		return s.step(ctx, tx, a, ev, apply.ActorSystem, "system", note)
	})
}

// Similar starts a new draft from an application's organisation and
// handler (类似申请), under the same accepted agreement if still current.
func (s *Service) Similar(ctx context.Context, p Principal, id, idemKey string) (*api.Application, error) {
	a, err := s.loadOwned(ctx, nil, p, id)
	if err != nil {
		return nil, s.internal(ctx, "similar", err)
	}
	return s.CreateApplication(ctx, p, api.CreateApplicationRequest{
		Kind:      a.Kind,
		Agreement: api.AgreementAcceptance{Version: a.AgreementVersion, AcceptedAt: a.AgreementAt},
		Form:      apply.CopyForSimilar(a.Kind, a.Form),
	}, idemKey)
}

// StaffApplications lists applications for review, filtered by state.
func (s *Service) StaffApplications(ctx context.Context, p Principal, states ...apply.State) ([]api.Summary, error) {
	if !p.Staff() {
		return nil, api.NewError(api.CodeForbidden)
	}
	as, err := s.st.Applications(ctx, "", states...)
	if err != nil {
		return nil, s.internal(ctx, "staff list", err)
	}
	return summaries(as), nil
}

// Review is a staff decision on a paid application: an approval (one of
// two under two-person review) or a return for correction, with reasons.
func (s *Service) Review(ctx context.Context, p Principal, id string, req api.ReviewRequest) (*api.Application, error) {
	if !p.Staff() {
		return nil, api.NewError(api.CodeForbidden)
	}
	if req.Approve {
		if len(req.Materials) > 0 {
			return nil, api.NewError(api.CodeBadRequest).WithMessage(apply.Text{ZH: "批准时不能退回材料", EN: "An approval returns no materials"})
		}
		return s.approve(ctx, p, id, req.Reason)
	}
	return s.reject(ctx, p, id, req.Reason, req.Materials)
}
