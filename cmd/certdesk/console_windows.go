//go:build windows

package main

import (
	"os"
	"syscall"
)

// attachConsole makes a subcommand's output visible when the GUI-subsystem
// exe (built with -H windowsgui, so double-clicking opens no console) is run
// from cmd.exe or PowerShell: it attaches to the parent's console and points
// stdout and stderr at it. Output already redirected to a file or pipe is
// left alone.
func attachConsole() {
	const attachParentProcess = ^uint32(0) // (DWORD)-1
	proc := syscall.NewLazyDLL("kernel32.dll").NewProc("AttachConsole")
	if r, _, _ := proc.Call(uintptr(attachParentProcess)); r == 0 {
		return // started from Explorer: no console to attach to
	}
	if !isValid(os.Stdout) {
		if f, err := os.OpenFile("CONOUT$", os.O_WRONLY, 0); err == nil {
			os.Stdout = f
		}
	}
	if !isValid(os.Stderr) {
		if f, err := os.OpenFile("CONOUT$", os.O_WRONLY, 0); err == nil {
			os.Stderr = f
		}
	}
}

func isValid(f *os.File) bool {
	if f == nil {
		return false
	}
	_, err := f.Stat()
	return err == nil
}
