//go:build !windows

package main

// attachConsole is needed only for the Windows GUI-subsystem exe.
func attachConsole() {}
