package upstream

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/mcpmux/mcpmux/registry"
)

// The supervisor's waits (backoff, health checks, idle stop) run on the
// supervisor's clock. These tests run them in a testing/synctest bubble,
// against a fake remote upstream on an in-memory network, so that every
// wait takes exactly the bubble's time it should, however slow the
// machine.

// statusLog records every status a supervisor reports, in order.
type statusLog struct {
	mu  sync.Mutex
	all []Status
}

func (l *statusLog) record(st Status) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.all = append(l.all, st)
}

func (l *statusLog) statuses() []Status {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]Status(nil), l.all...)
}

// awaitStatus waits until s's status satisfies cond, and returns it; it
// fails the test if an hour of the bubble's time passes first.
func awaitStatus(t *testing.T, s *Supervisor, what string, cond func(Status) bool) Status {
	t.Helper()
	deadline := time.After(time.Hour)
	for {
		s.mu.Lock()
		st, changed := s.status, s.changed
		s.mu.Unlock()
		if cond(st) {
			return st
		}
		select {
		case <-changed:
		case <-deadline:
			t.Fatalf("no %s within an hour; status %+v", what, st)
		}
	}
}

// TestBackoffWaitsItsDelay: an upstream that refuses every connection is
// tried again exactly when its status said it would be, after delays that
// grow by half with jitter up to the maximum.
func TestBackoffWaitsItsDelay(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := &fake{kind: fakeStreamable, status: http.StatusServiceUnavailable}
		dial, srv := f.serve(t)
		const initial, maxDelay = time.Second, 8 * time.Second
		srv.Backoff = registry.Backoff{Initial: registry.Duration(initial), Max: registry.Duration(maxDelay)}
		log := &statusLog{}
		s, stop := superviseFake(t, srv, dial, &recorded{}, Options{OnState: log.record})
		const attempts = 8
		awaitStatus(t, s, "eighth failure", func(st Status) bool { return st.State == StateBackoff && st.Attempt == attempts })
		stop()

		var backoffs, retries []Status
		for _, st := range log.statuses() {
			switch {
			case st.State == StateBackoff:
				backoffs = append(backoffs, st)
			case st.State == StateStarting && len(backoffs) > len(retries):
				retries = append(retries, st)
			}
		}
		if len(backoffs) != attempts || len(retries) != attempts-1 {
			t.Fatalf("%d backoffs and %d retries, want %d and %d", len(backoffs), len(retries), attempts, attempts-1)
		}
		interval := initial
		for i, b := range backoffs {
			lo, hi := interval/2, min(interval*3/2, maxDelay)
			if wait := b.NextRetry.Sub(b.Since); wait < lo || wait > hi {
				t.Errorf("attempt %d waits %s, want %s±50%% capped at %s", i+1, wait, interval, maxDelay)
			}
			if i < len(retries) && !retries[i].Since.Equal(b.NextRetry) {
				t.Errorf("attempt %d started %s after its NextRetry", i+2, retries[i].Since.Sub(b.NextRetry))
			}
			interval = min(interval*3/2, maxDelay)
		}
		if n := len(f.received()); n != attempts {
			t.Errorf("the server got %d requests, want one per attempt (%d)", n, attempts)
		}
	})
}

// TestHealthCheckDropsUnansweringRemote: once the server stops answering,
// the connection is dropped at the third failed ping in a row, three
// intervals after the last good one, and mcpmux backs off.
func TestHealthCheckDropsUnansweringRemote(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := &fake{kind: fakeStreamable}
		dial, srv := f.serve(t)
		srv.HealthCheck = registry.HealthCheck{Interval: registry.Duration(30 * time.Second), Threshold: 3}
		srv.Backoff = registry.Backoff{Initial: registry.Duration(time.Hour), Max: registry.Duration(time.Hour)}
		s, _ := superviseFake(t, srv, dial, &recorded{}, Options{})
		ready := awaitStatus(t, s, "ready upstream", func(st Status) bool { return st.State == StateReady })
		time.Sleep(45 * time.Second) // the ping at 30s is answered
		synctest.Wait()
		f.update(func() { f.status = http.StatusServiceUnavailable })
		st := awaitStatus(t, s, "backoff", func(st Status) bool { return st.State == StateBackoff })
		if d := st.Since.Sub(ready.Since); d != 120*time.Second {
			t.Errorf("dropped %s after it was ready, want 120s (pings at 60s, 90s and 120s fail)", d)
		}
		if !strings.Contains(st.LastError, "health check failed 3 times in a row") {
			t.Errorf("LastError = %q, want the failed health checks", st.LastError)
		}
	})
}

// TestIdleStopAfterIdleTimeout: a lazy upstream is started by its first
// request and stopped exactly its idle timeout after the last one ended;
// a request in flight keeps it for as long as it runs.
func TestIdleStopAfterIdleTimeout(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := &fake{kind: fakeStreamable, tools: map[string]fakeTool{
			"echo": func(context.Context, *fake, *fakeStream, json.RawMessage) string { return `{}` },
			"slow": func(ctx context.Context, _ *fake, _ *fakeStream, _ json.RawMessage) string {
				select {
				case <-time.After(2 * time.Minute):
				case <-ctx.Done():
				}
				return `{}`
			},
		}}
		dial, srv := f.serve(t)
		const idleAfter = time.Minute
		s, _ := superviseFake(t, srv, dial, &recorded{}, Options{Lazy: true, IdleTimeout: idleAfter})
		awaitStatus(t, s, "idle upstream", func(st Status) bool { return st.State == StateIdle })

		callTool(t, s, "echo")
		returned := time.Now()
		st := awaitStatus(t, s, "idle stop", func(st Status) bool { return st.State == StateIdle })
		if d := st.Since.Sub(returned); d != idleAfter {
			t.Errorf("stopped %s after the last request, want %s", d, idleAfter)
		}

		started := time.Now()
		callTool(t, s, "slow")
		if d := time.Since(started); d != 2*time.Minute {
			t.Fatalf("the slow call took %s, want 2m", d)
		}
		returned = time.Now()
		st = awaitStatus(t, s, "idle stop after the slow call", func(st Status) bool { return st.State == StateIdle })
		if d := st.Since.Sub(returned); d != idleAfter {
			t.Errorf("stopped %s after the slow call ended, want %s", d, idleAfter)
		}
		if st.Restarts != 0 || st.Attempt != 0 {
			t.Errorf("idle stops counted as failures: %+v", st)
		}
	})
}
