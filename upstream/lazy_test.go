package upstream_test

import (
	"strings"
	"testing"
	"time"

	"github.com/mcpmux/mcpmux/internal/testutil"
	"github.com/mcpmux/mcpmux/registry"
	"github.com/mcpmux/mcpmux/upstream"
)

func TestLazyStartsOnFirstUseAndStopsWhenIdle(t *testing.T) {
	testutil.CheckLeaks(t)
	states := &stateLog{}
	r := supervise(t, testServer(t, "a"), upstream.Options{Lazy: true, IdleTimeout: 200 * time.Millisecond, OnState: states.record})
	if st := r.Status(); st.State != upstream.StateIdle || st.PID != 0 {
		t.Fatalf("lazy upstream before use: %+v, want idle without a child", st)
	}

	used := time.Now()
	if got := r.mustCall("whoami", nil); got != "a" {
		t.Errorf("whoami = %q", got)
	}
	if first := states.all()[0]; first.State != upstream.StateStarting || first.Since.Before(used) {
		t.Errorf("first change is %s at %s, want starting after the first use at %s", first.State, first.Since, used)
	}
	st := r.Status()
	if st.State != upstream.StateReady || st.PID == 0 {
		t.Fatalf("after first use: %+v, want ready with a child", st)
	}
	pid, returned := st.PID, time.Now()

	st = r.waitState(upstream.StateIdle)
	if idle := time.Since(returned); idle < 190*time.Millisecond {
		t.Errorf("stopped %s after the last use, want 200ms", idle)
	}
	if !gone(pid) || st.PID != 0 {
		t.Errorf("idle with PID %d; child %d gone: %v", st.PID, pid, gone(pid))
	}
	if st.Attempt != 0 || st.LastError != "" || st.Restarts != 0 {
		t.Errorf("idle stop counted as a failure: %+v", st)
	}

	if got := r.mustCall("whoami", nil); got != "a" {
		t.Errorf("whoami after idle = %q", got)
	}
	if st := r.Status(); st.State != upstream.StateReady || st.PID == pid || st.Restarts != 0 {
		t.Errorf("after second use: %+v, want ready with a new child and no restart", st)
	}
	if got, want := states.states(), "starting ready idle starting ready"; got != want {
		t.Errorf("states = %q, want %q", got, want)
	}
}

func TestLazyKeepsConnectionInUse(t *testing.T) {
	testutil.CheckLeaks(t)
	states := &stateLog{}
	r := supervise(t, testServer(t, "a"), upstream.Options{Lazy: true, IdleTimeout: 100 * time.Millisecond, OnState: states.record})
	if got := r.mustCall("slow", map[string]any{"ms": 500}); got != "slept 500 ms" {
		t.Errorf("slow = %q", got)
	}
	if got, want := states.states(), "starting ready"; !strings.HasPrefix(got, want) || strings.Count(got, "ready") != 1 {
		t.Errorf("states = %q, want the connection kept while the call ran", got)
	}
}

func TestLazyStartFailureIsReported(t *testing.T) {
	testutil.CheckLeaks(t)
	srv := testServer(t, "bad", "-crash-on-start")
	srv.Backoff = registry.Backoff{Initial: registry.Duration(time.Hour), Max: registry.Duration(time.Hour)}
	r := supervise(t, srv, upstream.Options{Lazy: true})
	_, err := r.call("whoami", nil) // one attempt, not a wait for the backoff
	if err == nil || !strings.Contains(err.Error(), `upstream "bad"`) || !strings.Contains(err.Error(), "attempt 1 failed") {
		t.Errorf("call = %v, want the failed start", err)
	}
}
