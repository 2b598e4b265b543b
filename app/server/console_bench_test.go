package server

import (
	"fmt"
	"io"
	"net/http"
	"sync"
	"testing"

	"certdesk/app/api"
	"certdesk/app/apply"
	"certdesk/app/material/testimg"
)

// nearly2MB is a real A4 JPEG at dpi just under the 2 MiB limit.
func nearly2MB(b testing.TB, seed uint64, dpi int) []byte {
	b.Helper()
	img := testimg.Photo(210*dpi*10/254, 297*dpi*10/254, seed)
	for q := 98; q > 20; q -= 2 {
		if j := testimg.JPEG(img, q, uint16(dpi)); len(j) <= 2<<20 {
			if len(j) < 1800<<10 {
				b.Fatalf("scan of %d KB at q%d: not near 2 MB", len(j)>>10, q)
			}
			return j
		}
	}
	b.Fatal("no quality fits 2 MiB")
	return nil
}

// BenchmarkReviewPage8x2MB is a reviewer opening an application with 8
// materials of about 2 MB each: the page, then its 8 scans and the printed
// form's first page (already drawn) fetched 6 at a time, as a browser does,
// over loopback. One op is the whole page.
func BenchmarkReviewPage8x2MB(b *testing.B) {
	s := startServer(b, "")
	c := applicant(b, s)
	var a api.Application
	c.ok(c.do("POST", api.PathApplications, api.CreateApplicationRequest{Kind: apply.KindOrg, Agreement: agreement(c)}), &a)
	c.ok(c.do("PATCH", "/applications/"+a.ID, api.UpdateFormRequest{Form: orgForm("bench01"), Submit: true}), &a)
	var urls []string
	var total int64
	for i, mt := range []apply.MaterialType{apply.MatAcceptanceForm, apply.MatOrgLicense, apply.MatAuthorization, apply.MatHandlerID, apply.MatSealImprint, apply.MatSpare, apply.MatSpare, apply.MatSpare} {
		dpi := 212
		if mt == apply.MatSealImprint {
			dpi = 300 // an imprint sheet's rule
		}
		data := nearly2MB(b, uint64(i+1), dpi)
		m := c.mustUpload(a.ID, mt, data)
		urls = append(urls, fmt.Sprintf("/staff/app/%s/material/%s", a.ID, m.ID))
		total += m.Bytes
	}
	urls = append(urls, "/staff/app/"+a.ID+"/form/1")
	br := consoleLogin(b, s, staffAccount(b, s, api.StaffReviewer))
	get := func(path string) int64 {
		res, err := br.hc.Get(s.URL + path)
		if err != nil {
			b.Fatal(err)
		}
		defer res.Body.Close()
		n, _ := io.Copy(io.Discard, res.Body)
		if res.StatusCode != http.StatusOK {
			b.Fatalf("%s: %d", path, res.StatusCode)
		}
		return n
	}
	get(urls[len(urls)-1]) // the form's first drawing (PDFium) is not the page's cost
	br.hc.Transport = &http.Transport{MaxConnsPerHost: 6, MaxIdleConnsPerHost: 6}
	b.SetBytes(total)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		get("/staff/app/" + a.ID)
		var wg sync.WaitGroup
		sem := make(chan struct{}, 6)
		for _, u := range urls {
			wg.Add(1)
			sem <- struct{}{}
			go func(u string) {
				defer wg.Done()
				defer func() { <-sem }()
				get(u)
			}(u)
		}
		wg.Wait()
	}
	b.ReportMetric(float64(total)/(1<<20), "MiB/page")
}
