package service

import (
	"context"
	"errors"
	"fmt"
	"time"

	"certdesk/app/api"
	"certdesk/app/apply"
	"certdesk/app/server/auth"
	"certdesk/app/server/store"
)

// RenewalWindow is how long before its end a certificate may be renewed
// and the window shows the renewal banner.
const RenewalWindow = 90 * 24 * time.Hour

// ReminderDays are the days before expiry a renewal reminder is sent.
var ReminderDays = []int{90, 30, 7}

// CertificateStatus is the public status of a certificate (what the CRL
// says, and whether it is due for renewal), for the holder's certificate
// list, which works without a login.
func (s *Service) CertificateStatus(ctx context.Context, serial string) (*api.CertificateStatus, error) {
	c, err := s.st.CertificateBySerial(ctx, serial)
	if errors.Is(err, store.ErrNotFound) {
		return &api.CertificateStatus{Serial: serial, Status: api.CertUnknown}, nil
	} else if err != nil {
		return nil, s.internal(ctx, "certificate status", err)
	}
	out := &api.CertificateStatus{Serial: serial, NotAfter: c.NotAfter}
	now := s.now()
	switch {
	case !c.RevokedAt.IsZero():
		out.Status, out.RevokedAt, out.RevokeReason = api.CertRevoked, c.RevokedAt, c.RevokeReason
	case !now.Before(c.NotAfter):
		out.Status = api.CertExpired
	case c.NotAfter.Sub(now) <= RenewalWindow:
		out.Status = api.CertExpiring
	default:
		out.Status = api.CertValid
	}
	return out, nil
}

var holderReasons = map[string]struct {
	code int
	note string
}{
	"lost":        {ReasonKeyCompromise, "UKEY lost (holder)"},
	"compromised": {ReasonKeyCompromise, "key compromised (holder)"},
	"ceased":      {5, "no longer used (holder)"},
}

// HolderRevoke revokes the holder's own issued certificate at once: a
// password login is enough (the UKEY may be lost), the security answer is
// required. With Replace (lost or compromised only) a replacement
// application starts with the old one's data.
func (s *Service) HolderRevoke(ctx context.Context, p Principal, appID string, req api.HolderRevokeRequest) (*api.HolderRevocation, error) {
	r, ok := holderReasons[req.Reason]
	if !ok || (req.Replace && r.code != ReasonKeyCompromise) {
		return nil, api.ValidationError(apply.FieldErrors{{Field: "reason", Code: apply.CodeChoice, Message: apply.Text{
			ZH: "请选择吊销原因:UKEY 丢失、密钥泄露或不再使用(补办只适用于丢失或泄露)",
			EN: "Choose the reason: UKEY lost, key compromised or no longer used (a replacement only for lost or compromised)"}}})
	}
	if req.Replace {
		rep, err := s.successor(ctx, p, appID, req.SecurityAnswer, true)
		if err != nil {
			return nil, err
		}
		old, err := s.Application(ctx, p, appID)
		if err != nil {
			return nil, err
		}
		return &api.HolderRevocation{Revoked: old, Replacement: rep}, nil
	}
	a, err := s.loadOwned(ctx, nil, p, appID)
	if err != nil {
		return nil, s.internal(ctx, "revoke", err)
	}
	if p.Staff() {
		return nil, api.NewError(api.CodeForbidden)
	}
	if a.State != apply.StateIssued {
		return nil, api.NewError(api.CodeStateNotAllowed).WithMessage(apply.Text{ZH: "只有已下载的证书可以吊销", EN: "Only an issued certificate can be revoked"})
	}
	if err := s.checkAnswer(a, req.SecurityAnswer); err != nil {
		return nil, err
	}
	err = s.st.InTx(ctx, func(tx *store.Tx) error {
		cur, err := tx.Application(ctx, appID)
		if err != nil {
			return err
		}
		if err := s.revoke(ctx, tx, cur, apply.ActorApplicant, p.AccountID, r.code, r.note); err != nil {
			return err
		}
		return s.audit(ctx, tx, p.AccountID, "applicant", "certificate_revoked", fmt.Sprintf("application %s: %s", appID, r.note))
	})
	if err != nil {
		return nil, s.internal(ctx, "revoke", err)
	}
	old, err := s.Application(ctx, p, appID)
	if err != nil {
		return nil, err
	}
	return &api.HolderRevocation{Revoked: old}, nil
}

