package main

import (
	"bufio"
	"fmt"
	"image"
	_ "image/png"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// xvfb starts a virtual X display for this test and returns its DISPLAY.
// The README's test command installs Xvfb; without it the test is skipped,
// except in CI.
func xvfb(t testing.TB) string {
	t.Helper()
	if _, err := exec.LookPath("Xvfb"); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("Xvfb is required in CI: %v", err)
		}
		t.Skip("Xvfb not installed")
	}
	for n := 90 + os.Getpid()%50; n < 200; n++ {
		if _, err := os.Stat(fmt.Sprintf("/tmp/.X11-unix/X%d", n)); err == nil {
			continue
		}
		cmd := exec.Command("Xvfb", fmt.Sprintf(":%d", n), "-screen", "0", "1280x900x24", "-nolisten", "tcp")
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { cmd.Process.Signal(syscall.SIGTERM); cmd.Wait() })
		for i := 0; i < 100; i++ {
			if _, err := os.Stat(fmt.Sprintf("/tmp/.X11-unix/X%d", n)); err == nil {
				return fmt.Sprintf(":%d", n)
			}
			time.Sleep(50 * time.Millisecond)
		}
		t.Fatalf("Xvfb :%d did not start", n)
	}
	t.Fatal("no free X display number")
	return ""
}

// `certdesk screens` walks every screen in a real window and writes one
// PNG per screen, each showing something.
func TestScreensCommand(t *testing.T) {
	if _, err := os.Stat("/usr/lib/softhsm/libsofthsm2.so"); err != nil && os.Getenv("CI") == "" {
		t.Skip("SoftHSM2 not installed")
	}
	if _, err := exec.LookPath("import"); err != nil && os.Getenv("CI") == "" {
		t.Skip("ImageMagick import not installed")
	}
	display := xvfb(t)
	out := t.TempDir()
	cmd := exec.Command(screensBinary(t), "screens", "--out", out)
	cmd.Env = append(os.Environ(), "DISPLAY="+display, "CERTDESK_HOME="+t.TempDir(), "LANG=zh_CN.UTF-8")
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("certdesk screens: %v\n%s", err, b)
	}
	files, _ := filepath.Glob(filepath.Join(out, "*.png"))
	if len(files) != 23 { // the journey's 18 and 我的证书 with its four tools
		t.Fatalf("%d screenshots: %v", len(files), files)
	}
	for _, f := range files {
		fh, err := os.Open(f)
		if err != nil {
			t.Fatal(err)
		}
		img, _, err := image.Decode(fh)
		fh.Close()
		if err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		colours := map[[3]uint32]bool{}
		b := img.Bounds()
		for y := b.Min.Y; y < b.Max.Y; y += 3 {
			for x := b.Min.X; x < b.Max.X; x += 3 {
				r, g, bl, _ := img.At(x, y).RGBA()
				colours[[3]uint32{r >> 8, g >> 8, bl >> 8}] = true
			}
		}
		if len(colours) < 8 {
			t.Errorf("%s is nearly blank (%d colours)", filepath.Base(f), len(colours))
		}
	}
}

// The idle window stays within issue 7's memory budget (150 MiB resident
// under Xvfb; 139–141 MiB when this test was written, 145.7–147.4 MiB in
// session 13) and draws its first frame without a gross delay. It guards
// the Fyne patch and the font subset: unpatched Fyne measured 165–172 MiB. BenchmarkStartup
// has the numbers for the README.
func TestIdleWindowWithinBudget(t *testing.T) {
	if testing.Short() {
		t.Skip("starts the GUI")
	}
	display := xvfb(t)
	bin := certdeskBinary(t)
	home := t.TempDir()
	runProbe(t, bin, display, home) // the first start makes the data directory and the CA
	frame, kb := runProbe(t, bin, display, home)
	// The probe reports KiB (/proc's VmRSS): the budget, as it has always
	// been checked, is 150 MiB (157.3 MB).
	t.Logf("first frame %v, idle RSS %.1f MiB (%.1f MB)", frame, float64(kb)/1024, float64(kb)*1024/1e6)
	if mib := float64(kb) / 1024; mib > 150 {
		t.Errorf("idle RSS %.1f MiB, over the 150 MiB budget (see the README's Performance section for where it goes)", mib)
	}
	if frame > 2*time.Second {
		// The budget is 1 s on an idle machine; the test suite runs
		// packages side by side, so only a gross regression fails here.
		t.Errorf("first frame after %v", frame)
	}
}

// BenchmarkStartup measures the GUI's cold start to first frame under Xvfb
// (from exec to the window's first drawn frame, the embedded server
// included) and its idle resident memory three seconds later:
//
//	go test -run '^$' -bench Startup -benchtime 5x ./cmd/certdesk
func BenchmarkStartup(b *testing.B) {
	display := xvfb(b)
	bin := certdeskBinary(b)
	for _, first := range []bool{true, false} {
		name := "later-start"
		if first {
			name = "first-start-creates-CA"
		}
		b.Run(name, func(b *testing.B) {
			home := b.TempDir()
			var frame, rss float64
			for i := 0; i < b.N; i++ {
				if first {
					home = b.TempDir()
				} else if i == 0 {
					runProbe(b, bin, display, home) // make the data directory and CA outside the timing
				}
				f, kb := runProbe(b, bin, display, home)
				frame += f.Seconds() * 1000
				rss += float64(kb) / 1024
			}
			b.ReportMetric(frame/float64(b.N), "ms-first-frame")
			b.ReportMetric(rss/float64(b.N), "MiB-idle-RSS")
		})
	}
}

func runProbe(b testing.TB, bin, display, home string) (time.Duration, int) {
	cmd := exec.Command(bin)
	cmd.Env = append(os.Environ(), "DISPLAY="+display, "CERTDESK_HOME="+home, "CERTDESK_PROBE=1", "LANG=zh_CN.UTF-8")
	stderr, err := cmd.StderrPipe()
	if err != nil {
		b.Fatal(err)
	}
	start := time.Now()
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	var frame time.Duration
	kb := 0
	sc := bufio.NewScanner(stderr)
	for sc.Scan() {
		line := sc.Text()
		switch {
		case line == "first-frame":
			frame = time.Since(start)
		case strings.HasPrefix(line, "idle-rss-kb "):
			fmt.Sscan(strings.TrimPrefix(line, "idle-rss-kb "), &kb)
		}
	}
	cmd.Wait()
	if frame == 0 || kb == 0 {
		b.Fatalf("probe gave no measurement (frame %v, rss %d kB)", frame, kb)
	}
	return frame, kb
}
