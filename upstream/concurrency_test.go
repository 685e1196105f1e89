package upstream_test

import (
	"context"
	"errors"
	"path/filepath"
	"testing"
	"time"

	"github.com/mcpmux/mcpmux/internal/testutil"
	"github.com/mcpmux/mcpmux/upstream"
)

// TestMaxConcurrencyQueuedTimeout: a request that waits for a slot of
// "maxConcurrency" and whose ctx ends there returns ctx's cause, and is
// never sent; the slot it waited for still serves the next request.
func TestMaxConcurrencyQueuedTimeout(t *testing.T) {
	testutil.CheckLeaks(t)
	log := filepath.Join(t.TempDir(), "q.log")
	srv := testServer(t, "q", "-log-file", log)
	srv.MaxConcurrency = 1
	r := supervise(t, srv, upstream.Options{})
	r.waitState(upstream.StateReady)

	hold, release := context.WithCancel(context.Background())
	held := make(chan error, 1)
	go func() { _, err := callCtx(hold, r.Supervisor, "hang", nil); held <- err }()
	testutil.WaitFor(t, "the hanging call at q", func() bool { return testutil.CountInFile(log, `"name":"hang"`) == 1 })

	timedOut := errors.New("the caller's timeout")
	ctx, cancel := context.WithTimeoutCause(context.Background(), 50*time.Millisecond, timedOut)
	defer cancel()
	if _, err := callCtx(ctx, r.Supervisor, "echo", map[string]any{"message": "queued"}); !errors.Is(err, timedOut) {
		t.Errorf("a queued call whose ctx ended = %v, want its cause", err)
	}
	if st := r.Status(); st.Queued != 0 {
		t.Errorf("Status().Queued = %d after the queued call ended, want 0", st.Queued)
	}
	release()
	<-held
	if got := r.mustCall("echo", map[string]any{"message": "next"}); got != "next" {
		t.Errorf("the next call = %q", got)
	}
	if n := testutil.CountInFile(log, `"message":"queued"`); n != 0 {
		t.Errorf("the call that timed out in the queue reached the upstream %d times", n)
	}
}