// checkAnswer checks an application's security answer, throttled per
// application like renewal's.
func (s *Service) checkAnswer(a *store.Application, answer string) error {
	try, w := s.loginThrottle.Begin("answer:"+a.ID, s.now())
	if try == nil {
		return rateLimited(w)
	}
	if a.AnswerHash == "" || auth.Verify(apply.NormalizeAnswer(answer), a.AnswerHash) != nil {
		if lock := try.Fail(s.now()); lock > 0 {
			return rateLimited(lock)
		}
		e := api.NewError(api.CodeBadCredentials).WithMessage(apply.Text{ZH: "验证答案不正确", EN: "The security answer is wrong"})
		e.Fields = []api.FieldError{{Field: apply.FSecurityAnswer, Code: "security_answer.wrong", MessageZH: "验证答案不正确,请回忆申请时填写的答案(不区分大小写和全半角)", MessageEN: "The security answer is wrong; it is the one given in the application (case and width do not matter)"}}
		return e
	}
	try.Succeed(true)
	return nil
}

// Renewals lists the account's certificates within RenewalWindow of
// their end, with the renewal under way if there is one.
func (s *Service) Renewals(ctx context.Context, p Principal) ([]api.Renewal, error) {
	apps, err := s.st.Applications(ctx, p.AccountID)
	if err != nil {
		return nil, s.internal(ctx, "renewals", err)
	}
	successor := map[string]string{}
	for _, a := range apps {
		if a.Renews != "" && underWay(a.State) {
			successor[a.Renews] = a.ID
		}
	}
	now := s.now()
	out := []api.Renewal{}
	for _, a := range apps {
		if a.State != apply.StateIssued {
			continue
		}
		c, err := s.st.CertificateOf(ctx, a.ID)
		if err != nil || !c.RevokedAt.IsZero() || c.NotAfter.Sub(now) > RenewalWindow {
			continue
		}
		out = append(out, api.Renewal{ApplicationID: a.ID, Serial: c.Serial, NotAfter: c.NotAfter,
			DaysLeft: daysLeft(c.NotAfter, now), Successor: successor[a.ID]})
	}
	return out, nil
}

func daysLeft(end, now time.Time) int {
	d := end.Sub(now)
	if d <= 0 {
		return 0
	}
	return int((d + 24*time.Hour - 1) / (24 * time.Hour))
}

// RemindRenewals sends the renewal reminders due: for each valid
// certificate within 90 days of its end, the most urgent threshold
// (90, 30, 7 days) it has crossed, by SMS and e-mail, once. Thresholds
// crossed before the job saw the certificate are marked without a message
// of their own (one reminder, not three at once). Idempotent: the mark and
// the messages are one transaction, and a mark made before (by an earlier
// run or another process) makes the run send nothing.
func (s *Service) RemindRenewals(ctx context.Context) (int, error) {
	now := s.now()
	certs, err := s.st.ExpiringCertificates(ctx, now.Add(RenewalWindow+24*time.Hour))
	if err != nil {
		return 0, fmt.Errorf("remind renewals: %w", err)
	}
	sent := 0
	for _, c := range certs {
		left := daysLeft(c.NotAfter, now)
		if left == 0 {
			continue
		}
		var due []int
		for _, d := range ReminderDays {
			if left <= d {
				due = append(due, d)
			}
		}
		if len(due) == 0 {
			continue
		}
		did := false
		err := s.st.InTx(ctx, func(tx *store.Tx) error {
			did = false
			a, err := tx.Application(ctx, c.ApplicationID)
			if err != nil || a.State != apply.StateIssued {
				return err
			}
			fresh := false
			for _, d := range due {
				ok, err := tx.MarkReminder(ctx, c.Serial, d, now)
				if err != nil {
					return err
				}
				fresh = fresh || (ok && d == due[len(due)-1])
			}
			if !fresh {
				return nil
			}
			did = true
			body := fmt.Sprintf("【证书助手】您的数字证书(序列号尾号 %s)将于 %s 到期,还有 %d 天。请插入 UKEY,打开证书助手“我的证书”办理证书更新。", tail(c.Serial, 4), c.NotAfter.In(chinaTime).Format("2006年1月2日"), left)
			if err := tx.Enqueue(ctx, &store.Message{ID: store.NewID(), ApplicationID: a.ID, Channel: "sms", Recipient: contactMobile(a), Subject: fmt.Sprintf("renewal_reminder_%d", due[len(due)-1]), CreatedAt: now, Body: body,
				Params: map[string]string{"serial": tail(c.Serial, 4), "date": c.NotAfter.In(chinaTime).Format("2006年1月2日"), "days": fmt.Sprint(left)}}); err != nil {
				return err
			}
			if mail := contactEmail(a); mail != "" {
				return tx.Enqueue(ctx, &store.Message{ID: store.NewID(), ApplicationID: a.ID, Channel: "email", Recipient: mail, Subject: "数字证书即将到期,请办理更新", CreatedAt: now, Body: body})
			}
			return nil
		})
		if err != nil {
			return sent, fmt.Errorf("remind renewals: %w", err)
		}
		if did {
			sent++
		}
	}
	return sent, nil
}

var chinaTime = time.FixedZone("CST", 8*3600)
