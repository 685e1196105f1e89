package e2e

import (
	"fmt"
	"runtime"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/mcpmux/mcpmux/internal/testutil"
)

// tracker records every descendant of a process, by scanning /proc while
// the process runs, so that what is left of them after it exits can be
// checked. It only works on Linux; elsewhere it records nothing.
type tracker struct {
	root int
	done chan struct{} // closed when the last scan has been made

	mu   sync.Mutex
	seen map[int]testutil.Process // by pid
}

// scanInterval is how often the tracker looks for new descendants.
const scanInterval = 20 * time.Millisecond

// trackDescendants records the descendants of root until stop closes.
// untracked returns a tracker that tracks nothing.
func untracked() *tracker {
	t := &tracker{done: make(chan struct{}), seen: map[int]testutil.Process{}}
	close(t.done)
	return t
}

func trackDescendants(root int, stop <-chan struct{}) *tracker {
	t := &tracker{root: root, done: make(chan struct{}), seen: map[int]testutil.Process{}}
	if runtime.GOOS != "linux" {
		close(t.done)
		return t
	}
	go func() {
		defer close(t.done)
		tick := time.NewTicker(scanInterval)
		defer tick.Stop()
		for {
			t.scan()
			select {
			case <-stop:
				return
			case <-tick.C:
			}
		}
	}()
	return t
}

// scan records the descendants of root that are alive now.
func (t *tracker) scan() {
	live := testutil.Descendants(t.root)
	t.mu.Lock()
	defer t.mu.Unlock()
	for _, p := range live {
		// Replace it every time, for its latest cmdline: a child seen
		// between fork and exec still shows its parent's.
		if old, ok := t.seen[p.PID]; !ok || old.Start == p.Start {
			t.seen[p.PID] = p
		}
	}
}

// descendants returns every descendant seen so far, by pid.
func (t *tracker) descendants() []testutil.Process {
	t.mu.Lock()
	defer t.mu.Unlock()
	out := make([]testutil.Process, 0, len(t.seen))
	for _, p := range t.seen {
		out = append(out, p)
	}
	slices.SortFunc(out, func(a, b testutil.Process) int { return a.PID - b.PID })
	return out
}

// survivors waits up to d for every descendant seen to be gone and returns
// those that are still alive. Call it after the root has exited.
func (t *tracker) survivors(d time.Duration) []testutil.Process {
	<-t.done
	deadline := time.Now().Add(d)
	for {
		var alive []testutil.Process
		for _, p := range t.descendants() {
			if !p.Gone() {
				alive = append(alive, p)
			}
		}
		if len(alive) == 0 || time.Now().After(deadline) {
			return alive
		}
		time.Sleep(scanInterval)
	}
}

// killSurvivors kills the descendants still alive after d and describes
// them; it returns "" if there were none.
func (t *tracker) killSurvivors(d time.Duration) string {
	alive := t.survivors(d)
	for _, p := range alive {
		_ = testutil.Kill(p.PID)
	}
	return describe(alive)
}

// describe renders one "pid (ppid): cmdline" line per process.
func describe(procs []testutil.Process) string {
	var b strings.Builder
	for _, p := range procs {
		fmt.Fprintf(&b, "  pid %d (parent %d): %s\n", p.PID, p.PPID, p.Cmdline)
	}
	return b.String()
}
