//go:build linux && cgo

package main

/*
#include <malloc.h>
*/
import "C"

import (
	"bufio"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"unsafe"

	"golang.org/x/sys/unix"

	"certdesk/assets"
)

// trimMemory hands back what start-up no longer needs, once the window is
// up: the C heap's free pages (Mesa and LLVM compile the window's shaders
// at start and free their scratch, which glibc keeps), and the pages of
// the embedded CJK font in the executable's mapping — Fyne parsed it into
// its own copy, and these pages are the file's, so the kernel reads them
// again should anything look.
func trimMemory(log *slog.Logger) {
	C.malloc_trim(0)
	if err := dropFilePages(assets.CJKFont); err != nil {
		log.Warn("hand back the font's pages", "err", err)
	}
}

// dropFilePages tells the kernel b's whole pages are not needed, but only
// when they lie in a read-only or clean mapping of the executable file
// itself: dropping anonymous memory would zero it.
func dropFilePages(b []byte) error {
	if len(b) == 0 {
		return nil
	}
	page := uintptr(os.Getpagesize())
	start := uintptr(unsafe.Pointer(&b[0]))
	end := start + uintptr(len(b))
	lo, hi := (start+page-1)&^(page-1), end&^(page-1)
	if hi <= lo {
		return nil
	}
	exe, err := os.Executable()
	if err != nil {
		return err
	}
	f, err := os.Open("/proc/self/maps")
	if err != nil {
		return err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		// 00400000-00452000 r-xp 00000000 08:02 173521 /usr/bin/x
		fields := strings.Fields(sc.Text())
		var from, to uintptr
		if len(fields) < 6 || fields[1][3] != 'p' {
			continue
		}
		if _, err := fmt.Sscanf(fields[0], "%x-%x", &from, &to); err != nil {
			continue
		}
		if from <= lo && hi <= to {
			if fields[5] != exe {
				return fmt.Errorf("font is in %s, not in the executable's mapping", fields[5])
			}
			p := unsafe.Add(unsafe.Pointer(&b[0]), lo-start)
			return unix.Madvise(unsafe.Slice((*byte)(p), hi-lo), unix.MADV_DONTNEED)
		}
	}
	return fmt.Errorf("font mapping not found")
}
