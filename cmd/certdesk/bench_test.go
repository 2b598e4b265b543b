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

	"certdesk/app/apply"
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

// convertBin is ImageMagick itself: on some machines `convert` on PATH is
// a shell wrapper, whose start-up would be counted against ImageMagick.
func convertBin() string {
	if _, err := os.Stat("/usr/bin/convert"); err == nil {
		return "/usr/bin/convert"
	}
	return "convert"
}

func needConvert(b *testing.B) {
	if _, err := exec.LookPath(convertBin()); err != nil {
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
	d, _ := timeCmdCPU(b, name, args...)
	return d
}

// timeCmdCPU runs a command and returns its wall time and the CPU time
// (user + system) it and its threads used.
func timeCmdCPU(b *testing.B, name string, args ...string) (wall, cpu time.Duration) {
	cmd := exec.Command(name, args...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	start := time.Now()
	err := cmd.Run()
	wall = time.Since(start)
	if err != nil {
		b.Fatalf("%s %v: %v\n%s", name, args[:min(len(args), 3)], err, out.String())
	}
	return wall, cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()
}

// djpegTwo decodes files with libjpeg-turbo's djpeg, two processes at a
// time (one per core, as certdesk checks them), and returns the wall time
// and the CPU time of all of them.
func djpegTwo(b *testing.B, files []string) (wall, cpu time.Duration) {
	var mu sync.Mutex
	var wg sync.WaitGroup
	next := make(chan string, len(files))
	for _, f := range files {
		next <- f
	}
	close(next)
	start := time.Now()
	for range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for f := range next {
				_, c := timeCmdCPU(b, "djpeg", "-outfile", os.DevNull, f)
				mu.Lock()
				cpu += c
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	return time.Since(start), cpu
}

// BenchmarkCheck20A4 compares `certdesk material check` (full validation:
// every Huffman symbol of these baseline JPEGs read, no pixels
// reconstructed) over 20 A4 scans at 100 DPI (what the CA asks for) with
// `convert FILES null:`, which only decodes them (pixels included), and
// with djpeg (libjpeg-turbo) decoding them two at a time, wall and CPU time
// each. 300 DPI pages are left
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
			// Warm the page cache and the programs once.
			timeCmd(b, bin, args...)
			timeCmd(b, convertBin(), imArgs...)
			djpegTwo(b, files)
			var ours, theirs, dj, oursCPU, theirsCPU, djCPU time.Duration
			b.ResetTimer()
			for range b.N {
				w, c := timeCmdCPU(b, bin, args...)
				ours, oursCPU = ours+w, oursCPU+c
				w, c = timeCmdCPU(b, convertBin(), imArgs...)
				theirs, theirsCPU = theirs+w, theirsCPU+c
				w, c = djpegTwo(b, files)
				dj, djCPU = dj+w, djCPU+c
			}
			b.StopTimer()
			ms := func(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 / float64(b.N) }
			b.ReportMetric(ms(ours), "certdesk-ms")
			b.ReportMetric(ms(oursCPU), "certdesk-cpu-ms")
			b.ReportMetric(ms(theirs), "convert-ms")
			b.ReportMetric(ms(theirsCPU), "convert-cpu-ms")
			b.ReportMetric(ms(dj), "djpeg2-ms")
			b.ReportMetric(ms(djCPU), "djpeg-cpu-ms")
			b.ReportMetric(float64(dj)/float64(ours), "speedup-vs-djpeg")
			b.ReportMetric(float64(djCPU)/float64(oursCPU), "cpu-speedup-vs-djpeg")
			b.ReportMetric(float64(theirsCPU)/float64(oursCPU), "cpu-speedup")
			b.ReportMetric(float64(theirs)/float64(ours), "speedup")
		})
	}
}

// BenchmarkFixOversizedPhoto compares `certdesk material fix` of a phone
// photo over 2 MiB with `convert -define jpeg:extent=2MiB` (the same
// budget): wall and CPU time, and the PSNR of each result against the
// original pixels.
func BenchmarkFixOversizedPhoto(b *testing.B) {
	needConvert(b)
	bin := certdeskBinary(b)
	// Two 12 MP phone photos: a camera scene (gradients, texture, sensor
	// noise) and a page photographed instead of scanned (paper, print,
	// sharp edges), both at quality 97 as phones save them.
	for _, ph := range []struct {
		name string
		img  func() image.Image
	}{
		{"camera", func() image.Image { return testimg.Photo(4032, 3024, 42) }},
		{"document", func() image.Image { return testimg.Scan(4032, 3024, 7) }},
	} {
		b.Run(ph.name, func(b *testing.B) { benchFix(b, bin, ph.img()) })
	}
}

