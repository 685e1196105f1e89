package testutil

import (
	"bytes"
	"fmt"
	"os"
	"runtime"
	"slices"
	"strconv"
	"strings"
)

// Process is one process as /proc/<pid>/stat and /proc/<pid>/cmdline
// describe it. Reading /proc only works on Linux: elsewhere Processes and
// Descendants return nothing and Gone reports true.
type Process struct {
	PID, PPID int
	State     byte   // as in /proc/<pid>/stat: 'R', 'S', 'Z', ...
	Start     uint64 // clock ticks after boot; tells a reused pid apart
	Cmdline   string // arguments joined by spaces; "(gone)" if unreadable
}

// Processes returns every process on the system; ones that vanish while
// it reads /proc are skipped.
func Processes() []Process {
	procs := scanProcs()
	for i := range procs {
		procs[i].Cmdline = cmdline(procs[i].PID)
	}
	return procs
}

// Descendants returns root's descendants, by pid, that are neither zombies
// nor dead.
func Descendants(root int) []Process {
	children := map[int][]Process{}
	for _, p := range scanProcs() {
		children[p.PPID] = append(children[p.PPID], p)
	}
	var live []Process
	queue := []int{root}
	for len(queue) > 0 {
		pid := queue[0]
		queue = queue[1:]
		for _, c := range children[pid] {
			queue = append(queue, c.PID)
			if !dead(c.State) {
				// Read now, not when first seen: a child caught between
				// fork and exec still shows its parent's.
				c.Cmdline = cmdline(c.PID)
				live = append(live, c)
			}
		}
	}
	slices.SortFunc(live, func(a, b Process) int { return a.PID - b.PID })
	return live
}

// Gone reports whether p has exited: no process has its pid (its /proc
// entry is gone, as it is exactly when kill(pid, 0) fails with ESRCH), or
// the one that has is a zombie, or is another process that reused the pid
// (its start time differs).
func (p Process) Gone() bool {
	if runtime.GOOS != "linux" {
		return true
	}
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", p.PID))
	if err != nil {
		return true
	}
	now, ok := parseStat(data)
	return !ok || now.start != p.Start || dead(now.state)
}

// dead reports whether a /proc/<pid>/stat state is that of a zombie ('Z')
// or of a process being reaped ('X').
func dead(state byte) bool { return state == 'Z' || state == 'X' }

// procStat is what Process needs from /proc/<pid>/stat.
type procStat struct {
	pid, ppid int
	state     byte
	start     uint64
}

// parseStat parses a /proc/<pid>/stat line: "pid (comm) state ppid ...
// starttime ...", where starttime is field 22 (left 0 in a line too short
// to hold it, which the kernel never writes). comm may itself contain
// spaces and parentheses, hence the last ')'.
func parseStat(data []byte) (procStat, bool) {
	open, end := bytes.IndexByte(data, '('), bytes.LastIndexByte(data, ')')
	if open < 0 || end < open {
		return procStat{}, false
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(data[:open])))
	fields := strings.Fields(string(data[end+1:])) // fields[0] is field 3
	if err != nil || len(fields) < 2 || len(fields[0]) != 1 {
		return procStat{}, false
	}
	p := procStat{pid: pid, state: fields[0][0]}
	if p.ppid, err = strconv.Atoi(fields[1]); err != nil {
		return procStat{}, false
	}
	if len(fields) > 19 {
		if p.start, err = strconv.ParseUint(fields[19], 10, 64); err != nil {
			return procStat{}, false
		}
	}
	return p, true
}

// scanProcs reads the stat of every process, leaving Cmdline empty; ones
// that vanish are skipped.
func scanProcs() []Process {
	if runtime.GOOS != "linux" {
		return nil
	}
	entries, _ := os.ReadDir("/proc")
	var procs []Process
	for _, e := range entries {
		if _, err := strconv.Atoi(e.Name()); err != nil {
			continue
		}
		data, err := os.ReadFile("/proc/" + e.Name() + "/stat")
		if err != nil {
			continue
		}
		if s, ok := parseStat(data); ok {
			procs = append(procs, Process{PID: s.pid, PPID: s.ppid, State: s.state, Start: s.start})
		}
	}
	return procs
}

// cmdline returns pid's arguments joined by spaces, or "(gone)".
func cmdline(pid int) string {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
	if err != nil {
		return "(gone)"
	}
	return strings.TrimSpace(string(bytes.ReplaceAll(data, []byte{0}, []byte{' '})))
}

// Marked returns the live processes, other than this one, whose
// environment holds marker (as NAME=value): a test sets a marker unique to
// it in the environment of what it starts, which every descendant
// inherits, even one that leaves the process tree or its process group.
// Like Processes it reads /proc, and returns nothing elsewhere.
func Marked(marker string) []Process {
	var out []Process
	want := []byte(marker)
	for _, p := range scanProcs() {
		if p.PID == os.Getpid() || dead(p.State) {
			continue
		}
		env, err := os.ReadFile(fmt.Sprintf("/proc/%d/environ", p.PID))
		if err != nil {
			continue
		}
		for _, kv := range bytes.Split(env, []byte{0}) {
			if bytes.Equal(kv, want) {
				p.Cmdline = cmdline(p.PID)
				out = append(out, p)
				break
			}
		}
	}
	return out
}
