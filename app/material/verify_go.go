//go:build !(cgo && linux)

package material

// verifyOther checks what checkEntropy does not read (progressive files);
// without libjpeg (Windows builds) that is image/jpeg's full decode.
func verifyOther(b []byte) error {
	_, err := decodeJPEG(b)
	return err
}

const otherVerifier = "image/jpeg"
