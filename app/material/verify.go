package material

import (
	"bytes"
	"errors"
	"image/jpeg"
)

// verifyJPEG reports whether b decodes in full, on every platform alike:
// checkEntropy reads every Huffman symbol of a sequential file without
// reconstructing pixels; what it refuses is decoded with image/jpeg (the
// decoder a Windows client has always used) and passes if that reads it, so
// the server never refuses a file some client passed. Progressive files go
// to verifyOther. image/jpeg reads the header first, so that what it
// refuses there (sampling factors, precision, component counts) is refused
// everywhere.
func verifyJPEG(b []byte) error {
	if _, err := jpeg.DecodeConfig(bytes.NewReader(b)); err != nil {
		return err
	}
	err := checkEntropy(b)
	switch {
	case err == nil:
		return nil
	case errors.Is(err, errNotSequential):
		return verifyOther(b)
	}
	if _, derr := decodeJPEG(b); derr == nil {
		return nil
	}
	return err
}

// verifier names the checks behind verifyJPEG, for benchmarks and notes.
const verifier = "entropy check + " + otherVerifier
