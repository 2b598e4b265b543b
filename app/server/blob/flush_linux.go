package blob

import (
	"fmt"
	"os"

	"golang.org/x/sys/unix"
)

// newFlush returns syncfs(2) on the file system that holds dir: one call
// writes back every dirty file and commits the journal, so it covers the
// whole group's data and renames.
func newFlush(dir string) func([]string) error {
	return func([]string) error {
		d, err := os.Open(dir)
		if err != nil {
			return fmt.Errorf("sync blobs: %w", err)
		}
		defer d.Close()
		if err := unix.Syncfs(int(d.Fd())); err != nil {
			return fmt.Errorf("sync blobs: %w", err)
		}
		return nil
	}
}
