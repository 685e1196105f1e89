package upstream_test

import (
	"errors"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mcpmux/mcpmux/internal/testutil"
	"github.com/mcpmux/mcpmux/registry"
	"github.com/mcpmux/mcpmux/upstream"
)

func TestHealthCheckRestartsFrozenUpstream(t *testing.T) {
	testutil.CheckLeaks(t)
	seen := filepath.Join(t.TempDir(), "seen.jsonl")
	srv := testServer(t, "a", "-freeze-after", "1", "-log-file", seen)
	// Each ping may take its interval: long enough that a loaded machine
	// answers the pings before the freeze in time.
	srv.HealthCheck = registry.HealthCheck{Interval: ms(250), Threshold: 2}
	r := supervise(t, srv, upstream.Options{})
	pid := r.waitState(upstream.StateReady).PID
	hung := make(chan error, 1)
	go func() {
		_, err := r.call("hang", nil)
		hung <- err
	}()
	testutil.WaitFor(t, "the hung call to reach the upstream", func() bool { return testutil.CountInFile(seen, `"name":"hang"`) == 1 })
	r.mustCall("echo", map[string]any{"message": "freeze now"})

	err := <-hung // by the health check, long before the call's own bound
	if !errors.Is(err, upstream.ErrConnectionLost) || !strings.Contains(err.Error(), "health check failed 2 times in a row") {
		t.Errorf("call in flight = %v, want the failed health check", err)
	}
	testutil.WaitFor(t, "a restart", func() bool { st := r.Status(); return st.State == upstream.StateReady && st.Restarts == 1 })
	if !gone(pid) {
		t.Errorf("the frozen child %d is still running", pid)
	}
	if st := r.Status(); !strings.Contains(st.LastError, "no answer within 250ms") {
		t.Errorf("LastError = %q, want the unanswered ping", st.LastError)
	}
	if got := r.mustCall("whoami", nil); got != "a" {
		t.Errorf("whoami after restart = %q", got)
	}
	if r.log.Count("level=WARN", "health check failed", "failures=1") == 0 {
		t.Errorf("the first failed ping was not logged:\n%s", r.log)
	}
}

func TestPingErrorCountsAsAlive(t *testing.T) {
	testutil.CheckLeaks(t)
	seen := filepath.Join(t.TempDir(), "seen.jsonl")
	srv := testServer(t, "a", "-no-ping", "-log-file", seen)
	// Pings answered with an error, more than the threshold of them; each
	// may take its interval to be answered, which a loaded machine needs.
	srv.HealthCheck = registry.HealthCheck{Interval: ms(250), Threshold: 2}
	r := supervise(t, srv, upstream.Options{})
	pid := r.waitState(upstream.StateReady).PID
	testutil.WaitFor(t, "four pings", func() bool { return testutil.CountInFile(seen, `"method":"ping"`) >= 4 })
	if st := r.Status(); st.State != upstream.StateReady || st.Restarts != 0 || st.PID != pid {
		t.Errorf("after pings answered with errors: %+v, want the first connection still ready", st)
	}
}
