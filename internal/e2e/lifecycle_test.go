//go:build unix

package e2e

import (
	"fmt"
	"os"
	"runtime"
	"slices"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/mcpmux/mcpmux/internal/testutil"
)

// TestNoProcessLeftAfterStdinClose runs mcpmux with two real npm servers
// and stops it the two ways a client does, by closing its stdin or by
// sending SIGTERM: mcpmux must exit promptly with status 0, and no process
// it started, directly or not, may outlive it.
func TestNoProcessLeftAfterStdinClose(t *testing.T) {
	tests := []struct {
		name string
		stop func(t *testing.T, m *mcpmux)
	}{
		{"stdin closed", func(t *testing.T, m *mcpmux) {
			if err := m.client.Close(); err != nil {
				t.Errorf("closing the client: %v", err)
			}
		}},
		{"SIGTERM", func(t *testing.T, m *mcpmux) {
			if err := m.cmd.Process.Signal(syscall.SIGTERM); err != nil {
				t.Fatalf("sending SIGTERM to mcpmux: %v", err)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			testutil.CheckNoChildren(t)
			cfg := writeConfig(t, map[string]any{"everything": everything(t), "memory": memory(t)})
			ctx := testContext(t, testTimeout)
			m := startMcpmux(t, ctx, cfg)
			waitForTools(t, ctx, m.client, "everything__", "memory__")
			m.procs.scan()
			seen := m.procs.descendants()
			if runtime.GOOS == "linux" && len(seen) < 2 {
				t.Fatalf("saw %d descendants of mcpmux, want at least its 2 upstreams:\n%s", len(seen), describe(seen))
			}

			stopped := time.Now()
			tt.stop(t, m)
			if !m.waitExit(60 * time.Second) {
				t.Fatalf("mcpmux still running 60s after %s", tt.name)
			}
			t.Logf("mcpmux exited %s after %s", time.Since(stopped).Round(time.Millisecond), tt.name)
			if m.waitErr != nil {
				t.Errorf("mcpmux ended with %s after %s, want exit status 0", exitStatus(m.waitErr), tt.name)
			}
			if runtime.GOOS != "linux" {
				return // no /proc to look for survivors in
			}
			if alive := m.procs.survivors(30 * time.Second); len(alive) > 0 {
				t.Errorf("processes started by mcpmux outlived it:\n%s", describe(alive))
			}
		})
	}
}

// TestNoProcessLeftAfterMcpmuxIsKilled kills mcpmux with SIGKILL, which it
// cannot catch, with upstreams of every shape found in the wild behind it:
// its keeper process must end them all, those that ignore SIGTERM or stdin
// closing and those that left the process tree included. Processes are
// counted by a marker in their environment, which every descendant
// inherits.
func TestNoProcessLeftAfterMcpmuxIsKilled(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("counting processes reads /proc, which is Linux's")
	}
	ts := testutil.TestServerPath(t)
	shapes := []struct {
		name  string
		entry map[string]any
		procs int // processes of the upstream, once it runs
		// orphan is the command line of a process that must have been
		// found as an orphan before the kill.
		orphan string
	}{
		{"direct child", map[string]any{"command": ts}, 1, ""},
		{"grandchild in its group", wrapped(`sleep 1000 & exec "$0"`, ts), 2, ""},
		{"wrapper that forks", wrapped(`"$0"; echo exited`, ts), 2, ""},
		{"wrapper that ignores SIGTERM", wrapped(`trap "" TERM; "$0"; sleep 1000`, ts), 2, ""},
		{"wrapper that ignores stdin closing", wrapped(`"$0"; sleep 1000`, ts), 2, ""},
		{"npm server behind a shell", wrapped(`"$0"; echo exited`, everythingBin(t)), 2, ""},
		{"grandchild that left the tree", wrapped(`(setsid sleep 1000 &); exec "$0"`, ts), 2, "sleep 1000"},
	}
	for _, tt := range shapes {
		t.Run(tt.name, func(t *testing.T) {
			testutil.CheckNoChildren(t)
			marker := markEnvironment(t)
			ctx := testContext(t, testTimeout)
			m := startMcpmux(t, ctx, writeConfig(t, map[string]any{"up": tt.entry}))
			waitForTools(t, ctx, m.client, "up__")
			// mcpmux, its keeper and the upstream's processes.
			running := waitMarked(t, marker, func(ps []testutil.Process) bool {
				return len(ps) >= tt.procs+2 && (tt.orphan == "" || slices.ContainsFunc(ps, func(p testutil.Process) bool { return p.Cmdline == tt.orphan }))
			})
			for _, p := range running {
				if tt.orphan != "" && p.Cmdline == tt.orphan {
					waitLog(t, m, fmt.Sprintf("holding the process group of an orphan pid=%d ", p.PID))
				}
			}
			for _, p := range running {
				if strings.Contains(p.Cmdline, "__keeper") {
					t.Logf("keeper: %s", rss(p.PID))
				}
			}
			if err := m.cmd.Process.Signal(syscall.SIGKILL); err != nil {
				t.Fatalf("sending SIGKILL to mcpmux: %v", err)
			}
			killed := time.Now()
			if !m.waitExit(60 * time.Second) {
				t.Fatal("mcpmux still running 60s after SIGKILL")
			}
			// How fast, measured: BenchmarkKilledMcpmuxLeavesNothing.
			left := waitMarked(t, marker, func(ps []testutil.Process) bool { return len(ps) == 0 })
			t.Logf("%d processes gone %s after SIGKILL of mcpmux", len(running), time.Since(killed).Round(time.Millisecond))
			if len(left) > 0 {
				t.Errorf("processes outlived a killed mcpmux:\n%s", describe(left))
			}
		})
	}
}

