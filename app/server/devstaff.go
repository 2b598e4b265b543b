package server

import (
	"context"
	"errors"
	"regexp"

	"certdesk/app/api"
	"certdesk/app/server/service"
)

// DevStaff is the CA staff's side of the process for scripted runs on a
// development server (the screenshot run, the screen-walk tests): a
// reviewer approving and confirming transfers, and the download code read
// from the outbox as the SMS carries it.
type DevStaff struct {
	srv *Server
	who service.Principal
}

// DevStaff acts as staff account name.
func (s *Server) DevStaff(name string) DevStaff {
	return DevStaff{srv: s, who: service.Operator(name)}
}

// Approve passes the review of application id.
func (d DevStaff) Approve(ctx context.Context, id string) error {
	_, err := d.srv.Service.Review(ctx, d.who, id, api.ReviewRequest{Approve: true})
	return err
}

// ConfirmTransfer records application id's bank transfer as received.
func (d DevStaff) ConfirmTransfer(ctx context.Context, id string) error {
	_, err := d.srv.Service.ConfirmTransfer(ctx, d.who, id, d.who.AccountID)
	return err
}

var reDownloadCode = regexp.MustCompile(`验证码:(\d{8})`)

// Code is the download code sent to application id's applicant.
func (d DevStaff) Code(ctx context.Context, id string) (string, error) {
	msgs, err := d.srv.Store.Messages(ctx, id, 50)
	if err != nil {
		return "", err
	}
	for _, m := range msgs {
		if mm := reDownloadCode.FindStringSubmatch(m.Body); mm != nil {
			return mm[1], nil
		}
	}
	return "", errors.New("no download code in the outbox")
}
