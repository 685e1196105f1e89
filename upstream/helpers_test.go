package upstream_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"os"
	"testing"
	"time"

	"github.com/mcpmux/mcpmux/internal/testutil"
	"github.com/mcpmux/mcpmux/registry"
	"github.com/mcpmux/mcpmux/upstream"
)

// testServer returns the configuration of a test server named name, run
// with args, that backs off from 20ms to 200ms.
func testServer(tb testing.TB, name string, args ...string) *registry.Server {
	tb.Helper()
	return &registry.Server{
		Name:    name,
		Command: testutil.TestServerPath(tb),
		Args:    append([]string{"-name", name}, args...),
		Backoff: registry.Backoff{Initial: ms(20), Max: ms(200)},
	}
}

func ms(n int) registry.Duration { return registry.Duration(time.Duration(n) * time.Millisecond) }

// running is a Supervisor whose Run goroutine belongs to a test.
type running struct {
	*upstream.Supervisor
	tb     testing.TB
	log    *testutil.SyncBuffer
	cancel context.CancelFunc
	done   chan struct{}
}

// supervise runs a Supervisor for srv until the test ends, then stops it
// and fails the test if Run does not return (see stop). A nil Logger in
// opts logs to a buffer, shown if the test fails; StopGrace defaults to
// 200ms.
func supervise(tb testing.TB, srv *registry.Server, opts upstream.Options) *running {
	tb.Helper()
	r := &running{tb: tb, log: &testutil.SyncBuffer{}, done: make(chan struct{})}
	if opts.Logger == nil {
		opts.Logger = bufferLogger(r.log)
	}
	if opts.StopGrace == 0 {
		opts.StopGrace = 200 * time.Millisecond
	}
	r.Supervisor = upstream.New(srv, opts)
	ctx, cancel := context.WithCancel(context.Background())
	r.cancel = cancel
	go func() {
		defer close(r.done)
		_ = r.Run(ctx)
	}()
	tb.Cleanup(func() {
		r.stop()
		if tb.Failed() {
			tb.Logf("log of %s:\n%s", srv.Name, r.log)
		}
	})
	return r
}

// stop cancels Run and returns how long it took to return. It may be
// called more than once.
func (r *running) stop() time.Duration {
	start := time.Now()
	r.cancel()
	select {
	case <-r.done:
	case <-time.After(30 * time.Second):
		r.tb.Fatal("Run did not return within 30s of cancel")
	}
	return time.Since(start)
}

// waitState waits until the supervisor is in state and returns its status.
func (r *running) waitState(state upstream.State) upstream.Status {
	r.tb.Helper()
	var st upstream.Status
	testutil.WaitFor(r.tb, r.Name()+" to be "+state.String(), func() bool {
		st = r.Status()
		return st.State == state
	})
	return st
}

// call calls a tool, within 60s (a hang guard), and returns the text of
// its first content block.
func (r *running) call(tool string, args map[string]any) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	return callCtx(ctx, r.Supervisor, tool, args)
}

// mustCall is call that fails the test on error.
func (r *running) mustCall(tool string, args map[string]any) string {
	r.tb.Helper()
	text, err := r.call(tool, args)
	if err != nil {
		r.tb.Fatalf("%s: calling %s: %v", r.Name(), tool, err)
	}
	return text
}

func callCtx(ctx context.Context, s *upstream.Supervisor, tool string, args map[string]any) (string, error) {
	params, err := json.Marshal(map[string]any{"name": tool, "arguments": args})
	if err != nil {
		return "", err
	}
	raw, err := s.Request(ctx, "tools/call", params)
	if err != nil {
		return "", err
	}
	var res struct {
		Content []struct{ Text string }
	}
	if err := json.Unmarshal(raw, &res); err != nil || len(res.Content) == 0 {
		return "", errors.New("tool result without text content: " + string(raw))
	}
	return res.Content[0].Text, nil
}

// kill sends SIGKILL to the upstream's live child and returns its pid.
func (r *running) kill() int {
	r.tb.Helper()
	pid := r.Status().PID
	if pid == 0 {
		r.tb.Fatalf("%s has no live child to kill", r.Name())
	}
	if err := testutil.Kill(pid); err != nil {
		r.tb.Fatalf("killing %s (pid %d): %v", r.Name(), pid, err)
	}
	return pid
}

// gone reports whether no process has pid any more.
func gone(pid int) bool {
	return !testutil.Alive(pid)
}

// bufferLogger logs to b at debug level, and to stderr with -v.
func bufferLogger(b *testutil.SyncBuffer) *slog.Logger {
	var w io.Writer = b
	if testing.Verbose() {
		w = io.MultiWriter(b, os.Stderr)
	}
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: slog.LevelDebug}))
}
