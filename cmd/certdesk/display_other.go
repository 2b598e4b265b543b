//go:build !(linux || freebsd || openbsd || netbsd)

package main

// noDisplay: Windows and macOS always have a display for a desktop session.
func noDisplay() string { return "" }
