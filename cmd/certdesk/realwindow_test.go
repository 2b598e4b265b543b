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
	shots := os.Getenv("CERTDESK_SHOTS") // keep the screenshots there
	if shots == "" {
		shots = t.TempDir()
	}
	x := &xwin{t: t, display: display, dir: shots}
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
	// The focus is on the password: typing goes there, Enter logs in. (A
	// second for the tab switch to settle: once in six CI runs keys typed
	// at once were lost.)
	time.Sleep(time.Second)
	x.typeText("Zh3ngShu!2026")
	x.key("Return")
	x.expect("user-center", "用户中心", "申请单位证书")

	// On to the form: one wheel notch scrolls it by at least one field.
	x.click("申请单位证书")
	x.expect("agreement", "电子认证服务协议", "我已阅读并同意上述协议")
	x.click("我已阅读并同意上述协议")
	x.expect("agreed", "同意并继续") // enabled (a disabled button is too faint to read)
	x.click("同意并继续")
	before := x.expect("form", "单位名称", "统一社会信用代码", "经办人姓名")
	row := x.lineY(before, "统一社会信用代码") - x.lineY(before, "单位名称")
	ref := x.lineY(before, "经办人姓名")
	x.run("xdotool", "mousemove", "--window", x.id, "500", "300", "click", "5")
	time.Sleep(700 * time.Millisecond)
	after := x.shot("form-after-notch")
	moved := ref - x.lineY(after, "经办人姓名")
	t.Logf("one wheel notch moved the form %d px; a field is %d px", moved, row)
	if row <= 0 || moved < row {
		t.Errorf("one wheel notch scrolled the form %d px, less than one field (%d px)", moved, row)
	}
}

// lineY is the top of the first line of text that starts with label, in
// window pixels.
func (x *xwin) lineY(words []ocrWord, label string) int {
	x.t.Helper()
	for _, l := range groupLines(words) {
		if strings.HasPrefix(squeeze(l.text), label) {
			return l.y
		}
	}
	x.t.Fatalf("no line starting %q on screen (screenshots in %s)", label, x.dir)
	return 0
}

// groupLines joins the words OCR put on one line, with the line's top.
func groupLines(words []ocrWord) []ocrWord {
	var lines []ocrWord
	for _, w := range words {
		if n := len(lines); n > 0 && lines[n-1].line == w.line {
			lines[n-1].text += w.text
			lines[n-1].y = min(lines[n-1].y, w.y)
			continue
		}
		lines = append(lines, w)
	}
	return lines
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
	line       string // block, paragraph and line numbers
}

// shot saves the window and reads it back: the words with their boxes in
// window pixels, from a copy scaled 2× for the OCR.
func (x *xwin) shot(name string) []ocrWord {
	x.t.Helper()
	x.n++
	png := filepath.Join(x.dir, fmt.Sprintf("%02d-%s.png", x.n, name))
	x.run("import", "-window", x.id, png)
	var words []ocrWord
	// Read twice: as it is, and its red channel alone, where white on the
	// blue primary button stands out (green and red text stand out in the
	// first).
	for i, filter := range [][]string{{"-resize", "200%"}, {"-resize", "200%", "-channel", "R", "-separate"}} {
		big := fmt.Sprintf("%s.ocr%d.png", png, i)
		x.run("convert", append(append([]string{png}, filter...), big)...)
		tsv := x.run("tesseract", big, "-", "-l", "chi_sim", "tsv")
		for _, line := range strings.Split(tsv, "\n")[1:] {
			f := strings.Split(line, "\t")
			if len(f) < 12 || strings.TrimSpace(f[11]) == "" {
				continue
			}
			n := make([]int, 4)
			for i := range n {
				n[i], _ = strconv.Atoi(f[6+i])
			}
			words = append(words, ocrWord{strings.TrimSpace(f[11]), n[0] / 2, n[1] / 2, n[2] / 2, n[3] / 2, fmt.Sprint(i, ".", f[2], ".", f[3], ".", f[4])})
		}
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

// click clicks the topmost text that reads as label, which OCR may have
// split over several words of a line.
func (x *xwin) click(label string) {
	x.t.Helper()
	words := x.shot("before-click")
	want := squeeze(label)
	var hit *ocrWord
	for i := 0; i < len(words); i++ {
		// Words i..j of one line that together read label.
		text := ""
		for j := i; j < len(words) && words[j].line == words[i].line; j++ {
			text += squeeze(words[j].text)
			if strings.Contains(text, want) {
				first, last := words[i], words[j]
				c := ocrWord{x: first.x, y: min(first.y, last.y), w: last.x + last.w - first.x, h: max(first.h, last.h)}
				if hit == nil || c.y < hit.y {
					hit = &c
				}
				break
			}
			if !strings.HasPrefix(want, text) && !strings.Contains(text, want[:min(len(want), len(text))]) {
				break
			}
		}
	}
	if hit == nil {
		x.t.Fatalf("no %q on screen to click (screenshots in %s)", label, x.dir)
	}
	x.run("xdotool", "mousemove", "--window", x.id, strconv.Itoa(hit.x+hit.w/2), strconv.Itoa(hit.y+hit.h/2), "click", "1")
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
