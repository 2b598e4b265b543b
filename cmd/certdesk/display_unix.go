//go:build linux || freebsd || openbsd || netbsd

package main

import "os"

// noDisplay explains why the GUI cannot open, or returns "" when it can.
// Without this check GLFW fails deep inside Fyne with an OpenGL error that
// tells the user nothing.
func noDisplay() string {
	if os.Getenv("DISPLAY") != "" || os.Getenv("WAYLAND_DISPLAY") != "" {
		return ""
	}
	return `没有图形显示(DISPLAY 未设置),无法打开证书助手窗口。
No graphical display (DISPLAY is not set): the CertDesk window cannot open.
  - 在桌面环境中运行 / run it from a desktop session, or
  - 用虚拟显示运行 / run it on a virtual display: xvfb-run -a ./bin/certdesk
  - 无界面命令照常可用 / headless commands still work: certdesk material check FILE...
`
}
