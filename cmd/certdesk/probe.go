package main

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"runtime"
	"runtime/pprof"
	"strings"
	"time"
)

// probe reports start-up for the README's measurements when
// CERTDESK_PROBE is set: "first-frame" when the window has drawn, then,
// after three idle seconds, "idle-rss-kb N", and quits. The parent process
// times the first line from its own exec.
func probe(w io.Writer) func(quit func()) {
	return func(quit func()) {
		fmt.Fprintln(w, "first-frame")
		time.Sleep(3 * time.Second)
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		fmt.Fprintln(w, "idle-rss-kb", rssKB(), "go-sys-kb", ms.Sys/1024, "go-heap-inuse-kb", ms.HeapInuse/1024)
		if p := os.Getenv("CERTDESK_PROBE_HEAP"); p != "" {
			if f, err := os.Create(p); err == nil {
				pprof.WriteHeapProfile(f)
				f.Close()
			}
		}
		quit()
	}
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
			fmt.Sscan(rest, &kb)
			return kb
		}
	}
	return 0
}
