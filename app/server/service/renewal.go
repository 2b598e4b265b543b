package service

import (
	"context"

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
	}
	if err := s.checkAnswer(a, answer); err != nil {
		return nil, err
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
		id = n.ID
		return tx.CreateApplication(ctx, n, apply.HistoryEntry{To: apply.StateDraft, Event: apply.EvCreate, Actor: apply.ActorApplicant, ActorID: p.AccountID, At: now, Note: note})
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
