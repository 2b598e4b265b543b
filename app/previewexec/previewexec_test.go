package previewexec

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"certdesk/app/acceptform"
	"certdesk/app/apply"
)

// helper and cache are built and shared once for the package's tests.
var helper, cache string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "previewexec")
	if err != nil {
		panic(err)
	}
	helper = filepath.Join(dir, "certdesk-preview")
	cache = filepath.Join(dir, "cache")
	if out, err := exec.Command("go", "build", "-o", helper, "certdesk/cmd/certdesk-preview").CombinedOutput(); err != nil {
		panic(string(out))
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// The helper, run as the window runs it, returns the form's three pages.
func TestPagesThroughTheHelper(t *testing.T) {
	pdf, err := acceptform.Render(acceptform.Input{AppID: "abc123", Kind: apply.KindPersonal, Date: time.Now(), Version: "2026-11",
		Agreement: "本协议由数字证书申请人与电子认证服务机构订立。", Fee: apply.Quote{TotalFen: 20000},
		Form: apply.Values{apply.FUsername: "wangzhe", apply.FHandlerName: "王喆", apply.FHandlerIDType: "resident",
			apply.FHandlerID: "11010519491231002X", apply.FHandlerMobile: "13800138000", apply.FDelivery: "pickup"}})
	if err != nil {
		t.Fatal(err)
	}
	pages, err := Pages(t.Context(), helper, pdf, 40, cache)
	if err != nil {
		t.Fatal(err)
	}
	if len(pages) != 3 {
		t.Fatalf("%d pages, want 3", len(pages))
	}
	for i, p := range pages {
		// A4 at 40 DPI: 330.7 × 467.7 pixels.
		if b := p.Bounds(); b.Dx() < 330 || b.Dx() > 331 || b.Dy() < 467 || b.Dy() > 468 {
			t.Errorf("page %d is %v", i+1, b)
		}
	}
}

// What the helper says on failure reaches the caller.
func TestPagesReportsTheHelpersError(t *testing.T) {
	_, err := Pages(context.Background(), helper, []byte("not a PDF"), 40, cache)
	if err == nil || !strings.Contains(err.Error(), "preview:") {
		t.Fatalf("err = %v, want the helper's message", err)
	}
	if _, err := Pages(context.Background(), filepath.Join(t.TempDir(), "missing"), []byte("%PDF"), 40, cache); err == nil {
		t.Fatal("no error without the helper")
	}
}
