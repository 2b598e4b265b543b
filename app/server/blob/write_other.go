//go:build !linux

package blob

import "os"

// writeData writes data at f's offset through the operating system's
// cache (direct I/O is only used on Linux).
func writeData(f *os.File, data []byte) (bool, error) {
	_, err := f.Write(data)
	return false, err
}
