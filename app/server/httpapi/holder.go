package httpapi

import (
	"net/http"

	"certdesk/app/api"
)

// The holder's tools: certificate status, revocation, renewal list, audit
// and PIN unlock.

func (h *Handler) certStatus(w http.ResponseWriter, r *http.Request) {
	st, err := h.svc.CertificateStatus(r.Context(), r.PathValue("serial"))
	h.reply(w, r, http.StatusOK, st, err)
}

func (h *Handler) holderRevoke(w http.ResponseWriter, r *http.Request) {
	var req api.HolderRevokeRequest
	if !h.decode(w, r, &req) {
		return
	}
	out, err := h.svc.HolderRevoke(r.Context(), principal(r), r.PathValue("id"), req)
	h.reply(w, r, http.StatusOK, out, err)
}

func (h *Handler) renewals(w http.ResponseWriter, r *http.Request) {
	out, err := h.svc.Renewals(r.Context(), principal(r))
	h.reply(w, r, http.StatusOK, out, err)
}

func (h *Handler) auditHistory(w http.ResponseWriter, r *http.Request) {
	out, err := h.svc.Audit(r.Context(), principal(r))
	h.reply(w, r, http.StatusOK, out, err)
}

func (h *Handler) startUnlock(w http.ResponseWriter, r *http.Request) {
	var req api.StartUnlockRequest
	if !h.decode(w, r, &req) {
		return
	}
	u, err := h.svc.StartUnlock(r.Context(), principal(r), r.PathValue("serial"), req)
	h.reply(w, r, http.StatusCreated, u, err)
}

func (h *Handler) getUnlock(w http.ResponseWriter, r *http.Request) {
	u, err := h.svc.Unlock(r.Context(), principal(r), r.PathValue("unlock"))
	h.reply(w, r, http.StatusOK, u, err)
}

func (h *Handler) unlockCode(w http.ResponseWriter, r *http.Request) {
	var req api.UnlockCodeRequest
	if !h.decode(w, r, &req) {
		return
	}
	u, err := h.svc.UnlockCode(r.Context(), principal(r), r.PathValue("unlock"), req.Code)
	h.reply(w, r, http.StatusOK, u, err)
}

func (h *Handler) unlockGrant(w http.ResponseWriter, r *http.Request) {
	g, err := h.svc.UnlockGrant(r.Context(), principal(r), r.PathValue("unlock"))
	// The one response holding SO PINs: never cached anywhere.
	w.Header().Set("Cache-Control", "no-store")
	h.reply(w, r, http.StatusOK, g, err)
}

func (h *Handler) unlockDone(w http.ResponseWriter, r *http.Request) {
	var req api.UnlockDoneRequest
	if !h.decode(w, r, &req) {
		return
	}
	u, err := h.svc.UnlockDone(r.Context(), principal(r), r.PathValue("unlock"), req)
	h.reply(w, r, http.StatusOK, u, err)
}

func (h *Handler) pendingUnlocks(w http.ResponseWriter, r *http.Request) {
	out, err := h.svc.PendingUnlocks(r.Context(), principal(r))
	h.reply(w, r, http.StatusOK, out, err)
}

func (h *Handler) approveUnlock(w http.ResponseWriter, r *http.Request) {
	u, err := h.svc.ApproveUnlock(r.Context(), principal(r), r.PathValue("unlock"))
	h.reply(w, r, http.StatusOK, u, err)
}
