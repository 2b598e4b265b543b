package main

import (
	"bytes"
	"context"
	"encoding/json"
	"image"
	"image/png"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"certdesk/app/material/testimg"
)

func writeJPEG(t *testing.T, path string, w, h int, jfifDPI uint16) {
	t.Helper()
	img := image.NewGray(image.Rect(0, 0, w, h))
	for i := range img.Pix {
		img.Pix[i] = uint8(200 + i%50)
	}
	if err := os.WriteFile(path, testimg.JPEG(img, 80, jfifDPI), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestMaterialCheckCommand(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "good.jpg")
	low := filepath.Join(dir, "low.jpg")
	pngAsJPG := filepath.Join(dir, "scan.jpg")
	writeJPEG(t, good, 827, 1169, 100)
	writeJPEG(t, low, 827, 1169, 72)
	var pb bytes.Buffer
	_ = png.Encode(&pb, image.NewGray(image.Rect(0, 0, 900, 1200)))
	_ = os.WriteFile(pngAsJPG, pb.Bytes(), 0o644)

	tests := []struct {
		name   string
		args   []string
		status int
		out    []string
	}{
		{"one good", []string{"material", "check", good}, exitOK, []string{"good.jpg", "通过"}},
		{"flags after files", []string{"material", "check", good, low, "--lang", "en"}, exitFail, []string{"PASS", "FAIL", "72 DPI", "material fix --type doc"}},
		{"seal rule", []string{"material", "check", "--type", "seal", good}, exitFail, []string{"300 DPI"}},
		{"kind and type", []string{"material", "check", "--kind", "personal", "--type", "signature_imprint", good}, exitFail, []string{"300 DPI"}},
		{"png named jpg", []string{"material", "check", pngAsJPG}, exitFail, []string{"PNG"}},
		{"missing file", []string{"material", "check", filepath.Join(dir, "nope.jpg")}, exitFail, []string{"读取失败"}},
		{"unknown type", []string{"material", "check", "--type", "selfie", good}, exitUsage, nil},
		{"org has no applicant id", []string{"material", "check", "--kind", "org", "--type", "applicant_id", good}, exitUsage, nil},
		{"no files", []string{"material", "check"}, exitUsage, nil},
		{"unknown command", []string{"frobnicate"}, exitUsage, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out, errb bytes.Buffer
			if got := run(context.Background(), tt.args, &out, &errb); got != tt.status {
				t.Fatalf("status %d, want %d\nstdout:\n%s\nstderr:\n%s", got, tt.status, out.String(), errb.String())
			}
			for _, s := range tt.out {
				if !strings.Contains(out.String(), s) {
					t.Errorf("output lacks %q:\n%s", s, out.String())
				}
			}
		})
	}
}

func TestMaterialCheckJSONAndFix(t *testing.T) {
	dir := t.TempDir()
	low := filepath.Join(dir, "low.jpg")
	writeJPEG(t, low, 827, 1169, 72)
	var out, errb bytes.Buffer
	if st := run(context.Background(), []string{"material", "check", "--json", low}, &out, &errb); st != exitFail {
		t.Fatalf("status %d", st)
	}
	var res []checkResult
	if err := json.Unmarshal(out.Bytes(), &res); err != nil || len(res) != 1 || res[0].OK || !res[0].Fixable || res[0].Verdict.Problems[0].Code != "dpi.low" {
		t.Fatalf("json: %v %s", err, out.String())
	}
	fixed := filepath.Join(dir, "fixed.jpg")
	out.Reset()
	if st := run(context.Background(), []string{"material", "fix", low, fixed}, &out, &errb); st != exitOK {
		t.Fatalf("fix status %d: %s", st, errb.String())
	}
	if !strings.Contains(out.String(), "72 DPI") || !strings.Contains(out.String(), "100 DPI") {
		t.Errorf("before/after not reported: %s", out.String())
	}
	out.Reset()
	if st := run(context.Background(), []string{"material", "check", fixed}, &out, &errb); st != exitOK {
		t.Fatalf("fixed file fails: %s", out.String())
	}
	cut := filepath.Join(dir, "cut.jpg")
	b, _ := os.ReadFile(low)
	_ = os.WriteFile(cut, b[:len(b)/2], 0o644)
	errb.Reset()
	if st := run(context.Background(), []string{"material", "fix", cut, filepath.Join(dir, "x.jpg")}, &out, &errb); st != exitFail || !strings.Contains(errb.String(), "损坏") {
		t.Fatalf("unfixable: status %d, %s", st, errb.String())
	}
	if _, err := os.Stat(filepath.Join(dir, "x.jpg")); !os.IsNotExist(err) {
		t.Errorf("an output file was written for an unfixable input")
	}
}

func TestEmbeddedBackend(t *testing.T) {
	dir := t.TempDir()
	be, err := startBackend(context.Background(), "", dir, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	defer be.Close()
	if !be.Embedded || !strings.HasPrefix(be.URL, "http://127.0.0.1:") {
		t.Fatalf("backend: %+v", be)
	}
	r, err := http.Get(be.URL + "/readyz")
	if err != nil || r.StatusCode != 200 {
		t.Fatalf("embedded server not ready: %v", err)
	}
	r.Body.Close()
	if _, err := os.Stat(filepath.Join(dir, "server", "certdesk.db")); err != nil {
		t.Fatalf("no database in the data directory: %v", err)
	}
	ext, _ := startBackend(context.Background(), "https://ca.example.cn", dir, nil)
	if ext.Embedded || ext.URL != "https://ca.example.cn" {
		t.Fatalf("standalone: %+v", ext)
	}
}

func TestServerSetting(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	t.Setenv("CERTDESK_SERVER", "")
	if u, err := chooseServer(ctx, dir, ""); err != nil || u != "" {
		t.Fatalf("default: %q %v", u, err)
	}
	if _, err := chooseServer(ctx, dir, "http://ca.example.cn"); err == nil {
		t.Fatal("plain http to another machine accepted")
	}
	if u, _ := chooseServer(ctx, dir, "https://ca.example.cn"); u != "https://ca.example.cn" {
		t.Fatalf("flag: %q", u)
	}
	if u, _ := chooseServer(ctx, dir, ""); u != "https://ca.example.cn" {
		t.Fatalf("remembered: %q", u)
	}
	t.Setenv("CERTDESK_SERVER", "https://other.example.cn")
	if u, _ := chooseServer(ctx, dir, ""); u != "https://other.example.cn" {
		t.Fatalf("env for this run: %q", u)
	}
	t.Setenv("CERTDESK_SERVER", "")
	if u, _ := chooseServer(ctx, dir, "embedded"); u != "" {
		t.Fatalf("back to embedded: %q", u)
	}
	if u, _ := chooseServer(ctx, dir, ""); u != "" {
		t.Fatalf("embedded remembered: %q", u)
	}
}
