//go:build unix

package upstream_test

import (
	"fmt"
	"os"
	"runtime"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/mcpmux/mcpmux/internal/testutil"
	"github.com/mcpmux/mcpmux/registry"
	"github.com/mcpmux/mcpmux/upstream"
)

// A host that ends mcpmux's process tree signals every process in it at
// once: a child ended by SIGTERM just before mcpmux stops was stopped with
// it, and its end is history, not the last error. One ended long before is
// an error. Neither error quotes what the child wrote to stderr before the
// signal: that is leftover text, not why it ended.
func TestChildSignalledBeforeStop(t *testing.T) {
	tests := []struct {
		name    string
		grace   time.Duration // how long before the stop the signal counts as part of it
		wantErr bool
	}{
		{"as mcpmux stops", time.Hour, false},
		{"long before", 0, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			testutil.CheckLeaks(t)
			defer upstream.SetStopSignalGrace(tt.grace)()
			srv := testServer(t, "a", "-stderr-chatter")
			srv.Backoff = registry.Backoff{Initial: registry.Duration(time.Hour), Max: registry.Duration(time.Hour)}
			r := supervise(t, srv, upstream.Options{})
			pid := r.waitState(upstream.StateReady).PID
			r.mustCall("echo", map[string]any{"message": "hi"}) // the child logs it to stderr
			if err := syscall.Kill(pid, syscall.SIGTERM); err != nil {
				t.Fatal(err)
			}
			st := r.waitState(upstream.StateBackoff)
			if want := "process exited (signal: terminated)"; st.LastError != want {
				t.Errorf("LastError after SIGTERM = %q, want %q, without the child's stderr", st.LastError, want)
			}
			r.stop()
			st = r.Status()
			if st.State != upstream.StateStopped || (st.LastError != "") != tt.wantErr {
				t.Errorf("status after the stop = %+v; want stopped, with an error: %t", st, tt.wantErr)
			}
		})
	}
}

// A child that crashes says why on stderr just before it exits: its last
// line is part of the error.
func TestCrashQuotesLastWords(t *testing.T) {
	testutil.CheckLeaks(t)
	srv := testServer(t, "a", "-stderr-chatter")
	srv.Backoff = registry.Backoff{Initial: registry.Duration(time.Hour), Max: registry.Duration(time.Hour)}
	r := supervise(t, srv, upstream.Options{})
	r.waitState(upstream.StateReady)
	if _, err := r.call("crash", map[string]any{"stderr": "fatal: out of cheese"}); err == nil {
		t.Fatal("crash returned, want an error")
	}
	st := r.waitState(upstream.StateBackoff)
	if want := "process exited (exit status 3): fatal: out of cheese"; st.LastError != want {
		t.Errorf("LastError of a crash = %q, want %q", st.LastError, want)
	}
}

// heldGroups is a Groups that remembers which groups it holds.
type heldGroups struct {
	mu   sync.Mutex
	held map[int]int
}

func (g *heldGroups) Add(pgid int)    { g.mu.Lock(); g.held[pgid]++; g.mu.Unlock() }
func (g *heldGroups) Remove(pgid int) { g.mu.Lock(); g.held[pgid]--; g.mu.Unlock() }
func (g *heldGroups) holds(pgid int) bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.held[pgid] > 0
}

// A mcpmux that exits hands its children over (HandOff): Run returns as
// soon as the child's stdin is closed, however long the child would take
// to stop, and its process group stays with Groups, which ends it. Here
// the server exits on its stdin's end and its wrapper lives on; a stop
// that waited would take an hour (StopGrace).
func TestHandOffLeavesChildToGroups(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("counting processes reads /proc, which is Linux's")
	}
	testutil.CheckLeaks(t)
	marker := fmt.Sprintf("MCPMUX_HANDOFF_TEST=%d", os.Getpid())
	name, value, _ := strings.Cut(marker, "=")
	srv := &registry.Server{Name: "a", Command: "sh", Args: []string{"-c", `"$0"; sleep 1000`, testutil.TestServerPath(t)},
		Env: map[string]string{name: value}}
	groups := &heldGroups{held: map[int]int{}}
	r := supervise(t, srv, upstream.Options{Groups: groups, StopGrace: time.Hour})
	pgid := r.waitState(upstream.StateReady).PID
	t.Cleanup(func() {
		_ = syscall.Kill(-pgid, syscall.SIGKILL)
		testutil.WaitFor(t, "the wrapper reaped and its group let go", func() bool { return !groups.holds(pgid) })
	})

	r.HandOff()
	r.stop() // fails the test if Run does not return
	testutil.WaitFor(t, "the server gone on its stdin's end, the wrapper sleeping", func() bool {
		ps := testutil.Marked(marker)
		return len(ps) == 2 && slices.ContainsFunc(ps, func(p testutil.Process) bool { return p.Cmdline == "sleep 1000" })
	})
	if !groups.holds(pgid) {
		t.Errorf("group %d let go while its wrapper runs; want it held for the keeper", pgid)
	}
	if st := r.Status(); st.State != upstream.StateStopped || st.PID != 0 {
		t.Errorf("status after the hand-off = %+v, want stopped without a pid", st)
	}
}
