package acceptform

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
	"unicode"

	"github.com/go-text/typesetting/font"

	"certdesk/app/apply"
	"certdesk/assets"
)

func orgInput() Input {
	return Input{AppID: "abc123", Kind: apply.KindOrg, Date: time.Date(2026, 11, 25, 0, 0, 0, 0, time.UTC), Version: "2026-11",
		Agreement: "本协议由数字证书申请人与电子认证服务机构订立。",
		Fee:       apply.Quote{TotalFen: 50000},
		Form: apply.Values{apply.FUsername: "zhsoft01", apply.FOrgName: "福州示例软件有限公司", apply.FOrgCode: "91350100M000100Y43",
			apply.FOrgAddress: "福建省福州市鼓楼区五四路 100 号", apply.FHandlerName: "王堃", apply.FHandlerIDType: "resident",
			apply.FHandlerID: "11010519491231002X", apply.FHandlerMobile: "13800138000", apply.FHandlerEmail: "wang@example.com",
			apply.FSecurityQuestion: "您的出生地是?", apply.FSecurityAnswer: "福州", apply.FServiceSeal: "true", apply.FDelivery: "pickup"}}
}

func tool(t *testing.T, name string) {
	if _, err := exec.LookPath(name); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("%s is required in CI", name)
		}
		t.Skip(name + " not installed (poppler-utils)")
	}
}

// The form is three A4 pages whose text (read back with poppler's
// pdftotext) carries the application's data, never the security answer.
func TestRenderReadsBack(t *testing.T) {
	tool(t, "pdftotext")
	pdf, err := Render(orgInput())
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(t.TempDir(), "form.pdf")
	os.WriteFile(p, pdf, 0o644)
	info, err := exec.Command("pdfinfo", p).CombinedOutput()
	if err != nil || !strings.Contains(strings.Join(strings.Fields(string(info)), " "), "Pages: 3") || !strings.Contains(string(info), "595.28 x 841.89") {
		t.Fatalf("pdfinfo: %v\n%s", err, info)
	}
	out, err := exec.Command("pdftotext", "-layout", p, "-").CombinedOutput()
	if err != nil {
		t.Fatal(err)
	}
	text := string(out)
	for _, want := range []string{"数字证书业务受理表", "福州示例软件有限公司", "91350100M000100Y43", "王堃", "11010519491231002X",
		"居民身份证", "到受理点领取", "500.00 元", "单位盖章", "经办人签字", "电子认证服务协议", "授权委托书", "zhsoft01"} {
		if !strings.Contains(text, want) {
			t.Errorf("form lacks %q", want)
		}
	}
	// Every printed character has a glyph in the embedded font (a missing
	// one prints as an empty box on paper).
	face, err := font.ParseTTF(bytes.NewReader(assets.PDFFont))
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range text {
		if unicode.IsSpace(r) || unicode.IsControl(r) {
			continue
		}
		if _, ok := face.NominalGlyph(r); !ok {
			t.Errorf("no glyph for %q (U+%04X) in the PDF font", r, r)
		}
	}
	if strings.Contains(text, "验证答案") {
		t.Error("the security answer field is printed")
	}
	if len(pdf) > 600<<10 {
		t.Errorf("the form is %d KB: the font was not subset", len(pdf)>>10)
	}
	// A look for people: page 1 as PNG next to the test's temp files.
	if _, err := exec.LookPath("pdftoppm"); err == nil {
		exec.Command("pdftoppm", "-png", "-r", "60", "-f", "1", "-l", "1", p, filepath.Join(filepath.Dir(p), "page")).Run()
	}
}
