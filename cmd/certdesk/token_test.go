package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os/exec"
	"strings"
	"testing"

	"certdesk/token/softhsmtest"
)

func TestTokenCommands(t *testing.T) {
	tk := softhsmtest.New(t, "support-ukey")
	var out, errb bytes.Buffer
	if st := run(context.Background(), []string{"token", "list", "--module", tk.ModulePath, "--json"}, &out, &errb); st != exitOK {
		t.Fatalf("list: %d %s", st, errb.String())
	}
	var reps []ModuleReport
	if err := json.Unmarshal(out.Bytes(), &reps); err != nil || len(reps) == 0 || len(reps[0].Tokens) != 1 || reps[0].Tokens[0].Label != "support-ukey" {
		t.Fatalf("list json: %v %s", err, out.String())
	}
	for _, kt := range []string{"p256", "rsa2048"} {
		out.Reset()
		stdin = strings.NewReader(tk.PIN + "\n")
		st := run(context.Background(), []string{"token", "test", "--module", tk.ModulePath, "--key", kt}, &out, &errb)
		if st != exitOK || !strings.Contains(out.String(), "UKEY 工作正常") || strings.Contains(out.String(), tk.PIN) {
			t.Fatalf("test %s: %d\n%s%s", kt, st, out.String(), errb.String())
		}
	}
	// The self-test cleans up: no key or certificate is left behind.
	if s := tk.Tool(t, "--list-objects", "--login", "--pin", tk.PIN); strings.Contains(s, "Object;") {
		t.Fatalf("objects left on the token:\n%s", s)
	}
	out.Reset()
	stdin = strings.NewReader("000000\n")
	if st := run(context.Background(), []string{"token", "test", "--module", tk.ModulePath}, &out, &errb); st != exitFail || !strings.Contains(out.String(), "PIN 不正确") {
		t.Fatalf("wrong PIN: %d %s", st, out.String())
	}
}

// `certdesk token change-pin`: the new PIN's rules refuse before the
// token is asked; a change is seen by pkcs11-tool (OpenSC), not by us:
// the new PIN logs in and the old one fails.
func TestTokenChangePIN(t *testing.T) {
	tk := softhsmtest.New(t, "change-pin")
	pinWorks := func(pin string) bool {
		return exec.Command("pkcs11-tool", "--module", tk.ModulePath, "--token-label", "change-pin", "--login", "--pin", pin, "--list-objects").Run() == nil
	}
	changePIN := func(in string) (int, string) {
		var out, errb bytes.Buffer
		stdin = strings.NewReader(in)
		st := run(context.Background(), []string{"token", "change-pin", "--module", tk.ModulePath}, &out, &errb)
		return st, out.String() + errb.String()
	}
	for _, c := range []struct{ stdin, want string }{
		{tk.PIN + "\n12345\n", "6–16 位"},
		{tk.PIN + "\n777777\n", "同一个字符"},
		{tk.PIN + "\n" + tk.PIN + "\n", "不能与旧 PIN 相同"},
		{tk.PIN + "\n", "各占一行"},
	} {
		if st, msg := changePIN(c.stdin); st != exitUsage || !strings.Contains(msg, c.want) {
			t.Errorf("stdin %q: %d %q, want usage and %q", strings.ReplaceAll(c.stdin, tk.PIN, "<PIN>"), st, msg, c.want)
		}
	}
	if st, msg := changePIN("000001\n246813\n"); st != exitFail || !strings.Contains(msg, "旧 PIN 不正确") {
		t.Fatalf("wrong old PIN: %d %q", st, msg)
	}
	st, msg := changePIN(tk.PIN + "\r\n246813\r\n") // typed on Windows
	if st != exitOK || !strings.Contains(msg, "PIN 已修改") {
		t.Fatalf("change: %d %q", st, msg)
	}
	if strings.Contains(msg, "246813") || strings.Contains(msg, tk.PIN) {
		t.Fatalf("a PIN was printed: %q", msg)
	}
	if !pinWorks("246813") || pinWorks(tk.PIN) {
		t.Fatalf("after the change pkcs11-tool logs in with the new PIN: %v, with the old: %v", pinWorks("246813"), pinWorks(tk.PIN))
	}
}
