package acceptform

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"certdesk/app/apply"
)

func TestInvoiceText(t *testing.T) {
	pdf, err := RenderInvoice(Invoice{Number: "CD20261203000001", Date: time.Date(2026, 12, 3, 10, 0, 0, 0, time.UTC), AppID: "app1",
		SellerName: "福建省数字证书认证中心", SellerTax: "91350000MA0000000X", BuyerName: "福州示例软件有限公司", BuyerTax: "91350100M000100Y43",
		Items: []apply.FeeItem{{Label: apply.Text{ZH: "单位证书"}, Fen: 50000}, {Label: apply.Text{ZH: "签章服务"}, Fen: 10010}}, TaxRateBP: 600})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := exec.LookPath("pdftotext"); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("pdftotext (poppler-utils) is installed by .ci/deps")
		}
		t.Skip("no pdftotext")
	}
	p := filepath.Join(t.TempDir(), "i.pdf")
	if err := os.WriteFile(p, pdf, 0o600); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command("pdftotext", "-layout", p, "-").Output()
	if err != nil {
		t.Fatal(err)
	}
	text := string(out)
	// 500.00 → tax 28.30; 100.10 → tax 5.67.
	for _, want := range []string{"福州示例软件有限公司", "91350100M000100Y43", "CD20261203000001", "陆佰元壹角整", "600.10", "471.70", "28.30", "94.43", "5.67", "33.97", "6%", "数电发票"} {
		if !strings.Contains(text, want) {
			t.Errorf("invoice text lacks %q:\n%s", want, text)
		}
	}
}

func TestTaxOf(t *testing.T) {
	for _, tc := range []struct{ fen, want int64 }{{50000, 2830}, {10010, 567}, {0, 0}, {106, 6}} {
		if got := taxOf(tc.fen, 600); got != tc.want {
			t.Errorf("tax of %d: %d, want %d", tc.fen, got, tc.want)
		}
	}
}
