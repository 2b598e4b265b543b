package cliargs

import (
	"flag"
	"io"
	"strings"
	"testing"
)

func TestParseInterspersed(t *testing.T) {
	fs := flag.NewFlagSet("t", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	j := fs.Bool("json", false, "")
	typ := fs.String("type", "doc", "")
	pos, err := Parse(fs, []string{"a.jpg", "--json", "b.jpg", "--type", "seal", "--", "--c.jpg"})
	if err != nil || !*j || *typ != "seal" || strings.Join(pos, " ") != "a.jpg b.jpg --c.jpg" {
		t.Fatalf("pos %v json %v type %v err %v", pos, *j, *typ, err)
	}
	if _, err := Parse(fs, []string{"--nope"}); err == nil {
		t.Fatal("unknown flag accepted")
	}
}
