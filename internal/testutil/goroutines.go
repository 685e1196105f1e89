package testutil

import (
	"runtime"
	"testing"
)

// maxDump bounds the goroutine dump printed on a leak.
const maxDump = 20 << 10

// CheckNoGoroutineLeak snapshots the number of goroutines and registers a
// cleanup that fails tb, with a dump of all goroutines, if the number has
// not come back to at most the snapshot within 5s. Call it first in a test
// so that its cleanup runs last. Tests running in parallel in the same
// binary disturb the count, so use it in sequential tests only.
func CheckNoGoroutineLeak(tb testing.TB) {
	tb.Helper()
	before := runtime.NumGoroutine()
	tb.Cleanup(func() {
		var now int
		if poll(leakTimeout, func() bool { now = runtime.NumGoroutine(); return now <= before }) {
			return
		}
		tb.Errorf("goroutine leak: %d goroutines at start, %d at cleanup\n%s", before, now, goroutineDump())
	})
}

// goroutineDump returns the stacks of all goroutines, trimmed to maxDump.
func goroutineDump() string {
	buf := make([]byte, 64<<10)
	for {
		n := runtime.Stack(buf, true)
		if n < len(buf) {
			buf = buf[:n]
			break
		}
		buf = make([]byte, 2*len(buf))
	}
	if len(buf) > maxDump {
		return string(buf[:maxDump]) + "\n... (truncated)"
	}
	return string(buf)
}
