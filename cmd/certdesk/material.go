package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"text/tabwriter"

	"certdesk/app/apply"
	"certdesk/app/atomicfile"
	"certdesk/app/cliargs"
	"certdesk/app/material"
)

// Exit statuses of the headless commands.
const (
	exitOK    = 0
	exitFail  = 1 // a file fails its check or cannot be fixed
	exitUsage = 2
	// exitNoDisplay: the GUI was asked for on a machine without a display.
	exitNoDisplay = 3
)

const materialUsage = `用法 / usage:
  certdesk material check FILE... [--kind org|personal] [--type T] [--json] [--lang zh|en]
  certdesk material fix [--type T] [--lang zh|en] IN OUT

--type 取材料类型 / takes a material type: doc (任意 100 DPI 文档, 默认 / any 100 DPI document, default),
  seal (300 DPI 印模 / imprint), acceptance_form, org_license, authorization, applicant_id, handler_id,
  seal_imprint, signature_imprint, spare, payment_voucher
退出码 / exit status: 0 全部通过 / all pass, 1 有文件不通过 / a file fails, 2 用法错误 / usage error
`

// runMaterial runs `certdesk material ...` and returns the exit status.
func runMaterial(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, materialUsage)
		return exitUsage
	}
	switch args[0] {
	case "check":
		return materialCheck(ctx, args[1:], stdout, stderr)
	case "fix":
		return materialFix(ctx, args[1:], stdout, stderr)
	case "help", "-h", "--help":
		fmt.Fprint(stdout, materialUsage)
		return exitOK
	}
	fmt.Fprintf(stderr, "未知命令 / unknown command %q\n%s", args[0], materialUsage)
	return exitUsage
}

// resolveRule finds the rule for --kind/--type.
// ruleFor checks a material command's arguments (argsOK, else need is
// said with the usage) and resolves its rule; false means exit with
// usage, already explained on stderr.
func ruleFor(argsOK bool, need, kind, typ string, stderr io.Writer) (apply.MaterialRule, bool) {
	if !argsOK {
		fmt.Fprint(stderr, need+"\n"+materialUsage)
		return apply.MaterialRule{}, false
	}
	rule, err := resolveRule(kind, typ)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return apply.MaterialRule{}, false
	}
	return rule, true
}

func resolveRule(kind, typ string) (apply.MaterialRule, error) {
	if kind == "" {
		r, ok := apply.GenericRule(typ)
		if !ok {
			return r, fmt.Errorf("未知的材料类型 / unknown material type %q", typ)
		}
		return r, nil
	}
	k, err := apply.ParseKind(kind)
	if err != nil {
		return apply.MaterialRule{}, err
	}
	if typ == "" || typ == "doc" || typ == "seal" {
		return resolveRule("", typ)
	}
	// Every option on, so that imprint types are part of the list.
	r, ok := apply.RuleFor(k, apply.Options{Seal: true, Signature: true}, false, apply.MaterialType(typ))
	if !ok {
		return r, fmt.Errorf("%s 没有材料类型 / has no material type %q", k.Label(apply.ZH), typ)
	}
	return r, nil
}

type checkResult struct {
	File    string           `json:"file"`
	OK      bool             `json:"ok"`
	Fixable bool             `json:"fixable"`
	Error   string           `json:"error,omitempty"`
	Verdict material.Verdict `json:"verdict"`
}

func materialCheck(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("material check", flag.ContinueOnError)
	fs.SetOutput(stderr)
	kind := fs.String("kind", "", "org or personal")
	typ := fs.String("type", "doc", "material type")
	asJSON := fs.Bool("json", false, "JSON output")
	lang := fs.String("lang", "zh", "zh or en")
	files, err := cliargs.Parse(fs, args)
	if err != nil {
		return exitUsage
	}
	rule, ok := ruleFor(len(files) > 0, "请给出要检查的文件 / name the files to check", *kind, *typ, stderr)
	if !ok {
		return exitUsage
	}
	results := checkFiles(ctx, files, rule)
	status := exitOK
	for _, r := range results {
		if !r.OK {
			status = exitFail
		}
	}
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(results); err != nil {
			fmt.Fprintln(stderr, err)
			return exitFail
		}
		return status
	}
	if err := printTable(stdout, results, apply.Lang(*lang)); err != nil {
		fmt.Fprintln(stderr, err)
		return exitFail
	}
	return status
}

// checkFiles reads and checks files on every core: decoding dominates, and
// one file per goroutine keeps both cores of an office PC busy.
func checkFiles(ctx context.Context, files []string, rule apply.MaterialRule) []checkResult {
	results := make([]checkResult, len(files))
	next := make(chan int)
	var wg sync.WaitGroup
	for range runtime.GOMAXPROCS(0) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				results[i] = checkFile(files[i], rule)
			}
		}()
	}
	for i := range files {
		if ctx.Err() != nil {
			results[i] = checkResult{File: files[i], Error: ctx.Err().Error()}
			continue
		}
		next <- i
	}
	close(next)
	wg.Wait()
	return results
}

func checkFile(path string, rule apply.MaterialRule) checkResult {
	b, err := os.ReadFile(path)
	if err != nil {
		return checkResult{File: path, Error: fmt.Sprintf("read %s: %v", path, err)}
	}
	v := material.CheckBytes(b, rule)
	return checkResult{File: path, OK: v.OK(), Fixable: v.Fixable(), Verdict: v}
}

