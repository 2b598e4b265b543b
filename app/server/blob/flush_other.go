//go:build !linux

package blob

// newFlush syncs each file of a group and its directory: there is no
// syncfs outside Linux.
func newFlush(string) func([]string) error { return flushFiles }
