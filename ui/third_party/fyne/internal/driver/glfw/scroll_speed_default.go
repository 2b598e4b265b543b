//go:build !darwin && !wasm && !test_web_driver

package glfw

const (
	scrollAccelerateRate   = float64(125)
	scrollAccelerateCutoff = float64(10)
	// CertDesk: 50 px a notch, about what Windows scrolls for its three
	// lines (25 took two notches for one form row).
	scrollSpeed = float32(50)
)
