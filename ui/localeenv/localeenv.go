// Package localeenv gives the process a usable locale before Fyne reads it.
//
// Fyne's lang package parses the locale in its package init and logs an
// error for POSIX "C" (the default on servers, CI and minimal Linux
// installs). Go initialises packages in import-path order once their
// dependencies are ready, so this package — imported by cmd/certdesk and
// sorting before fyne.io — runs first and maps "C"/"POSIX"/unset to
// zh_CN.UTF-8, CertDesk's default language. Windows takes the locale from
// the OS API and is unaffected.
package localeenv

import (
	"os"
	"strings"
)

func init() { Fix() }

// Fix sets LANG when no usable locale is configured.
func Fix() {
	for _, k := range []string{"LC_ALL", "LC_MESSAGES", "LANG"} {
		v := os.Getenv(k)
		if v == "" {
			continue
		}
		if base := strings.SplitN(v, ".", 2)[0]; base != "C" && base != "POSIX" {
			return // a real locale is configured
		}
		_ = os.Unsetenv(k) // fails only for an invalid name
	}
	_ = os.Setenv("LANG", "zh_CN.UTF-8")
}
