package main

// Whole-process benchmarks against ImageMagick, the reference tool, run
// side by side in the same benchmark so that the ratio is what counts on a
// noisy machine:
//
//	go test -run '^$' -bench . -benchtime 10x ./cmd/certdesk
//
// They build the real certdesk binary and exec it, as support staff would.

import (
	"bytes"
	"fmt"
	"image"
	"image/jpeg"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"certdesk/app/material/testimg"
	"certdesk/token/softhsmtest"
)

type build struct {
	once sync.Once
	path string
	err  error
}

var builds = map[string]*build{"no_emoji": {}, "no_emoji,screens": {}}

// certdeskBinary builds cmd/certdesk once per test process, as .ci/start
// builds it (no screenshot run inside).
func certdeskBinary(b testing.TB) string { return buildWith(b, "no_emoji") }

// screensBinary is certdesk built with the developers' screenshot run.
func screensBinary(b testing.TB) string { return buildWith(b, "no_emoji,screens") }

func buildWith(b testing.TB, tags string) string {
	bd := builds[tags]
	bd.once.Do(func() {
		dir, err := os.MkdirTemp("", "certdesk-bench-")
		if err != nil {
			bd.err = err
			return
		}
		bd.path = filepath.Join(dir, "certdesk")
		out, err := exec.Command("go", "build", "-tags", tags, "-o", bd.path, ".").CombinedOutput()
		if err != nil {
			bd.err = fmt.Errorf("go build: %v\n%s", err, out)
			return
		}
		// The print preview's helper goes beside it, as the installer puts it.
		out, err = exec.Command("go", "build", "-o", filepath.Join(dir, "certdesk-preview"), "certdesk/cmd/certdesk-preview").CombinedOutput()
		if err != nil {
			bd.err = fmt.Errorf("go build certdesk-preview: %v\n%s", err, out)
		}
	})
	if bd.err != nil {
		b.Fatal(bd.err)
	}
	return bd.path
}

func needConvert(b *testing.B) {
	if _, err := exec.LookPath("convert"); err != nil {
		b.Skip("ImageMagick convert not installed (the README's test command installs it)")
	}
}

func writeScans(b *testing.B, dir string, n, w, h int, dpi uint16, q int) []string {
	var files []string
	for i := range n {
		p := filepath.Join(dir, fmt.Sprintf("scan%02d.jpg", i))
		if err := os.WriteFile(p, testimg.JPEG(testimg.Scan(w, h, uint64(i+1)), q, dpi), 0o644); err != nil {
			b.Fatal(err)
		}
		files = append(files, p)
	}
	return files
}

func timeCmd(b *testing.B, name string, args ...string) time.Duration {
	start := time.Now()
	out, err := exec.Command(name, args...).CombinedOutput()
	d := time.Since(start)
	if err != nil {
		b.Fatalf("%s %v: %v\n%s", name, args[:min(len(args), 3)], err, out)
	}
	return d
}

// BenchmarkCheck20A4 compares `certdesk material check` (full validation:
// every Huffman symbol of these baseline JPEGs read, no pixels
// reconstructed) over 20 A4 scans at 100 DPI (what the CA asks for) with
// `convert FILES null:`, which only decodes them (pixels included). 300 DPI pages are left
// out: Debian's ImageMagick policy (memory 256 MiB, map 512 MiB) refuses 20
// of them in one process with "cache resources exhausted".
func BenchmarkCheck20A4(b *testing.B) {
	needConvert(b)
	bin := certdeskBinary(b)
	for _, tc := range []struct {
		name string
		w, h int
		dpi  uint16
		q    int
	}{{"100dpi", 827, 1169, 100, 85}} {
		b.Run(tc.name, func(b *testing.B) {
			files := writeScans(b, b.TempDir(), 20, tc.w, tc.h, tc.dpi, tc.q)
			args := append([]string{"material", "check"}, files...)
			imArgs := append(append([]string{}, files...), "null:")
			// Warm the page cache and both programs once.
			timeCmd(b, bin, args...)
			timeCmd(b, "convert", imArgs...)
			var ours, theirs time.Duration
			b.ResetTimer()
			for range b.N {
				ours += timeCmd(b, bin, args...)
				theirs += timeCmd(b, "convert", imArgs...)
			}
			b.StopTimer()
			b.ReportMetric(float64(ours.Milliseconds())/float64(b.N), "certdesk-ms")
			b.ReportMetric(float64(theirs.Milliseconds())/float64(b.N), "convert-ms")
			b.ReportMetric(float64(theirs)/float64(ours), "speedup")
		})
	}
}

