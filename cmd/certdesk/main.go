// Command certdesk is the applicant's desktop client (证书助手). With no
// arguments it opens the GUI; `certdesk material check|fix` runs headless for
// support staff and scripts, without a display.
package main

import (
	appsync "certdesk/app/sync"
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"strings"
	"sync/atomic"

	"certdesk/ui"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	os.Exit(run(ctx, os.Args[1:], os.Stdout, os.Stderr))
}

// stdin is where subcommands read a PIN or password from; tests replace it.
var stdin io.Reader = os.Stdin

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	serverFlag := ""
	if len(args) >= 2 && args[0] == "--server" {
		serverFlag, args = args[1], args[2:]
	} else if len(args) >= 1 && strings.HasPrefix(args[0], "--server=") {
		serverFlag, args = strings.TrimPrefix(args[0], "--server="), args[1:]
	}
	if len(args) > 0 && args[0] != "--diag" {
		switch args[0] {
		case "material":
			attachConsole()
			return runMaterial(ctx, args[1:], stdout, stderr)
		case "token":
			attachConsole()
			return runToken(ctx, args[1:], stdin, stdout, stderr)
		case "cert":
			attachConsole()
			return runCert(ctx, args[1:], stdin, stdout, stderr)
		case "diag":
			attachConsole()
			return runDiag(ctx, args[1:], stdout, stderr)
		case "screens":
			return runScreens(ctx, args[1:], stdout, stderr)
		case "version", "--version":
			attachConsole()
			fmt.Fprintf(stdout, "certdesk %s (%s %s/%s)\n", version, runtime.Version(), runtime.GOOS, runtime.GOARCH)
			return exitOK
		case "help", "-h", "--help":
			attachConsole()
			fmt.Fprint(stdout, usage)
			return exitOK
		default:
			attachConsole()
			fmt.Fprintf(stderr, "未知命令 / unknown command %q\n%s", args[0], usage)
			return exitUsage
		}
	}
	diagMode := len(args) > 0 && args[0] == "--diag"
	if len(args) > 0 && !diagMode {
		fmt.Fprintf(stderr, "未知参数 / unknown argument %q\n%s", args[0], usage)
		return exitUsage
	}
	if msg := noDisplay(); msg != "" {
		fmt.Fprint(stderr, msg)
		return exitNoDisplay
	}
	if diagMode {
		return runDiagWindow(ctx, serverFlag)
	}
	dir, err := dataDir()
	if err != nil {
		fmt.Fprintln(stderr, "data directory:", err)
		return exitFail
	}
	// The log goes to the terminal and to a file support can collect
	// (`certdesk diag --bundle`, redacted).
	var logOut io.Writer = stderr
	if f, err := openLog(dir); err == nil {
		defer f.Close()
		logOut = io.MultiWriter(stderr, f)
	}
	log := slog.New(slog.NewTextHandler(logOut, &slog.HandlerOptions{Level: slog.LevelInfo}))
	url, err := chooseServer(ctx, dir, serverFlag)
	if err != nil {
		log.Error("server setting", "err", err)
		return exitFail
	}
	be, ready, err := startBackendAsync(ctx, url, dir, log)
	if err != nil {
		log.Error("server", "err", err)
		return exitFail
	}
	defer be.Close()
	opts := ui.Options{Log: log, ServerURL: be.URL, Embedded: be.Embedded, DataDir: dir, ServerReady: ready, Settled: func() { trimMemory(log) },
		Render: renderer(filepath.Join(dir, "cache", "pdfium"))}
	if local, err := appsync.Open(ctx, filepath.Join(dir, "local")); err == nil {
		defer local.Close()
		opts.Local = local
	} else {
		log.Warn("local store", "err", err)
	}
	if os.Getenv("CERTDESK_PROBE") != "" {
		var placed, took atomic.Int64
		var input *ui.InputProbe
		if os.Getenv("CERTDESK_PROBE_TYPE") != "" {
			input = &ui.InputProbe{}
			opts.Input = input
			opts.IMEPlaced = func(x, y, h int32, ok bool) {
				placed.Add(1)
				if ok {
					took.Add(1)
				}
			}
		}
		opts.FirstFrame = probe(stderr, input, &placed, &took)
	}
	if err := ui.Run(ctx, opts); err != nil {
		log.Error("gui", "err", err)
		return exitFail
	}
	return exitOK
}

const usage = `证书助手 CertDesk

  certdesk                    打开图形界面,并启动内置服务器 / open the GUI with its embedded server
  certdesk --server URL       改用独立服务器并记住 / use (and remember) a standalone server;
                              --server embedded 恢复内置服务器 / back to the embedded one
                              (CERTDESK_SERVER=URL for this run only; CERTDESK_HOME=DIR data directory)
  certdesk material check …   检查材料图片 / check material images (certdesk material help)
  certdesk material fix …     修复材料图片 / repair a material image
  certdesk token list|test|show   检查 UKEY、查看证书 / check the UKEY, its certificates (certdesk token help)
  certdesk token change-pin|unlock 修改或解锁 PIN / change or unlock the PIN
  certdesk cert renew         证书更新 / renew a certificate (certdesk cert help)
  certdesk diag [--json] [--bundle F.zip]   自检并导出支持包 / self-check, support bundle
  certdesk --diag             在窗口中自检 / the self-check in a window
  certdesk version            版本 / version
`
