package client

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"time"

	"certdesk/app/api"
	"certdesk/app/apply"
)

// ChunkSize is how much one PATCH carries: small enough that a dropped
// line loses little, large enough to keep the overhead low.
const ChunkSize = 256 << 10

// Progress reports an upload's advance.
type Progress struct {
	Sent, Total int64
	Rate        float64 // bytes per second since the upload (re)started
}

// Upload is a material upload that can be resumed, even after a restart:
// persist ID (app/sync does) and call Resume with the same bytes.
type Upload struct {
	ID     string
	AppID  string
	Type   apply.MaterialType
	SHA256 string
	Total  int64
}

// StartUpload opens a resumable upload of data as material type t.
func (c *Client) StartUpload(ctx context.Context, appID string, t apply.MaterialType, fileName string, data []byte, replace, idemKey string) (*Upload, error) {
	sum := sha256.Sum256(data)
	req := api.CreateUploadRequest{Type: t, FileName: fileName, Bytes: int64(len(data)), SHA256: hex.EncodeToString(sum[:]), Replace: replace}
	var out api.Upload
	if err := c.do(ctx, "POST", path(api.PathUploads, appID), req, &out, api.HeaderIdempotency, idemKey); err != nil {
		return nil, err
	}
	return &Upload{ID: out.ID, AppID: appID, Type: t, SHA256: req.SHA256, Total: req.Bytes}, nil
}

// Offset asks the server how many bytes of the upload it has.
func (c *Client) Offset(ctx context.Context, uid string) (int64, *api.MaterialInfo, error) {
	var out api.Upload
	if err := c.do(ctx, "GET", path(api.PathUpload, uid), nil, &out); err != nil {
		return 0, nil, err
	}
	return out.Offset, out.Material, nil
}

// Resume sends data from wherever the server stands, chunk by chunk,
// asking again after any failure, until the server has it all and has
// accepted (or refused) the material. A material refused for its content
// is an *api.Error with the problems as field errors; it is not retried.
func (c *Client) Resume(ctx context.Context, u *Upload, data []byte, progress func(Progress)) (*api.MaterialInfo, error) {
	if int64(len(data)) != u.Total {
		return nil, fmt.Errorf("resume %s: have %d bytes, the upload is %d", u.ID, len(data), u.Total)
	}
	start := time.Now()
	var startOff int64 = -1
	failures := 0
	for {
		off, mat, err := c.Offset(ctx, u.ID)
		if err != nil {
			if !transient(err) || failures >= c.cfg.Retries {
				return nil, err
			}
			failures++
			if err := sleep(ctx, backoff(c.cfg.RetryWait, c.cfg.RetryMaxWait, failures)); err != nil {
				return nil, err
			}
			continue
		}
		if mat != nil {
			return mat, nil
		}
		if startOff < 0 {
			startOff = off
		}
		end := min(off+ChunkSize, u.Total)
		res, err := c.raw.R().SetContext(ctx).
			SetHeader(api.HeaderUploadOff, strconv.FormatInt(off, 10)).
			SetHeader("Content-Type", "application/offset+octet-stream").
			SetBody(bytes.NewReader(data[off:end])).
			Patch(path(api.PathUpload, u.ID))
		if err == nil {
			var up api.Upload
			err = decode(res, &up)
			if err == nil {
				failures = 0
				if progress != nil {
					el := time.Since(start).Seconds()
					rate := 0.0
					if el > 0 {
						rate = float64(up.Offset-startOff) / el
					}
					progress(Progress{Sent: up.Offset, Total: u.Total, Rate: rate})
				}
				if up.Material != nil {
					return up.Material, nil
				}
				continue
			}
		}
		var ae *api.Error
		if errors.As(err, &ae) && ae.Code == api.CodeUploadOffset {
			continue // out of step: ask for the offset again
		}
		if err != nil && ctx.Err() != nil {
			return nil, ctx.Err()
		}
		if !transient(err) || failures >= c.cfg.Retries {
			return nil, err
		}
		failures++
		if err := sleep(ctx, backoff(c.cfg.RetryWait, c.cfg.RetryMaxWait, failures)); err != nil {
			return nil, err
		}
	}
}

// transient errors are worth retrying: the network, or the server's
// 429/5xx.
func transient(err error) bool {
	var ae *api.Error
	if errors.As(err, &ae) {
		switch ae.Code {
		case api.CodeRateLimited, api.CodeUnavailable, api.CodeInternal:
			return true
		}
		return false
	}
	return err != nil
}

func backoff(wait, max time.Duration, n int) time.Duration {
	d := wait << min(n, 10)
	return min(d, max)
}

func sleep(ctx context.Context, d time.Duration) error {
	select {
	case <-time.After(d):
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// UploadMaterial is StartUpload then Resume, for callers that need not
// survive a restart.
func (c *Client) UploadMaterial(ctx context.Context, appID string, t apply.MaterialType, fileName string, data []byte, progress func(Progress)) (*api.MaterialInfo, error) {
	u, err := c.StartUpload(ctx, appID, t, fileName, data, "", NewIdempotencyKey())
	if err != nil {
		return nil, err
	}
	return c.Resume(ctx, u, data, progress)
}
