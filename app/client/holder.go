package client

import (
	"context"

	"certdesk/app/api"
)

// CertificateStatus asks the CA about one certificate (no login needed).
func (c *Client) CertificateStatus(ctx context.Context, serial string) (*api.CertificateStatus, error) {
	var out api.CertificateStatus
	return &out, c.do(ctx, "GET", path(api.PathCertStatus, serial), nil, &out)
}

// HolderRevoke revokes the holder's own certificate (and with Replace
// starts 补办).
func (c *Client) HolderRevoke(ctx context.Context, id string, req api.HolderRevokeRequest) (*api.HolderRevocation, error) {
	var out api.HolderRevocation
	return &out, c.do(ctx, "POST", path(api.PathHolderRevoke, id), req, &out)
}

// Renewals lists the account's certificates due for renewal.
func (c *Client) Renewals(ctx context.Context) ([]api.Renewal, error) {
	var out []api.Renewal
	return out, c.do(ctx, "GET", api.PathRenewals, nil, &out)
}

// Audit is the account's audit history.
func (c *Client) Audit(ctx context.Context) ([]api.AuditEntry, error) {
	var out []api.AuditEntry
	return out, c.do(ctx, "GET", api.PathAudit, nil, &out)
}

// StartUnlock starts unlocking the PIN of UKEY serial.
func (c *Client) StartUnlock(ctx context.Context, serial string, req api.StartUnlockRequest) (*api.Unlock, error) {
	var out api.Unlock
	return &out, c.do(ctx, "POST", path(api.PathUKEYUnlocks, serial), req, &out)
}

// Unlock reads an unlock request.
func (c *Client) Unlock(ctx context.Context, id string) (*api.Unlock, error) {
	var out api.Unlock
	return &out, c.do(ctx, "GET", path(api.PathUnlock, id), nil, &out)
}

// UnlockCode sends the SMS code.
func (c *Client) UnlockCode(ctx context.Context, id, code string) (*api.Unlock, error) {
	var out api.Unlock
	return &out, c.do(ctx, "POST", path(api.PathUnlockCode, id), api.UnlockCodeRequest{Code: code}, &out)
}

// UnlockGrant takes the one-time grant; the caller clears it after use.
func (c *Client) UnlockGrant(ctx context.Context, id string) (*api.UnlockGrant, error) {
	var out api.UnlockGrant
	return &out, c.do(ctx, "POST", path(api.PathUnlockGrant, id), nil, &out)
}

// UnlockDone reports the outcome on the token.
func (c *Client) UnlockDone(ctx context.Context, id string, req api.UnlockDoneRequest) (*api.Unlock, error) {
	var out api.Unlock
	return &out, c.do(ctx, "POST", path(api.PathUnlockDone, id), req, &out)
}
