//go:build screens

package ui

import (
	"context"
	"fmt"
	"net/url"
	"sort"
	"strings"
	"testing"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/test"

	"certdesk/app/apply"
	"certdesk/app/apply/applytest"
	"certdesk/app/server/devprov"
	"certdesk/token/softhsmtest"
)

// Every screen of the scripted journey, in Chinese, shows no Latin word
// outside the allow-list (a newcomer found "(Select one)", No/Yes, CNY,
// jpeg and raw launcher errors there).
// devCAName is the development CA's name, in the issuer of its
// certificates (data, like the applicant's).
const devCAName = "CertDesk Development CA Issuing CA"

func TestNoEnglishOnChineseScreens(t *testing.T) {
	srv, _ := devServer(t)
	tk := softhsmtest.New(t, "ui-latin")
	staff := srv.DevStaff("latin")
	win := test.NewTempWindow(t, nil)
	win.Resize(fyne.NewSize(960, 680))
	found := map[string][]string{} // word → screens
	var screens []string
	cfg := ScreenConfig{
		ServerURL: srv.URL, Module: tk.ModulePath, PIN: tk.PIN, DataDir: t.TempDir(), Lang: apply.ZH,
		Render:  testRender,
		Approve: staff.Approve, ConfirmTransfer: staff.ConfirmTransfer, Code: staff.Code,
		Phone: func(u string, form url.Values) error { return devprov.Phone(u, form) },
		Inspect: func(name string, c fyne.Canvas) error {
			screens = append(screens, name)
			for _, s := range visibleTexts(c) {
				// Data, not wording: what the applicant typed, the UKEY's
				// label, the issuing CA's name in the certificate.
				for _, v := range applytest.OrgForm() {
					s = strings.ReplaceAll(s, v, "")
				}
				s = strings.ReplaceAll(s, tk.Label, "")
				s = strings.ReplaceAll(s, devCAName, "")
				if i := strings.Index(s, "颁发者"); i >= 0 {
					s = s[:i]
				}
				for _, w := range latinWords(s) {
					found[w] = append(found[w], fmt.Sprintf("%s: %q", name, s))
				}
			}
			return nil
		},
	}
	done := make(chan error, 1)
	go func() {
		_, err := screenScript(context.Background(), win, cfg)
		done <- err
	}()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(3 * time.Minute):
		t.Fatal("the screen walk did not finish")
	}
	if len(screens) < 23 {
		t.Fatalf("walked %d screens, want all 23: %v", len(screens), screens)
	}
	words := make([]string, 0, len(found))
	for w := range found {
		words = append(words, w)
	}
	sort.Strings(words)
	for _, w := range words {
		t.Errorf("Latin word %q on a Chinese screen: %s", w, strings.Join(found[w], "; "))
	}
}
