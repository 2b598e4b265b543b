//go:build !windows

package diag

import (
	"fmt"
	"os"
	"runtime"
	"strings"
	"syscall"

	"certdesk/app/apply"
)

func freeBytes(dir string) (uint64, error) {
	var st syscall.Statfs_t
	if err := syscall.Statfs(dir, &st); err != nil {
		return 0, err
	}
	return st.Bavail * uint64(st.Bsize), nil
}

func platformCheck() Check {
	c := Check{ID: "platform", Title: apply.Text{ZH: "操作系统与缩放", EN: "Operating system and scaling"}, Level: Green}
	rel := ""
	if b, err := os.ReadFile("/etc/os-release"); err == nil {
		for _, l := range strings.Split(string(b), "\n") {
			if v, ok := strings.CutPrefix(l, "PRETTY_NAME="); ok {
				rel = strings.Trim(v, `"`)
			}
		}
	}
	scale := os.Getenv("FYNE_SCALE")
	if scale == "" {
		scale = "auto"
	}
	c.Detail = fmt.Sprintf("%s %s · %s · scale %s", runtime.GOOS, runtime.GOARCH, rel, scale)
	scaleZH := scale
	if scale == "auto" {
		scaleZH = "自动"
	}
	c.DetailZH = fmt.Sprintf("%s %s · %s · 缩放 %s", runtime.GOOS, runtime.GOARCH, rel, scaleZH)
	return c
}

// blockerChecks has nothing to look for outside Windows.
func blockerChecks(Env) []Check { return nil }
