package service

import (
	"context"
	"fmt"

	"certdesk/app/api"
	"certdesk/app/apply"
	"certdesk/app/server/store"
)

// RFC 5280 revocation reasons used here.
const (
	ReasonKeyCompromise = 1
	ReasonSuperseded    = 4
)

// Renew starts the renewal (证书更新) of an issued certificate: the caller
// must be logged in with that certificate's UKEY and give the security
// answer. The new application starts as a draft with the old one's form;
// the old certificate stays valid until the new one is issued, then it is
// revoked as superseded.
func (s *Service) Renew(ctx context.Context, p Principal, appID, answer string) (*api.Application, error) {
	return s.successor(ctx, p, appID, answer, false)
}

// Replace starts a replacement (补办) after a UKEY is lost: a password
// login is enough (the UKEY is gone), the security answer is required, and
// the old certificate is revoked at once (key compromise).
func (s *Service) Replace(ctx context.Context, p Principal, appID, answer string) (*api.Application, error) {
	return s.successor(ctx, p, appID, answer, true)
}

func (s *Service) successor(ctx context.Context, p Principal, appID, answer string, lost bool) (*api.Application, error) {
	a, err := s.loadOwned(ctx, nil, p, appID)
	if err != nil {
		return nil, s.internal(ctx, "renew", err)
	}
	if p.Staff() {
		return nil, api.NewError(api.CodeForbidden)
	}
	if a.State != apply.StateIssued {
		return nil, api.NewError(api.CodeStateNotAllowed).WithMessage(apply.Text{ZH: "只有已下载的证书可以更新或补办", EN: "Only an issued certificate can be renewed or replaced"})
	}
	if !lost {
		cur, err := s.st.CertificateOf(ctx, appID)
		if err != nil || p.CertSerial == "" || p.CertSerial != cur.Serial {
			return nil, api.NewError(api.CodeForbidden).WithMessage(apply.Text{ZH: "请插入该证书的 UKEY 并用 UKEY 登录后再办理更新", EN: "Log in with this certificate's UKEY to renew it"})
		}
		if left := cur.NotAfter.Sub(s.now()); left > RenewalWindow {
			return nil, api.NewError(api.CodeStateNotAllowed).WithMessage(apply.Text{
				ZH: fmt.Sprintf("证书到期前 90 天内才能办理更新(这张证书 %s 到期)", cur.NotAfter.In(chinaTime).Format("2006年1月2日")),
				EN: fmt.Sprintf("A certificate can be renewed from 90 days before it ends (this one ends %s)", cur.NotAfter.Format("2006-01-02"))})
		}
	}
	if err := s.checkAnswer(a, answer); err != nil {
		return nil, err
	}
	if busy, err := s.successorOf(ctx, a); err != nil {
		return nil, s.internal(ctx, "renew", err)
	} else if busy != "" {
		return nil, api.NewError(api.CodeStateNotAllowed).WithMessage(apply.Text{
			ZH: "这张证书的更新或补办已在办理中,请在用户中心继续办理", EN: "A renewal or replacement of this certificate is under way: continue it in the user center"})
	}
	var id string
	err = s.st.InTx(ctx, func(tx *store.Tx) error {
		old, err := tx.Application(ctx, appID)
		if err != nil {
			return err
		}
		if old.State != apply.StateIssued {
			return api.NewError(api.CodeStateNotAllowed)
		}
		note := "renewal of " + old.ID
		if lost {
			note = "replacement of " + old.ID + " (UKEY lost)"
			if err := s.revoke(ctx, tx, old, apply.ActorApplicant, p.AccountID, ReasonKeyCompromise, "UKEY lost"); err != nil {
				return err
			}
			if err := s.audit(ctx, tx, p.AccountID, "applicant", "certificate_revoked", "application "+old.ID+": UKEY lost (holder), replacement applied for"); err != nil {
				return err
			}
		}
		// The username follows the certificate to its successor.
		old.Username, old.UpdatedAt = "", s.now()
		if err := tx.SaveApplication(ctx, old); err != nil {
			return err
		}
		form := apply.Values{}
		for k, v := range old.Form {
			form[k] = v
		}
		now := s.now()
		n := &store.Application{ID: store.NewID(), OwnerID: old.OwnerID, Kind: old.Kind, State: apply.StateDraft, Form: form,
			AnswerHash: old.AnswerHash, Subject: old.Subject, AgreementVersion: s.cfg.Agreement.Version, AgreementAt: now,
			Renews: old.ID, CreatedAt: now, UpdatedAt: now}
		if !lost {
			// A renewal keeps the data, the materials and the identity the
			// CA checked (the holder is proven by the UKEY and the answer):
			// it goes straight to payment, and is approved when paid.
			n.State, n.Renewal, n.Username = apply.StateIdentityVerified, true, form[apply.FUsername]
			note += ": data, materials and identity carried over (UKEY login and security answer)"
		}
		id = n.ID
		if err := tx.CreateApplication(ctx, n, apply.HistoryEntry{To: n.State, Event: apply.EvCreate, Actor: apply.ActorApplicant, ActorID: p.AccountID, At: now, Note: note}); err != nil {
			return err
		}
		if q, _ := s.quote(n); n.Renewal && q.TotalFen == 0 {
			return s.transition(ctx, tx, n, apply.EvRenewalApprove, apply.ActorSystem, "system", "renewal: no fee")
		}
		return nil
	})
	if err != nil {
		return nil, s.internal(ctx, "renew", err)
	}
	return s.Application(ctx, p, id)
}

// supersede revokes the certificate a newly issued one renews, in the
// issuance's transaction.
func (s *Service) supersede(ctx context.Context, tx *store.Tx, a *store.Application) error {
	if a.Renews == "" {
		return nil
	}
	old, err := tx.Application(ctx, a.Renews)
	if err != nil {
		return err
	}
	if old.State == apply.StateIssued {
		return s.revoke(ctx, tx, old, apply.ActorSystem, "system", ReasonSuperseded, "superseded by "+a.ID)
	}
	// A replacement: the old one was revoked (key compromise) already.
	_, err = tx.RevokeCertificates(ctx, old.ID, ReasonSuperseded, s.now())
	return err
}

// quote is what an application costs: a renewal's fee, or a new
// certificate's.
func (s *Service) quote(a *store.Application) (apply.Quote, error) {
	if a.Renewal {
		return s.cfg.Fees.RenewalQuote(a.Kind, a.Form.Options()), nil
	}
	return s.cfg.Fees.Quote(a.Kind, a.Form.Options(), apply.Delivery(a.Form[apply.FDelivery]))
}

// successorOf is a renewal or replacement of a still under way.
func (s *Service) successorOf(ctx context.Context, a *store.Application) (string, error) {
	apps, err := s.st.Applications(ctx, a.OwnerID)
	if err != nil {
		return "", err
	}
	for _, x := range apps {
		if x.Renews == a.ID && underWay(x.State) {
			return x.ID, nil
		}
	}
	return "", nil
}

// underWay: an application that may still end in a certificate.
func underWay(st apply.State) bool {
	return !st.Terminal() && st != apply.StateIssued && st != apply.StateRejected
}
