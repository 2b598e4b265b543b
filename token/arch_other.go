//go:build !amd64

package token

import "debug/pe"

const hostMachine = pe.IMAGE_FILE_MACHINE_ARM64
