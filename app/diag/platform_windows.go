//go:build windows

package diag

import (
	"fmt"
	"strings"
	"unsafe"

	"golang.org/x/sys/windows"

	"certdesk/app/apply"
)

func freeBytes(dir string) (uint64, error) {
	p, err := windows.UTF16PtrFromString(dir)
	if err != nil {
		return 0, err
	}
	var free, total, totalFree uint64
	if err := windows.GetDiskFreeSpaceEx(p, &free, &total, &totalFree); err != nil {
		return 0, err
	}
	return free, nil
}

var (
	user32              = windows.NewLazySystemDLL("user32.dll")
	procGetDpiForSystem = user32.NewProc("GetDpiForSystem")
)

func platformCheck() Check {
	c := Check{ID: "platform", Title: apply.Text{ZH: "操作系统与缩放", EN: "Operating system and scaling"}, Level: Green}
	v := windows.RtlGetVersion()
	scale := "unknown"
	if procGetDpiForSystem.Find() == nil {
		dpi, _, _ := procGetDpiForSystem.Call()
		scale = fmt.Sprintf("%d%%", dpi*100/96)
	}
	c.Detail = fmt.Sprintf("Windows %d.%d build %d · scaling %s", v.MajorVersion, v.MinorVersion, v.BuildNumber, scale)
	c.DetailZH = fmt.Sprintf("Windows %d.%d(版本号 %d)· 缩放 %s", v.MajorVersion, v.MinorVersion, v.BuildNumber, scale)
	if v.MajorVersion < 10 && !(v.MajorVersion == 6 && v.MinorVersion >= 1) {
		c.Level = Red
		c.Fix = apply.Text{ZH: "Windows 版本过旧,请使用 Windows 7 SP1 或更新版本", EN: "Windows is too old: use Windows 7 SP1 or later"}
	}
	return c
}

// securitySuites are processes of security software known to block or
// quarantine UKEY drivers on Chinese PCs.
var securitySuites = map[string]string{
	"360tray.exe":  "360安全卫士",
	"360sd.exe":    "360杀毒",
	"qqpctray.exe": "腾讯电脑管家",
	"hipstray.exe": "火绒安全",
	"kxetray.exe":  "金山毒霸",
	"ravmond.exe":  "瑞星",
}

// blockerChecks lists running security software that is known to block
// UKEY drivers, so that support knows where to look first.
func blockerChecks(Env) []Check {
	c := Check{ID: "blockers", Title: apply.Text{ZH: "可能拦截 UKEY 的软件", EN: "Software that may block the UKEY"}, Level: Green, Detail: "none found", DetailZH: "未发现"}
	snap, err := windows.CreateToolhelp32Snapshot(windows.TH32CS_SNAPPROCESS, 0)
	if err != nil {
		c.Level, c.Detail = Yellow, err.Error()
		return []Check{c}
	}
	defer func() { _ = windows.CloseHandle(snap) }() // a read-only snapshot
	var e windows.ProcessEntry32
	e.Size = uint32(unsafe.Sizeof(e))
	var found []string
	for err = windows.Process32First(snap, &e); err == nil; err = windows.Process32Next(snap, &e) {
		name := strings.ToLower(windows.UTF16ToString(e.ExeFile[:]))
		if label, ok := securitySuites[name]; ok {
			found = append(found, label)
		}
	}
	if len(found) > 0 {
		c.Level = Yellow
		c.Detail = strings.Join(found, "、")
		c.Fix = apply.Text{ZH: "这些安全软件可能拦截 UKEY 驱动:若检测不到 UKEY,请在其中把 UKEY 驱动和证书助手加入信任后重试", EN: "This security software may block the UKEY driver: if the UKEY is not found, add the driver and CertDesk to its trusted list and try again"}
	}
	return []Check{c}
}
