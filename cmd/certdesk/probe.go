package main

import (
	"bufio"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"runtime"
	"runtime/pprof"
	"strings"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"certdesk/ui"
)

// probe reports start-up for the README's measurements when
// CERTDESK_PROBE is set: "first-frame" when the window has drawn, then,
// after three idle seconds, "idle-rss-kb N", and quits. The parent process
// times the first line from its own exec.
//
// With CERTDESK_PROBE_TYPE=HEX (the wine smoke test: UTF-8 text, hex, so
// no code page can mangle it) it also focuses the login screen's first
// entry and commits that text to the window as Windows delivers an input
// method's result (SendInput, KEYEVENTF_UNICODE → WM_CHAR), waits (up to
// a minute) for it to arrive, and reports what the entry holds as
// "typed-hex HEX" with "ime-placements K taken M": how often the input
// method's windows were moved to the caret meanwhile, and how many of
// those imm32 took.
//
// With CERTDESK_PROBE_PICK=TITLE it opens the system's file dialog titled
// TITLE, as 选择文件… does, and reports "picked PATH" when a file is chosen
// ("pick-cancelled", "pick-error ERR" otherwise): the smoke test types a
// path into Windows' dialog from outside, as a user would.
func probe(w io.Writer, input *ui.InputProbe, placed, took *atomic.Int64) func(quit func()) {
	return func(quit func()) {
		fmt.Fprintln(w, "first-frame")
		if want, err := hex.DecodeString(os.Getenv("CERTDESK_PROBE_TYPE")); err == nil && len(want) > 0 && input != nil {
			switch {
			case !input.Focus():
				fmt.Fprintln(w, "no-entry")
			default:
				time.Sleep(300 * time.Millisecond) // the follower sees the focus first
				if err := injectText(string(want)); err != nil {
					fmt.Fprintln(w, "inject-error", err)
					break
				}
				n := utf8.RuneCount(want)
				text := ""
				for end := time.Now().Add(time.Minute); time.Now().Before(end); time.Sleep(50 * time.Millisecond) {
					if text = input.Text(); utf8.RuneCountInString(text) >= n {
						break
					}
				}
				time.Sleep(200 * time.Millisecond) // anything beyond arrives too
				fmt.Fprintln(w, "typed-hex", hex.EncodeToString([]byte(input.Text())))
				fmt.Fprintln(w, "ime-placements", placed.Load(), "taken", took.Load())
			}
		}
		if title := os.Getenv("CERTDESK_PROBE_PICK"); title != "" {
			switch p, err := ui.PickFile(title); {
			case err == nil:
				fmt.Fprintln(w, "picked", p)
			case errors.Is(err, ui.ErrPickCancelled):
				fmt.Fprintln(w, "pick-cancelled")
			default:
				fmt.Fprintln(w, "pick-error", err)
			}
		}
		time.Sleep(3 * time.Second)
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		fmt.Fprintln(w, "idle-rss-kb", rssKB(), "go-sys-kb", ms.Sys/1024, "go-heap-inuse-kb", ms.HeapInuse/1024)
		if p := os.Getenv("CERTDESK_PROBE_HEAP"); p != "" {
			if err := writeHeapProfile(p); err != nil {
				fmt.Fprintln(w, "heap-profile-error", err)
			}
		}
		quit()
	}
}

func writeHeapProfile(path string) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := pprof.WriteHeapProfile(f); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// rssKB is the resident set size from /proc (0 where there is none).
func rssKB() int {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), "VmRSS:"); ok {
			var kb int
			if _, err := fmt.Sscan(rest, &kb); err != nil {
				return 0
			}
			return kb
		}
	}
	return 0
}
