package console

import (
	"io/fs"
	"os"
	"regexp"
	"testing"
)

// Every key the templates and the handlers ask for has both languages,
// and no key in the table is unused.
func TestMessagesComplete(t *testing.T) {
	reTpl := regexp.MustCompile(`\btr \$?\.?[A-Za-z.]* "([a-z0-9_.]+)"`)
	reGo := regexp.MustCompile(`\btr\([a-zA-Z.]+, "([a-z0-9_.]+)"`)
	used := map[string]bool{}
	_ = fs.WalkDir(templateFS, "templates", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, _ := fs.ReadFile(templateFS, p)
		for _, m := range reTpl.FindAllSubmatch(b, -1) {
			used[string(m[1])] = true
		}
		return nil
	})
	src, err := os.ReadFile("console.go")
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range reGo.FindAllSubmatch(src, -1) {
		used[string(m[1])] = true
	}
	if len(used) < 60 {
		t.Fatalf("found only %d keys in use: the patterns are wrong", len(used))
	}
	for k := range used {
		if k[len(k)-1] == '.' {
			continue // a prefix: "done." + the redirect's value, checked below
		}
		if m, ok := messages[k]; !ok || m.ZH == "" || m.EN == "" {
			t.Errorf("key %q has no zh and en text", k)
		}
	}
	for k := range messages {
		// done.* keys are chosen by the redirect's ?done= value.
		if !used[k] && !regexp.MustCompile(`^done\.`).MatchString(k) {
			t.Errorf("key %q is not used", k)
		}
	}
}
