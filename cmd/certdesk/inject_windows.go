//go:build windows

package main

import (
	"fmt"
	"syscall"
	"unicode/utf16"
	"unsafe"
)

var procSendInput = syscall.NewLazyDLL("user32.dll").NewProc("SendInput")

// keyInput is INPUT with a KEYBDINPUT, laid out as on windows/amd64 (the
// union is as large as MOUSEINPUT: 40 bytes in all).
type keyInput struct {
	typ   uint32
	_     uint32
	vk    uint16
	scan  uint16
	flags uint32
	time  uint32
	_     uint32
	extra uintptr
	_     [8]byte
}

const (
	inputKeyboard  = 1
	keyeventfUp    = 0x0002
	keyeventfUnicd = 0x0004
)

// injectText commits s to the focused window as Windows delivers an input
// method's committed text or an on-screen keyboard's: SendInput with
// KEYEVENTF_UNICODE, one UTF-16 unit per key (a surrogate pair for 𠮷),
// which reaches the window as WM_CHAR.
func injectText(s string) error {
	var in []keyInput
	for _, u := range utf16.Encode([]rune(s)) {
		in = append(in, keyInput{typ: inputKeyboard, scan: u, flags: keyeventfUnicd},
			keyInput{typ: inputKeyboard, scan: u, flags: keyeventfUnicd | keyeventfUp})
	}
	for len(in) > 0 {
		n := min(len(in), 64)
		sent, _, err := procSendInput.Call(uintptr(n), uintptr(unsafe.Pointer(&in[0])), unsafe.Sizeof(in[0]))
		if int(sent) != n {
			return fmt.Errorf("SendInput took %d of %d keys: %v", sent, n, err)
		}
		in = in[n:]
	}
	return nil
}
