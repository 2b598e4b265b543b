package blob

import (
	"fmt"
	"os"
	"path/filepath"
	"sync"
)

// groupSync makes files durable in groups (group commit). Every request
// that changes files waits until they are on disk before it answers; when
// several do so at once, one of them flushes for all of them. On Linux a
// flush is one syncfs(2) of the data directory's file system — the files'
// data and the renames that put them in place, for the whole group, in
// one journal commit — instead of an fsync of each file and of its
// directory; with 16 uploads in flight that turned a fifth of the CPU's
// time from waiting on the disk into work (README, Performance).
// Elsewhere a flush syncs each file of the group and its directory.
type groupSync struct {
	mu      sync.Mutex
	cond    *sync.Cond
	running bool
	queue   []*syncReq
	// flush makes the named files durable (flushFS or flushFiles).
	flush func(paths []string) error
	// flushes counts flushes, for tests.
	flushes int
}

type syncReq struct {
	path string
	done bool
	err  error
}

func newGroupSync(flush func([]string) error) *groupSync {
	g := &groupSync{flush: flush}
	g.cond = sync.NewCond(&g.mu)
	return g
}

// Sync returns once path (its content and its name) is on disk. The first
// caller to find no flush running flushes everything queued so far; the
// others wait for it and, if theirs came too late for it, for the next.
func (g *groupSync) Sync(path string) error {
	r := &syncReq{path: path}
	g.mu.Lock()
	defer g.mu.Unlock()
	g.queue = append(g.queue, r)
	for !r.done {
		if g.running {
			g.cond.Wait()
			continue
		}
		batch := g.queue
		g.queue = nil
		g.running = true
		g.mu.Unlock()
		paths := make([]string, len(batch))
		for i, b := range batch {
			paths[i] = b.path
		}
		err := g.flush(paths)
		g.mu.Lock()
		g.running = false
		g.flushes++
		for _, b := range batch {
			b.done, b.err = true, err
		}
		g.cond.Broadcast()
	}
	return r.err
}

// flushFiles syncs each file, then each directory that holds one (where
// the renames are recorded).
func flushFiles(paths []string) error {
	dirs := map[string]bool{}
	for _, p := range paths {
		// Windows flushes a file's buffers only through a handle that
		// may write.
		f, err := os.OpenFile(p, os.O_RDWR, 0)
		if err != nil {
			return fmt.Errorf("sync %s: %w", p, err)
		}
		err = f.Sync()
		f.Close()
		if err != nil {
			return fmt.Errorf("sync %s: %w", p, err)
		}
		dirs[filepath.Dir(p)] = true
	}
	for d := range dirs {
		if err := syncDir(d); err != nil {
			return err
		}
	}
	return nil
}
