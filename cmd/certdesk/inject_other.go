//go:build !windows

package main

import "errors"

// injectText: only the Windows probe injects committed text (the wine
// smoke test); elsewhere the test driver types.
func injectText(string) error { return errors.New("text injection is for the Windows smoke test") }
