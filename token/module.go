package token

import (
	"debug/pe"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"

	"github.com/miekg/pkcs11"
)

// EnvModule names the module to load, overriding discovery.
const EnvModule = "CERTDESK_PKCS11_MODULE"

// VendorModule is a PKCS#11 module that Chinese CAs ship with their UKEYs.
type VendorModule struct {
	File   string // DLL name
	Vendor string
	// Dirs are folders under System32 or Program Files where the vendor's
	// installer puts it besides System32 itself.
	Dirs []string
	// Confirmed: the name (and folders) were seen in public code that loads
	// the module (searched 2026-11-25). Note that many Chinese UKEYs, e.g.
	// Longmai GM3000, ship only an SKF (GM/T 0016) DLL, which is not PKCS#11:
	// those need an SKF bridge, not listed here.
	Confirmed bool
}

// WindowsModules are the DLLs looked for on Windows, most common first.
var WindowsModules = []VendorModule{
	{"opensc-pkcs11.dll", "OpenSC", []string{`OpenSC Project\OpenSC\pkcs11`}, true},
	{"eps2003csp11.dll", "Feitian ePass2003 (EnterSafe)", nil, true},
	{"ShuttleCsp11_3003.dll", "Feitian ePass3003", nil, true},
	{"WDPKCS.dll", "Watchdata (握奇)", []string{`Watchdata\Watchdata Brazil CSP v1.0`}, true},
	{"eTPKCS11.dll", "SafeNet eToken", nil, true},
	{"SignatureP11.dll", "Watchdata ProxKey", nil, true},
}

// LinuxModules are looked for on Linux (tests and support machines).
var LinuxModules = []string{
	"/usr/lib/softhsm/libsofthsm2.so",
	"/usr/lib/x86_64-linux-gnu/softhsm/libsofthsm2.so",
	"/usr/lib/x86_64-linux-gnu/opensc-pkcs11.so",
	"/usr/lib/x86_64-linux-gnu/pkcs11/opensc-pkcs11.so",
}

