package testutil

import (
	"fmt"
	"os"
	"runtime"
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
		var left []Process
		if poll(leakTimeout, func() bool { left = Descendants(os.Getpid()); return len(left) == 0 }) {
			return
		}
		tb.Errorf("child processes still running at cleanup:\n%s", describeProcs(left))
	})
}

// describeProcs renders one "pid: cmdline" line per process.
func describeProcs(procs []Process) string {
	var b strings.Builder
	for _, p := range procs {
		fmt.Fprintf(&b, "  %d: %s\n", p.PID, p.Cmdline)
	}
	return b.String()
}
