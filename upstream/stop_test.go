//go:build unix

package upstream_test

import (
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
