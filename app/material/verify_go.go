//go:build !(cgo && linux)

package material

// verifyJPEG reports whether b decodes in full; without libjpeg (Windows
// builds) that is image/jpeg's full decode.
func verifyJPEG(b []byte) error {
	_, err := decodeJPEG(b)
	return err
}

const verifier = "image/jpeg"
