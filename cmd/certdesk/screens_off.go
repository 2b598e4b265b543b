//go:build !screens

package main

import (
	"context"
	"fmt"
	"io"
)

// runScreens: the screenshot run is a developer's tool, left out of the
// applicant's exe (it links the test-image generator and a scripted
// applicant); `go build -tags screens` (what `bash .ci/start screens`
// does) puts it in.
func runScreens(_ context.Context, _ []string, _, stderr io.Writer) int {
	fmt.Fprintln(stderr, "certdesk screens: this build has no screenshot run; build with -tags screens (bash .ci/start screens)")
	return exitUsage
}
