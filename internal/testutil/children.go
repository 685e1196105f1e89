package testutil

import (
	"bytes"
	"fmt"
	"os"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// CheckNoChildren registers a cleanup that fails tb if any descendant of
// the test process, other than zombies, is still alive at cleanup time
// (after waiting up to 5s for them to go). Call it first in a test so that
// its cleanup runs after the ones that stop processes. It only works on
// Linux (it reads /proc) and does nothing elsewhere; tests running in
// parallel in the same binary see each other's children.
func CheckNoChildren(tb testing.TB) {
	tb.Helper()
	if runtime.GOOS != "linux" {
		return
	}
	tb.Cleanup(func() {
		var left []int
		if poll(func() bool { left = liveDescendants(os.Getpid()); return len(left) == 0 }) {
			return
		}
		tb.Errorf("child processes still running at cleanup:\n%s", describeProcs(left))
	})
}

// procStat is what CheckNoChildren needs from /proc/<pid>/stat.
type procStat struct {
	pid, ppid int
	state     byte
}

// parseStat parses a /proc/<pid>/stat line: "pid (comm) state ppid ...".
// comm may itself contain spaces and parentheses, hence the last ')'.
func parseStat(data []byte) (procStat, bool) {
	open, end := bytes.IndexByte(data, '('), bytes.LastIndexByte(data, ')')
	if open < 0 || end < open {
		return procStat{}, false
	}
	pid, err1 := strconv.Atoi(strings.TrimSpace(string(data[:open])))
	fields := strings.Fields(string(data[end+1:]))
	if err1 != nil || len(fields) < 2 || len(fields[0]) != 1 {
		return procStat{}, false
	}
	ppid, err2 := strconv.Atoi(fields[1])
	return procStat{pid: pid, ppid: ppid, state: fields[0][0]}, err2 == nil
}

// scanProcs reads the stat of every process; ones that vanish are skipped.
func scanProcs() []procStat {
	entries, _ := os.ReadDir("/proc")
	var procs []procStat
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

// liveDescendants returns the pids of root's descendants that are neither
// zombies nor dead.
func liveDescendants(root int) []int {
	procs := scanProcs()
	children := map[int][]procStat{}
	for _, p := range procs {
		children[p.ppid] = append(children[p.ppid], p)
	}
	var live []int
	queue := []int{root}
	for len(queue) > 0 {
		pid := queue[0]
		queue = queue[1:]
		for _, c := range children[pid] {
			queue = append(queue, c.pid)
			if c.state != 'Z' && c.state != 'X' {
				live = append(live, c.pid)
			}
		}
	}
	slices.Sort(live)
	return live
}

// describeProcs renders one "pid: cmdline" line per process.
func describeProcs(pids []int) string {
	var b strings.Builder
	for _, pid := range pids {
		fmt.Fprintf(&b, "  %d: %s\n", pid, cmdline(pid))
	}
	return b.String()
}

func cmdline(pid int) string {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
	if err != nil {
		return "(gone)"
	}
	return strings.TrimSpace(string(bytes.ReplaceAll(data, []byte{0}, []byte{' '})))
}