// Candidates lists module paths to try, in order: the explicit path (from
// configuration), CERTDESK_PKCS11_MODULE, then the platform's table. On
// Windows the table is searched in System32 and under Program Files
// (programFiles lists those roots; it is a parameter so that the search is
// tested on any OS).
func Candidates(explicit, goos string, systemRoot string, programFiles []string) []string {
	var out []string
	if explicit != "" {
		out = append(out, explicit)
	}
	if env := os.Getenv(EnvModule); env != "" {
		out = append(out, env)
	}
	switch goos {
	case "windows":
		for _, m := range WindowsModules {
			if systemRoot != "" {
				out = append(out, systemRoot+`\System32\`+m.File)
				for _, d := range m.Dirs {
					out = append(out, systemRoot+`\System32\`+d+`\`+m.File)
				}
			}
			for _, pf := range programFiles {
				for _, d := range m.Dirs {
					out = append(out, pf+`\`+d+`\`+m.File)
				}
				// Any vendor folder one level down (…\Feitian\x.dll).
				matches, _ := filepath.Glob(filepath.Join(pf, "*", m.File))
				out = append(out, matches...)
			}
		}
	default:
		out = append(out, LinuxModules...)
	}
	return out
}

// Discover is Candidates for this machine: the Windows folders from the
// environment (SystemRoot, Program Files).
func Discover(explicit string) []string {
	var pf []string
	for _, k := range []string{"ProgramFiles", "ProgramFiles(x86)", "ProgramW6432"} {
		if v := os.Getenv(k); v != "" {
			pf = append(pf, v)
		}
	}
	return Candidates(explicit, runtime.GOOS, os.Getenv("SystemRoot"), pf)
}

// Find returns the first candidate that exists.
func Find(candidates []string) (string, error) {
	for _, c := range candidates {
		if fi, err := os.Stat(c); err == nil && !fi.IsDir() {
			return c, nil
		}
	}
	return "", fmt.Errorf("%w: none of %d known module paths exists; install the UKEY driver or set %s", ErrModule, len(candidates), EnvModule)
}

// CheckArch reports a Windows DLL built for another architecture than
// this process (a 32-bit vendor DLL in the 64-bit CertDesk fails to load
// with Win32 error 193, which users read as "file not found"). Files that
// are not PE images pass: Linux .so files are checked by the loader.
func CheckArch(path string, want uint16) error {
	f, err := pe.Open(path)
	if err != nil {
		return nil
	}
	defer f.Close()
	if f.Machine != want {
		if f.Machine == pe.IMAGE_FILE_MACHINE_I386 {
			return fmt.Errorf("%s: %w; install the vendor's 64-bit driver", path, ErrModuleArch)
		}
		return fmt.Errorf("%s: %w (machine 0x%x)", path, ErrModule, f.Machine)
	}
	return nil
}

// Module is a handle on a loaded and initialised PKCS#11 module.
type Module struct {
	Path string
	Info ModuleInfo
	ctx  *pkcs11.Ctx
	lib  *library
	// mu serialises login state changes; PKCS#11 login state is per
	// application and token, not per session, so it is the library's.
	mu *sync.Mutex
}

// library is a module loaded in this process. C_Initialize and
// C_Finalize act on the whole process, not on one handle: the window
// looking for a UKEY must not finalise the library under a download in
// progress. So every Load of a path shares one library, finalised when the
// last handle closes. (Process-wide state, because the library's own is.)
type library struct {
	key  string
	ctx  *pkcs11.Ctx
	info ModuleInfo
	refs int
	mu   sync.Mutex // login state
}

var libraries = struct {
	sync.Mutex
	m map[string]*library
}{m: map[string]*library{}}

// ModuleInfo is C_GetInfo.
type ModuleInfo struct {
	Manufacturer   string
	Library        string
	LibraryVersion string
	Cryptoki       string
}

// Load loads and initialises the module at path (C_Initialize with OS
// locking, so that it is safe from every goroutine).
func Load(path string) (*Module, error) {
	if err := CheckArch(path, hostMachine); err != nil {
		return nil, err
	}
	if _, err := os.Stat(path); err != nil {
		return nil, fmt.Errorf("%w: %s: %v", ErrModule, path, err)
	}
	key, err := filepath.Abs(path)
	if err != nil {
		key = path
	}
	libraries.Lock()
	defer libraries.Unlock()
	lib := libraries.m[key]
	if lib == nil {
		if lib, err = loadLibrary(path); err != nil {
			return nil, err
		}
		lib.key = key
		libraries.m[key] = lib
	}
	lib.refs++
	return &Module{Path: path, Info: lib.info, ctx: lib.ctx, lib: lib, mu: &lib.mu}, nil
}

func loadLibrary(path string) (*library, error) {
	ctx := pkcs11.New(path)
	if ctx == nil {
		return nil, fmt.Errorf("%w: %s (not a PKCS#11 library, or a dependency is missing)", ErrModule, path)
	}
	if err := ctx.Initialize(); err != nil && ckr(err) != pkcs11.CKR_CRYPTOKI_ALREADY_INITIALIZED {
		ctx.Destroy()
		return nil, fmt.Errorf("initialise %s: %w", path, err)
	}
	lib := &library{ctx: ctx}
	if info, err := ctx.GetInfo(); err == nil {
		lib.info = ModuleInfo{
			Manufacturer:   strings.TrimSpace(info.ManufacturerID),
			Library:        strings.TrimSpace(info.LibraryDescription),
			LibraryVersion: fmt.Sprintf("%d.%d", info.LibraryVersion.Major, info.LibraryVersion.Minor),
			Cryptoki:       fmt.Sprintf("%d.%d", info.CryptokiVersion.Major, info.CryptokiVersion.Minor),
		}
	}
	return lib, nil
}

// Close ends this handle; the last handle of a library finalises and
// unloads it. Closing twice is harmless.
func (m *Module) Close() error {
	if m == nil || m.ctx == nil {
		return nil
	}
	m.ctx = nil
	libraries.Lock()
	defer libraries.Unlock()
	m.lib.refs--
	if m.lib.refs > 0 {
		return nil
	}
	delete(libraries.m, m.lib.key)
	err := m.lib.ctx.Finalize()
	m.lib.ctx.Destroy()
	if ckr(err) == pkcs11.CKR_CRYPTOKI_NOT_INITIALIZED {
		err = nil
	}
	return err
}

var errClosed = errors.New("module closed")
