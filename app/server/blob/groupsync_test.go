package blob

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"
)

// TestGroupSyncBatches: concurrent callers all return only after a flush
// that named their file, and share flushes.
func TestGroupSyncBatches(t *testing.T) {
	var mu sync.Mutex
	flushed := map[string]int{}
	g := newGroupSync(func(paths []string) error {
		time.Sleep(10 * time.Millisecond) // a disk
		mu.Lock()
		defer mu.Unlock()
		for _, p := range paths {
			flushed[p]++
		}
		return nil
	})
	const n = 32
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			p := fmt.Sprint("f", i)
			if err := g.Sync(p); err != nil {
				t.Error(err)
			}
			mu.Lock()
			defer mu.Unlock()
			if flushed[p] != 1 {
				t.Errorf("%s returned after %d flushes naming it", p, flushed[p])
			}
		}()
	}
	wg.Wait()
	if len(flushed) != n {
		t.Fatalf("%d of %d files flushed", len(flushed), n)
	}
	if g.flushes >= n {
		t.Errorf("%d flushes for %d concurrent callers: no grouping", g.flushes, n)
	}
	t.Logf("%d callers, %d flushes", n, g.flushes)
}

// TestGroupSyncError: a failed flush fails every caller in its group, and
// the next group flushes again.
func TestGroupSyncError(t *testing.T) {
	fail := errors.New("disk gone")
	calls := 0
	g := newGroupSync(func([]string) error {
		calls++
		if calls == 1 {
			return fail
		}
		return nil
	})
	if err := g.Sync("a"); !errors.Is(err, fail) {
		t.Fatalf("first sync: %v, want the flush's error", err)
	}
	if err := g.Sync("b"); err != nil {
		t.Fatalf("second sync: %v", err)
	}
}

// TestFlushFiles is the flush used outside Linux, run here on real files.
func TestFlushFiles(t *testing.T) {
	dir := t.TempDir()
	var paths []string
	for _, name := range []string{"a", "b"} {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(name), 0o600); err != nil {
			t.Fatal(err)
		}
		paths = append(paths, p)
	}
	if err := flushFiles(paths); err != nil {
		t.Fatal(err)
	}
	if err := flushFiles([]string{filepath.Join(dir, "missing")}); err == nil {
		t.Fatal("a missing file flushed")
	}
	if err := newFlush(dir)(paths); err != nil {
		t.Fatalf("this platform's flush: %v", err)
	}
}
