package client

import (
	"context"
	"fmt"
	"time"

	"certdesk/app/api"
	"certdesk/app/apply"
)

// Register creates an applicant account.
func (c *Client) Register(ctx context.Context, req api.RegisterRequest) (*api.Account, error) {
	var out api.Account
	return &out, c.do(ctx, "POST", api.PathRegister, req, &out)
}

// Login logs in with a password and keeps the session token.
func (c *Client) Login(ctx context.Context, req api.LoginRequest) (*api.Session, error) {
	var out api.Session
	if err := c.do(ctx, "POST", api.PathLogin, req, &out); err != nil {
		return nil, err
	}
	c.SetToken(out.Token)
	return &out, nil
}

// LoginNonce asks for a UKEY login challenge.
func (c *Client) LoginNonce(ctx context.Context) (*api.Nonce, error) {
	var out api.Nonce
	return &out, c.do(ctx, "POST", api.PathLoginNonce, nil, &out)
}

// UKEYLogin logs in with a signature made on the UKEY, keeping the token.
func (c *Client) UKEYLogin(ctx context.Context, req api.UKEYLoginRequest) (*api.Session, error) {
	var out api.Session
	if err := c.do(ctx, "POST", api.PathUKEYLogin, req, &out); err != nil {
		return nil, err
	}
	c.SetToken(out.Token)
	return &out, nil
}

// Logout ends the session and forgets the token.
func (c *Client) Logout(ctx context.Context) error {
	err := c.do(ctx, "DELETE", api.PathLogout, nil, nil)
	c.SetToken("")
	return err
}

// Me returns the logged-in account.
func (c *Client) Me(ctx context.Context) (*api.Account, error) {
	var out api.Account
	return &out, c.do(ctx, "GET", api.PathMe, nil, &out)
}

// Agreement returns the service agreement to accept.
func (c *Client) Agreement(ctx context.Context) (*api.Agreement, error) {
	var out api.Agreement
	return &out, c.do(ctx, "GET", api.PathAgreement, nil, &out)
}

// Fees returns the fee schedule.
func (c *Client) Fees(ctx context.Context) (*apply.Schedule, error) {
	var out apply.Schedule
	return &out, c.do(ctx, "GET", api.PathFeeSchedule, nil, &out)
}

// CreateApplication opens a draft. idemKey must be the same for every
// attempt of this one creation (NewIdempotencyKey, kept by the caller).
func (c *Client) CreateApplication(ctx context.Context, req api.CreateApplicationRequest, idemKey string) (*api.Application, error) {
	var out api.Application
	return &out, c.do(ctx, "POST", api.PathApplications, req, &out, api.HeaderIdempotency, idemKey)
}

// Applications lists the user center.
func (c *Client) Applications(ctx context.Context) ([]api.Summary, error) {
	var out []api.Summary
	return out, c.do(ctx, "GET", api.PathApplications, nil, &out)
}

// Application reads one application.
func (c *Client) Application(ctx context.Context, id string) (*api.Application, error) {
	var out api.Application
	return &out, c.do(ctx, "GET", path(api.PathApplication, id), nil, &out)
}

// UpdateForm saves (and with Submit, submits) the form.
func (c *Client) UpdateForm(ctx context.Context, id string, req api.UpdateFormRequest) (*api.Application, error) {
	var out api.Application
	return &out, c.do(ctx, "PATCH", path(api.PathApplication, id), req, &out)
}

// Event takes an applicant's step (start_payment, resubmit, cancel).
func (c *Client) Event(ctx context.Context, id string, req api.EventRequest) (*api.Application, error) {
	var out api.Application
	return &out, c.do(ctx, "POST", path(api.PathEvents, id), req, &out)
}

// Cancel cancels an application before payment is confirmed.
func (c *Client) Cancel(ctx context.Context, id string) (*api.Application, error) {
	var out api.Application
	return &out, c.do(ctx, "DELETE", path(api.PathApplication, id), nil, &out)
}

// Similar starts 类似申请 from an application.
func (c *Client) Similar(ctx context.Context, id, idemKey string) (*api.Application, error) {
	var out api.Application
	return &out, c.do(ctx, "POST", path(api.PathSimilar, id), nil, &out, api.HeaderIdempotency, idemKey)
}

// Checklist returns the materials step.
func (c *Client) Checklist(ctx context.Context, id string) (*api.Checklist, error) {
	var out api.Checklist
	return &out, c.do(ctx, "GET", path(api.PathChecklist, id), nil, &out)
}

// DeleteMaterial deletes a material.
func (c *Client) DeleteMaterial(ctx context.Context, id, mid string) error {
	return c.do(ctx, "DELETE", path(api.PathMaterial, id, mid), nil, nil)
}

// MaterialData downloads a material's JPEG (查看材料数据).
func (c *Client) MaterialData(ctx context.Context, id, mid string) ([]byte, error) {
	res, err := c.r.R().SetContext(ctx).Get(path(api.PathMaterialData, id, mid))
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrNetwork, err)
	}
	if err := decode(res, nil); err != nil {
		return nil, err
	}
	return res.Body(), nil
}

// StartIdentity opens (or returns the live) face-ID session.
func (c *Client) StartIdentity(ctx context.Context, id string) (*api.IdentitySession, error) {
	var out api.IdentitySession
	return &out, c.do(ctx, "POST", path(api.PathIdentity, id), nil, &out)
}

// IdentityStatus long-polls the face-ID session for up to wait.
func (c *Client) IdentityStatus(ctx context.Context, id string, wait time.Duration) (*api.IdentitySession, error) {
	var out api.IdentitySession
	req := c.r.R().SetContext(ctx).SetQueryParam("wait", fmt.Sprint(int(wait.Seconds())))
	res, err := req.Get(path(api.PathIdentity, id))
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrNetwork, err)
	}
	return &out, decode(res, &out)
}

// StartPayment chooses how to pay.
func (c *Client) StartPayment(ctx context.Context, id string, m api.PaymentMethod) (*api.Payment, error) {
	var out api.Payment
	return &out, c.do(ctx, "POST", path(api.PathPayment, id), api.StartPaymentRequest{Method: m}, &out)
}

// PaymentStatus returns the payment step.
func (c *Client) PaymentStatus(ctx context.Context, id string) (*api.Payment, error) {
	var out api.Payment
	return &out, c.do(ctx, "GET", path(api.PathPayment, id), nil, &out)
}

// Download exchanges the CSR and the code for the certificate; repeating
// it with the same key returns the same certificate.
func (c *Client) Download(ctx context.Context, id string, req api.DownloadRequest) (*api.CertificateBundle, error) {
	var out api.CertificateBundle
	return &out, c.do(ctx, "POST", path(api.PathDownload, id), req, &out)
}

// Renew starts 证书更新 (needs a UKEY login session).
func (c *Client) Renew(ctx context.Context, id, answer string) (*api.Application, error) {
	var out api.Application
	return &out, c.do(ctx, "POST", path(api.PathRenew, id), api.RenewRequest{SecurityAnswer: answer}, &out)
}

// Replace starts 补办 after a lost UKEY.
func (c *Client) Replace(ctx context.Context, id, answer string) (*api.Application, error) {
	var out api.Application
	return &out, c.do(ctx, "POST", path(api.PathReplace, id), api.RenewRequest{SecurityAnswer: answer}, &out)
}