// fixBudget is the limit both sides get: the CA's 2 MiB
// (apply.MaxMaterialBytes). ImageMagick reads "2MB" as less.
const fixBudget = "jpeg:extent=2MiB"

func benchFix(b *testing.B, bin string, orig image.Image) {
	dir := b.TempDir()
	photo := testimg.JPEG(orig, 97, 72)
	in := filepath.Join(dir, "photo.jpg")
	if err := os.WriteFile(in, photo, 0o644); err != nil {
		b.Fatal(err)
	}
	src := decodeFile(b, in)
	ours, theirs := filepath.Join(dir, "ours.jpg"), filepath.Join(dir, "im.jpg")
	timeCmd(b, bin, "material", "fix", in, ours)
	timeCmd(b, convertBin(), in, "-define", fixBudget, theirs)
	var tOurs, tIM, cOurs, cIM time.Duration
	b.ResetTimer()
	for range b.N {
		w, c := timeCmdCPU(b, bin, "material", "fix", in, ours)
		tOurs, cOurs = tOurs+w, cOurs+c
		w, c = timeCmdCPU(b, convertBin(), in, "-define", fixBudget, theirs)
		tIM, cIM = tIM+w, cIM+c
	}
	b.StopTimer()
	b.ReportMetric(float64(cOurs.Milliseconds())/float64(b.N), "certdesk-cpu-ms")
	b.ReportMetric(float64(cIM.Milliseconds())/float64(b.N), "convert-cpu-ms")
	b.ReportMetric(float64(cOurs)/float64(cIM), "cpu-ratio")
	pOurs, pIM := psnr(src, decodeFile(b, ours)), psnr(src, decodeFile(b, theirs))
	so, _ := os.Stat(ours)
	st, _ := os.Stat(theirs)
	if so.Size() > apply.MaxMaterialBytes || st.Size() > apply.MaxMaterialBytes {
		b.Fatalf("over the budget: ours %d, ImageMagick %d bytes", so.Size(), st.Size())
	}
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
			// keep: clean-up is left out of the timing on both sides;
			// without it, each side's clean-up is timed (ours in its own
			// process, pkcs11-tool's as two more processes).
			ours := func(keep bool) time.Duration {
				args := []string{"token", "test", "--module", tk.ModulePath, "--key", kt.ours}
				if keep {
					args = append(args, "--keep")
				}
				cmd := exec.Command(bin, args...)
				cmd.Stdin = strings.NewReader(tk.PIN + "\n")
				var out bytes.Buffer
				cmd.Stdout = &out
				start := time.Now()
				if err := cmd.Run(); err != nil {
					b.Fatalf("token test: %v\n%s", err, out.String())
				}
				d := time.Since(start)
				if i := strings.Index(out.String(), ", id "); keep && i >= 0 {
					id := strings.Fields(out.String()[i+5:])[0]
					for _, typ := range []string{"privkey", "pubkey", "cert"} {
						run(tool("--delete-object", "--type", typ, "--id", id))
					}
				}
				return d
			}
			theirs := func(i int, keep bool) time.Duration {
				id := fmt.Sprintf("%04x", i)
				d := run(tool("--keypairgen", "--key-type", kt.theirs, "--id", id, "--label", "bench"+id))
				d += run(tool("--sign", "--id", id, "-m", kt.mech, "--input-file", data, "--output-file", data+".sig"))
				// Keep the token as small as ours leaves it.
				c := run(tool("--delete-object", "--type", "privkey", "--id", id))
				c += run(tool("--delete-object", "--type", "pubkey", "--id", id))
				if !keep {
					d += c
				}
				return d
			}
			ours(true)
			theirs(0, true)
			var to, tt, toc, ttc time.Duration
			b.ResetTimer()
			for i := range b.N {
				to += ours(true)
				tt += theirs(2*i+1, true)
				toc += ours(false)
				ttc += theirs(2*i+2, false)
			}
			b.StopTimer()
			ms := func(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 / float64(b.N) }
			b.ReportMetric(ms(to), "certdesk-ms")
			b.ReportMetric(ms(tt), "pkcs11tool-ms")
			b.ReportMetric(float64(to)/float64(tt), "time-ratio")
			b.ReportMetric(ms(toc), "certdesk-cleanup-ms")
			b.ReportMetric(ms(ttc), "pkcs11tool-cleanup-ms")
			b.ReportMetric(float64(toc)/float64(ttc), "time-ratio-with-cleanup")
		})
	}
}
