package main

import (
	"bytes"
	"context"
	"encoding/json"
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