// BenchmarkFixOversizedPhoto compares `certdesk material fix` of a phone
// photo over 2 MB with `convert -define jpeg:extent=2MB`: time, and the
// PSNR of each result against the original pixels.
func BenchmarkFixOversizedPhoto(b *testing.B) {
	needConvert(b)
	bin := certdeskBinary(b)
	dir := b.TempDir()
	orig := testimg.Photo(4032, 3024, 42) // a 12 MP phone camera
	photo := testimg.JPEG(orig, 97, 72)
	in := filepath.Join(dir, "photo.jpg")
	if err := os.WriteFile(in, photo, 0o644); err != nil {
		b.Fatal(err)
	}
	src := decodeFile(b, in)
	ours, theirs := filepath.Join(dir, "ours.jpg"), filepath.Join(dir, "im.jpg")
	timeCmd(b, bin, "material", "fix", in, ours)
	timeCmd(b, "convert", in, "-define", "jpeg:extent=2MB", theirs)
	var tOurs, tIM time.Duration
	b.ResetTimer()
	for range b.N {
		tOurs += timeCmd(b, bin, "material", "fix", in, ours)
		tIM += timeCmd(b, "convert", in, "-define", "jpeg:extent=2MB", theirs)
	}
	b.StopTimer()
	pOurs, pIM := psnr(src, decodeFile(b, ours)), psnr(src, decodeFile(b, theirs))
	so, _ := os.Stat(ours)
	st, _ := os.Stat(theirs)
	b.ReportMetric(float64(len(photo))/1e6, "input-MB")
	b.ReportMetric(float64(tOurs.Milliseconds())/float64(b.N), "certdesk-ms")
	b.ReportMetric(float64(tIM.Milliseconds())/float64(b.N), "convert-ms")
	b.ReportMetric(float64(tOurs)/float64(tIM), "time-ratio")
	b.ReportMetric(pOurs, "certdesk-dB")
	b.ReportMetric(pIM, "convert-dB")
	b.ReportMetric(float64(so.Size()), "certdesk-bytes")
	b.ReportMetric(float64(st.Size()), "convert-bytes")
}

func decodeFile(b *testing.B, p string) image.Image {
	f, err := os.ReadFile(p)
	if err != nil {
		b.Fatal(err)
	}
	img, err := jpeg.Decode(bytes.NewReader(f))
	if err != nil {
		b.Fatalf("decode %s: %v", p, err)
	}
	return img
}

// psnr over R, G and B against the original.
func psnr(a, c image.Image) float64 {
	r := a.Bounds()
	var sum float64
	for y := r.Min.Y; y < r.Max.Y; y++ {
		for x := r.Min.X; x < r.Max.X; x++ {
			r1, g1, b1, _ := a.At(x, y).RGBA()
			r2, g2, b2, _ := c.At(x, y).RGBA()
			for _, d := range []float64{float64(r1>>8) - float64(r2>>8), float64(g1>>8) - float64(g2>>8), float64(b1>>8) - float64(b2>>8)} {
				sum += d * d
			}
		}
	}
	mse := sum / float64(3*r.Dx()*r.Dy())
	return 10 * math.Log10(255*255/mse)
}

// BenchmarkTokenEnrol compares `certdesk token test` (login, key
// generation, CSR signed on the token, certificate install and read-back,
// sign/verify, clean-up) with pkcs11-tool doing key generation and a
// signature (two processes), on the same SoftHSM2 token, alternately:
//
//	go test -run '^$' -bench TokenEnrol -benchtime 20x ./cmd/certdesk
func BenchmarkTokenEnrol(b *testing.B) {
	if _, err := exec.LookPath("pkcs11-tool"); err != nil {
		b.Skip("pkcs11-tool not installed")
	}
	bin := certdeskBinary(b)
	for _, kt := range []struct{ ours, theirs, mech string }{{"p256", "EC:prime256v1", "ECDSA"}, {"rsa2048", "rsa:2048", "SHA256-RSA-PKCS"}} {
		b.Run(kt.ours, func(b *testing.B) {
			tk := softhsmtest.New(b, "bench-"+kt.ours)
			data := filepath.Join(b.TempDir(), "data")
			os.WriteFile(data, []byte("CertDesk"), 0o644)
			tool := func(args ...string) *exec.Cmd {
				return exec.Command("pkcs11-tool", append([]string{"--module", tk.ModulePath, "--token-label", tk.Label, "--login", "--pin", tk.PIN}, args...)...)
			}
			run := func(cmd *exec.Cmd) time.Duration {
				start := time.Now()
				if out, err := cmd.CombinedOutput(); err != nil {
					b.Fatalf("%v: %v\n%s", cmd.Args, err, out)
				}
				return time.Since(start)
			}
			ours := func() time.Duration {
				// --keep: clean-up is left out of the timing on both sides.
				cmd := exec.Command(bin, "token", "test", "--module", tk.ModulePath, "--key", kt.ours, "--keep")
				cmd.Stdin = strings.NewReader(tk.PIN + "\n")
				var out bytes.Buffer
				cmd.Stdout = &out
				start := time.Now()
				if err := cmd.Run(); err != nil {
					b.Fatalf("token test: %v\n%s", err, out.String())
				}
				d := time.Since(start)
				if i := strings.Index(out.String(), ", id "); i >= 0 {
					id := strings.Fields(out.String()[i+5:])[0]
					for _, typ := range []string{"privkey", "pubkey", "cert"} {
						run(tool("--delete-object", "--type", typ, "--id", id))
					}
				}
				return d
			}
			theirs := func(i int) time.Duration {
				id := fmt.Sprintf("%04x", i)
				d := run(tool("--keypairgen", "--key-type", kt.theirs, "--id", id, "--label", "bench"+id))
				d += run(tool("--sign", "--id", id, "-m", kt.mech, "--input-file", data, "--output-file", data+".sig"))
				// Keep the token as small as ours leaves it (not timed).
				run(tool("--delete-object", "--type", "privkey", "--id", id))
				run(tool("--delete-object", "--type", "pubkey", "--id", id))
				return d
			}
			ours()
			theirs(0)
			var to, tt time.Duration
			b.ResetTimer()
			for i := range b.N {
				to += ours()
				tt += theirs(i + 1)
			}
			b.StopTimer()
			b.ReportMetric(float64(to.Microseconds())/1000/float64(b.N), "certdesk-ms")
			b.ReportMetric(float64(tt.Microseconds())/1000/float64(b.N), "pkcs11tool-ms")
			b.ReportMetric(float64(to)/float64(tt), "time-ratio")
		})
	}
}
