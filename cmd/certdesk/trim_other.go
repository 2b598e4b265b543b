//go:build !(linux && cgo)

package main

// trimMemory has nothing to hand back here beyond what Go's runtime does.
func trimMemory() {}