// wrapped returns a config entry that runs command behind sh -c script,
// in which command is $0.
func wrapped(script, command string) map[string]any {
	return map[string]any{"command": "sh", "args": []string{"-c", script, command}}
}

// markEnvironment sets a variable unique to the test in the environment
// that mcpmux and all it starts inherit, and returns it as NAME=value. At
// cleanup, marked processes still alive are killed.
func markEnvironment(tb testing.TB) string {
	tb.Helper()
	value := fmt.Sprintf("%d-%d", os.Getpid(), markers.Add(1))
	tb.Setenv("MCPMUX_TEST_MARKER", value)
	marker := "MCPMUX_TEST_MARKER=" + value
	tb.Cleanup(func() {
		for _, p := range testutil.Marked(marker) {
			_ = syscall.Kill(p.PID, syscall.SIGKILL)
		}
	})
	return marker
}

var markers atomic.Int64

// waitMarked waits until the processes marked with marker satisfy ok, and
// returns them; it fails tb after 30s.
func waitMarked(tb testing.TB, marker string, ok func([]testutil.Process) bool) []testutil.Process {
	tb.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		ps := testutil.Marked(marker)
		if ok(ps) {
			return ps
		}
		if time.Now().After(deadline) {
			tb.Errorf("marked processes never got there; now:\n%s", describe(ps))
			return ps
		}
		time.Sleep(scanInterval)
	}
}

// waitLog waits until mcpmux has logged a line containing text.
func waitLog(tb testing.TB, m *mcpmux, text string) {
	tb.Helper()
	testutil.WaitFor(tb, fmt.Sprintf("mcpmux to log %q", text), func() bool { return strings.Contains(m.stderr.String(), text) })
}

// rss describes the resident memory of pid.
func rss(pid int) string {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return err.Error()
	}
	for line := range strings.Lines(string(data)) {
		if strings.HasPrefix(line, "VmRSS:") {
			return strings.Join(strings.Fields(line), " ")
		}
	}
	return "no VmRSS"
}

// BenchmarkKilledMcpmuxLeavesNothing measures the time from SIGKILL of
// mcpmux to the last of its upstreams' processes gone, with an upstream
// behind a wrapper that ignores SIGTERM (which only SIGKILL ends, after
// the keeper's grace period) and a plain one (which SIGTERM ends).
func BenchmarkKilledMcpmuxLeavesNothing(b *testing.B) {
	if runtime.GOOS != "linux" {
		b.Skip("counting processes reads /proc, which is Linux's")
	}
	ts := testutil.TestServerPath(b)
	for _, tt := range []struct {
		name  string
		entry map[string]any
	}{
		{"obeys SIGTERM", wrapped(`"$0"; echo exited`, ts)},
		{"ignores SIGTERM", wrapped(`trap "" TERM; "$0"; sleep 1000`, ts)},
	} {
		b.Run(tt.name, func(b *testing.B) {
			var total time.Duration
			for range b.N {
				marker := markEnvironment(b)
				ctx := testContext(b, testTimeout)
				m := startMcpmux(b, ctx, writeConfig(b, map[string]any{"up": tt.entry}))
				waitForTools(b, ctx, m.client, "up__")
				waitMarked(b, marker, func(ps []testutil.Process) bool { return len(ps) >= 4 })
				killed := time.Now()
				_ = m.cmd.Process.Signal(syscall.SIGKILL)
				waitMarked(b, marker, func(ps []testutil.Process) bool { return len(ps) == 0 })
				total += time.Since(killed)
				m.stop()
			}
			b.ReportMetric(total.Seconds()/float64(b.N), "s-to-none")
		})
	}
}
