package e2e

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// tracker records every descendant of a process, by scanning /proc while
// the process runs, so that what is left of them after it exits can be
// checked. It only works on Linux; elsewhere it records nothing.
type tracker struct {
	root int
	done chan struct{} // closed when the last scan has been made

	mu   sync.Mutex
	seen map[int]proc // by pid
}

// proc is one process as /proc/<pid>/stat describes it.
type proc struct {
	pid, ppid int
	state     byte
	start     uint64 // clock ticks after boot; tells a reused pid apart
	cmdline   string
}

// scanInterval is how often the tracker looks for new descendants.
const scanInterval = 20 * time.Millisecond

// trackDescendants records the descendants of root until stop closes.
func trackDescendants(root int, stop <-chan struct{}) *tracker {
	t := &tracker{root: root, done: make(chan struct{}), seen: map[int]proc{}}
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
	procs := readProcs()
	children := map[int][]proc{}
	for _, p := range procs {
		children[p.ppid] = append(children[p.ppid], p)
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	queue := []int{t.root}
	for len(queue) > 0 {
		pid := queue[0]
		queue = queue[1:]
		for _, c := range children[pid] {
			queue = append(queue, c.pid)
			// Read cmdline every time: a child seen between fork and exec
			// still shows its parent's.
			if old, ok := t.seen[c.pid]; !ok || old.start == c.start {
				c.cmdline = cmdline(c.pid)
				t.seen[c.pid] = c
			}
		}
	}
}

// descendants returns every descendant seen so far, by pid.
func (t *tracker) descendants() []proc {
	t.mu.Lock()
	defer t.mu.Unlock()
	out := make([]proc, 0, len(t.seen))
	for _, p := range t.seen {
		out = append(out, p)
	}
	slices.SortFunc(out, func(a, b proc) int { return a.pid - b.pid })
	return out
}

// survivors waits up to d for every descendant seen to be gone and returns
// those that are still alive. Call it after the root has exited.
func (t *tracker) survivors(d time.Duration) []proc {
	<-t.done
	deadline := time.Now().Add(d)
	for {
		var alive []proc
		for _, p := range t.descendants() {
			if !p.gone() {
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
		_ = syscall.Kill(p.pid, syscall.SIGKILL)
	}
	return describe(alive)
}

// gone reports whether p has exited: no process has its pid, or the one
// that has is another process or a zombie.
func (p proc) gone() bool {
	if err := syscall.Kill(p.pid, 0); errors.Is(err, syscall.ESRCH) {
		return true
	}
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", p.pid))
	if err != nil {
		return true
	}
	now, ok := parseStat(data)
	return !ok || now.start != p.start || now.state == 'Z' || now.state == 'X'
}

// describe renders one "pid (ppid): cmdline" line per process.
func describe(procs []proc) string {
	var b strings.Builder
	for _, p := range procs {
		fmt.Fprintf(&b, "  pid %d (parent %d): %s\n", p.pid, p.ppid, p.cmdline)
	}
	return b.String()
}

// readProcs returns every process in /proc; ones that vanish are skipped.
func readProcs() []proc {
	entries, _ := os.ReadDir("/proc")
	var procs []proc
	for _, e := range entries {
		if _, err := strconv.Atoi(e.Name()); err != nil {
			continue
		}
		data, err := os.ReadFile("/proc/" + e.Name() + "/stat")
		if err != nil {
			continue
		}
		if p, ok := parseStat(data); ok {
			procs = append(procs, p)
		}
	}
	return procs
}

// parseStat parses "pid (comm) state ppid ... starttime ..." (starttime is
// field 22). comm may hold spaces and parentheses, hence the last ')'.
func parseStat(data []byte) (proc, bool) {
	open, end := bytes.IndexByte(data, '('), bytes.LastIndexByte(data, ')')
	if open < 0 || end < open {
		return proc{}, false
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(data[:open])))
	fields := strings.Fields(string(data[end+1:])) // fields[0] is field 3
	if err != nil || len(fields) < 20 || len(fields[0]) != 1 {
		return proc{}, false
	}
	ppid, err1 := strconv.Atoi(fields[1])
	start, err2 := strconv.ParseUint(fields[19], 10, 64)
	if err1 != nil || err2 != nil {
		return proc{}, false
	}
	return proc{pid: pid, ppid: ppid, state: fields[0][0], start: start}, true
}

func cmdline(pid int) string {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
	if err != nil {
		return "(gone)"
	}
	return strings.TrimSpace(string(bytes.ReplaceAll(data, []byte{0}, []byte{' '})))
}
