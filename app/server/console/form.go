package console

import (
	"bytes"
	"context"
	"fmt"
	"image/png"
	"time"

	"certdesk/app/acceptform"
	"certdesk/app/api"
	"certdesk/app/apply"
	"certdesk/app/pdfpreview"
	"certdesk/app/server/service"
)

// drawForm prints the application's acceptance form as the client does
// (the same package, the same data) and draws its pages as PNG, so the
// reviewer sees beside the applicant's signed scan what should have been
// signed.
func drawForm(ctx context.Context, svc *service.Service, a *api.Application, cacheDir string) ([][]byte, error) {
	ag := svc.Agreement()
	pdf, err := acceptform.Render(acceptform.Input{AppID: a.ID, Kind: a.Kind, Form: a.Form, Fee: a.Fee,
		Agreement: ag.Text, Version: ag.Version, Date: submitted(a)})
	if err != nil {
		return nil, fmt.Errorf("acceptance form of %s: %w", a.ID, err)
	}
	imgs, err := pdfpreview.Pages(ctx, pdf, 110, cacheDir)
	if err != nil {
		return nil, fmt.Errorf("draw acceptance form of %s: %w", a.ID, err)
	}
	out := make([][]byte, 0, len(imgs))
	for _, im := range imgs {
		var b bytes.Buffer
		if err := (&png.Encoder{CompressionLevel: png.BestSpeed}).Encode(&b, im); err != nil {
			return nil, err
		}
		out = append(out, b.Bytes())
	}
	return out, nil
}

// submitted is when the form was last sent: the date the applicant's
// printout carries when printed that day.
func submitted(a *api.Application) time.Time {
	t := a.CreatedAt
	for _, h := range a.History {
		if h.Event == apply.EvSubmit || h.Event == apply.EvModify {
			t = h.At
		}
	}
	return t
}
