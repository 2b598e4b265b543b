package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode"
)

// A real window under Xvfb, as a newcomer uses it: the register tab
// clicked, the fields typed into with the keyboard (xdotool, through the X
// server to GLFW), Enter, then the password typed on the login tab the
// window moved to. After each step a screenshot is read back by OCR
// (tesseract, Simplified Chinese) and must show that step's screen.
func TestRealWindowRegisterThenLogin(t *testing.T) {
	if testing.Short() {
		t.Skip("starts the GUI")
	}
	for _, tool := range []string{"xdotool", "import", "convert", "tesseract"} {
		if _, err := exec.LookPath(tool); err != nil {
			if os.Getenv("CI") != "" {
				t.Fatalf("%s is required in CI", tool)
			}
			t.Skip(tool + " not installed")
		}
	}
	display := xvfb(t)
	bin := certdeskBinary(t)
	cmd := exec.Command(bin)
	cmd.Env = append(os.Environ(), "DISPLAY="+display, "CERTDESK_HOME="+t.TempDir(), "LANG=zh_CN.UTF-8")
	logf, _ := os.Create(filepath.Join(t.TempDir(), "certdesk.log"))
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	x := &xwin{t: t, display: display, dir: t.TempDir()}
	x.find("证书助手")

	x.expect("login", "手机号或电子邮箱", "密码", "注册")
	x.click("注册")
	x.expect("register", "再次输入密码", "至少填一个")
	x.click("13800138000") // the mobile field's placeholder
	x.typeText("13900139000")
	x.key("Tab")
	x.key("Tab") // email left empty: the mobile is the login name
	x.typeText("Zh3ngShu!2026")
	x.key("Tab")
	x.typeText("Zh3ngShu!2026")
	x.key("Return")
	x.expect("registered", "注册成功", "手机号或电子邮箱")
	// The focus is on the password: typing goes there, Enter logs in.
	x.typeText("Zh3ngShu!2026")
	x.key("Return")
	x.expect("user-center", "用户中心", "申请单位证书")
}

type xwin struct {
	t       *testing.T
	display string
	dir     string
	id      string
	n       int
}

func (x *xwin) run(name string, args ...string) string {
	x.t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Env = append(os.Environ(), "DISPLAY="+x.display)
	out, err := cmd.CombinedOutput()
	if err != nil {
		x.t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return string(out)
}

// find waits for the window titled title.
func (x *xwin) find(title string) {
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		cmd := exec.Command("xdotool", "search", "--name", title)
		cmd.Env = append(os.Environ(), "DISPLAY="+x.display)
		if out, err := cmd.Output(); err == nil && strings.TrimSpace(string(out)) != "" {
			x.id = strings.Fields(string(out))[0]
			return
		}
		time.Sleep(200 * time.Millisecond)
	}
	x.t.Fatalf("no window %q", title)
}

type ocrWord struct {
	text       string
	x, y, w, h int
}

// shot saves the window and reads it back: the words with their boxes in
// window pixels, from a copy scaled 2× for the OCR.
func (x *xwin) shot(name string) []ocrWord {
	x.t.Helper()
	x.n++
	png := filepath.Join(x.dir, fmt.Sprintf("%02d-%s.png", x.n, name))
	x.run("import", "-window", x.id, png)
	big := png + ".2x.png"
	x.run("convert", png, "-resize", "200%", big)
	tsv := x.run("tesseract", big, "-", "-l", "chi_sim", "tsv")
	var words []ocrWord
	for _, line := range strings.Split(tsv, "\n")[1:] {
		f := strings.Split(line, "\t")
		if len(f) < 12 || strings.TrimSpace(f[11]) == "" {
			continue
		}
		n := make([]int, 4)
		for i := range n {
			n[i], _ = strconv.Atoi(f[6+i])
		}
		words = append(words, ocrWord{strings.TrimSpace(f[11]), n[0] / 2, n[1] / 2, n[2] / 2, n[3] / 2})
	}
	return words
}

// squeeze drops what OCR adds or loses between characters: spaces and
// punctuation it misreads.
func squeeze(s string) string {
	return strings.Map(func(r rune) rune {
		if unicode.IsSpace(r) || unicode.IsPunct(r) || unicode.IsSymbol(r) {
			return -1
		}
		return r
	}, s)
}

// expect waits up to 20 s for a screenshot whose text has every want.
func (x *xwin) expect(name string, want ...string) []ocrWord {
	x.t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		time.Sleep(500 * time.Millisecond)
		words := x.shot(name)
		var all strings.Builder
		for _, w := range words {
			all.WriteString(w.text)
		}
		text := squeeze(all.String())
		missing := []string{}
		for _, w := range want {
			if !strings.Contains(text, squeeze(w)) {
				missing = append(missing, w)
			}
		}
		if len(missing) == 0 {
			x.t.Logf("%s: %d words read, %v found", name, len(words), want)
			return words
		}
		if time.Now().After(deadline) {
			x.t.Fatalf("screen %q lacks %v; OCR read: %s (screenshots in %s)", name, missing, text, x.dir)
		}
	}
}

// click clicks the topmost word that reads as label.
func (x *xwin) click(label string) {
	x.t.Helper()
	words := x.shot("before-click-" + label)
	best := -1
	for i, w := range words {
		if squeeze(w.text) == label && (best < 0 || w.y < words[best].y) {
			best = i
		}
	}
	if best < 0 {
		x.t.Fatalf("no %q on screen to click", label)
	}
	w := words[best]
	x.run("xdotool", "mousemove", "--window", x.id, strconv.Itoa(w.x+w.w/2), strconv.Itoa(w.y+w.h/2), "click", "1")
	time.Sleep(300 * time.Millisecond)
}

func (x *xwin) typeText(s string) {
	x.run("xdotool", "type", "--window", x.id, "--delay", "40", s)
	time.Sleep(200 * time.Millisecond)
}

func (x *xwin) key(k string) {
	x.run("xdotool", "key", "--window", x.id, k)
	time.Sleep(200 * time.Millisecond)
}