func printTable(w io.Writer, results []checkResult, lang apply.Lang) error {
	pick := func(zh, en string) string { return apply.Text{ZH: zh, EN: en}.In(lang) }
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, pick("文件\t结果\t格式\t像素\tDPI\t大小", "FILE\tRESULT\tFORMAT\tPIXELS\tDPI\tSIZE"))
	for _, r := range results {
		if r.Error != "" {
			fmt.Fprintf(tw, "%s\t%s\t\t\t\t\n", filepath.Base(r.File), pick("读取失败", "UNREADABLE"))
			continue
		}
		in := r.Verdict.Info
		res := pick("通过", "PASS")
		if !r.OK {
			res = pick("不通过", "FAIL")
		}
		dpi := "-"
		if in.DPI > 0 {
			dpi = fmt.Sprintf("%.0f", in.DPI)
		}
		px := "-"
		if in.Width > 0 {
			px = fmt.Sprintf("%d×%d", in.Width, in.Height)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%.0f KB\n", filepath.Base(r.File), res, in.Format, px, dpi, float64(in.Bytes)/1024)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	for _, r := range results {
		if r.Error != "" {
			fmt.Fprintf(w, "\n%s: %s\n", r.File, r.Error)
			continue
		}
		if len(r.Verdict.Problems) == 0 {
			continue
		}
		fmt.Fprintf(w, "\n%s:\n", r.File)
		for _, p := range r.Verdict.Problems {
			mark := pick("错误", "error")
			if p.Severity == material.Warning {
				mark = pick("提示", "warning")
			}
			fmt.Fprintf(w, "  [%s] %s\n        → %s\n", mark, p.Message.In(lang), p.Hint.In(lang))
		}
		if !r.OK && r.Fixable {
			fmt.Fprintf(w, "  %s certdesk material fix --type %s %s %s\n", pick("可自动修复:", "fix it with:"), r.Verdict.Rule.Type, shellQuote(r.File), shellQuote(fixedName(r.File)))
		}
	}
	return nil
}

func fixedName(in string) string {
	ext := filepath.Ext(in)
	return strings.TrimSuffix(in, ext) + "-fixed.jpg"
}

func materialFix(_ context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("material fix", flag.ContinueOnError)
	fs.SetOutput(stderr)
	typ := fs.String("type", "doc", "material type")
	kind := fs.String("kind", "", "org or personal")
	langFlag := fs.String("lang", "zh", "zh or en")
	pos, err := cliargs.Parse(fs, args)
	if err != nil {
		return exitUsage
	}
	rule, ok := ruleFor(len(pos) == 2, "需要输入和输出两个文件 / need IN and OUT", *kind, *typ, stderr)
	if !ok {
		return exitUsage
	}
	in, out := pos[0], pos[1]
	b, err := os.ReadFile(in)
	if err != nil {
		fmt.Fprintf(stderr, "read %s: %v\n", in, err)
		return exitFail
	}
	lang := apply.Lang(*langFlag)
	fixed, rep, err := material.Repair(b, rule)
	pick := func(zh, en string) string { return apply.Text{ZH: zh, EN: en}.In(lang) }
	if err != nil {
		fmt.Fprintf(stderr, "%s %s:\n", pick("无法自动修复", "cannot fix"), in)
		for _, p := range rep.Before.Problems {
			if p.Severity == material.Error && !p.Fixable {
				fmt.Fprintf(stderr, "  %s\n    → %s\n", p.Message.In(lang), p.Hint.In(lang))
			}
		}
		if !errors.Is(err, material.ErrNotFixable) {
			fmt.Fprintln(stderr, err)
		}
		return exitFail
	}
	if err := atomicfile.WriteFile(out, fixed, 0o644); err != nil {
		fmt.Fprintln(stderr, err)
		return exitFail
	}
	bi, ai := rep.Before.Info, rep.After.Info
	fmt.Fprintf(stdout, "%s: %s, %d×%d, %.0f DPI, %.0f KB\n", pick("修复前", "before"), bi.Format, bi.Width, bi.Height, bi.DPI, float64(bi.Bytes)/1024)
	fmt.Fprintf(stdout, "%s: %s, %d×%d, %.0f DPI, %.0f KB\n", pick("修复后", "after"), ai.Format, ai.Width, ai.Height, ai.DPI, float64(ai.Bytes)/1024)
	for _, a := range rep.Actions {
		fmt.Fprintf(stdout, "  - %s\n", a.Text.In(lang))
	}
	fmt.Fprintf(stdout, "%s %s\n", pick("已保存到", "saved to"), out)
	return exitOK
}

// shellQuote quotes a path for the command line it will be pasted into.
// Go's %q escapes backslashes, which cmd.exe and PowerShell take literally
// ("C:\\Users\\..." is not the file); double quotes are enough there, as
// a Windows path cannot contain one. Elsewhere single quotes, for sh.
func shellQuote(p string) string {
	if runtime.GOOS == "windows" {
		return `"` + p + `"`
	}
	return "'" + strings.ReplaceAll(p, "'", `'\''`) + "'"
}
