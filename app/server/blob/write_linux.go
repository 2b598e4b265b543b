package blob

import (
	"errors"
	"os"
	"unsafe"

	"golang.org/x/sys/unix"
)

// writeData writes data at f's offset. An aligned run of whole blocks
// (a NewBuffer's content) goes to the disk with direct I/O, the rest
// through the page cache. Direct I/O spares copying every uploaded byte
// into the page cache — a sixth of the server's CPU under upload load on
// the build VM, where each new page-cache page is also a hypervisor fault
// — and keeps blobs, read rarely and by one reviewer, from pushing the
// database out of memory. A file system without direct I/O gets the plain
// write. It reports whether direct I/O was used.
func writeData(f *os.File, data []byte) (bool, error) {
	whole := len(data) &^ (align - 1)
	if whole == 0 || uintptr(unsafe.Pointer(&data[0]))%align != 0 {
		_, err := f.Write(data)
		return false, err
	}
	fd := int(f.Fd())
	flags, err := unix.FcntlInt(uintptr(fd), unix.F_GETFL, 0)
	if err != nil {
		_, err := f.Write(data)
		return false, err
	}
	if _, err := unix.FcntlInt(uintptr(fd), unix.F_SETFL, flags|unix.O_DIRECT); err != nil {
		_, err := f.Write(data)
		return false, err
	}
	n, err := f.Write(data[:whole])
	if _, ferr := unix.FcntlInt(uintptr(fd), unix.F_SETFL, flags); ferr != nil && err == nil {
		err = ferr
	}
	if errors.Is(err, unix.EINVAL) && n == 0 {
		// Refused at the first block (the file system's alignment).
		_, err := f.Write(data)
		return false, err
	}
	if err != nil {
		return true, err
	}
	_, err = f.Write(data[whole:])
	return true, err
}
