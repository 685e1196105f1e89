package upstream_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mcpmux/mcpmux/internal/testutil"
	"github.com/mcpmux/mcpmux/registry"
	"github.com/mcpmux/mcpmux/upstream"
)

// stateLog records every status a supervisor reports through OnState.
type stateLog struct {
	mu   sync.Mutex
	seen []upstream.Status
}

func (l *stateLog) record(st upstream.Status) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.seen = append(l.seen, st)
}

func (l *stateLog) all() []upstream.Status {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]upstream.Status{}, l.seen...)
}

// states returns the sequence of states recorded, as names.
func (l *stateLog) states() string {
	var names []string
	for _, st := range l.all() {
		names = append(names, st.State.String())
	}
	return strings.Join(names, " ")
}

func TestKilledMidCallFailsFastAndRecovers(t *testing.T) {
	testutil.CheckLeaks(t)
	seen := filepath.Join(t.TempDir(), "seen.jsonl")
	var catalogues atomic.Int32
	states := &stateLog{}
	r := supervise(t, testServer(t, "a", "-log-file", seen), upstream.Options{
		OnCatalogue: func(string, *registry.Catalogue) { catalogues.Add(1) },
		OnState:     states.record,
	})
	r.waitState(upstream.StateReady)

	errc := make(chan error, 1)
	go func() {
		_, err := r.call("slow", map[string]any{"ms": 600000})
		errc <- err
	}()
	testutil.WaitFor(t, "the slow call to reach the upstream", func() bool { return testutil.CountInFile(seen, `"name":"slow"`) == 1 })
	pid := r.kill()
	// A lost connection, not the call's own end nor its timeout: it
	// failed when the child died.
	err := <-errc
	if !errors.Is(err, upstream.ErrConnectionLost) || !strings.Contains(err.Error(), `upstream "a"`) || !strings.Contains(err.Error(), "killed") {
		t.Errorf("call in flight = %v, want a lost connection naming the server and the kill", err)
	}

	testutil.WaitFor(t, "a restart", func() bool { st := r.Status(); return st.State == upstream.StateReady && st.Restarts == 1 })
	st := r.Status()
	if st.PID == 0 || st.PID == pid || !gone(pid) {
		t.Errorf("after restart PID = %d (killed %d, gone %v), want a new live child", st.PID, pid, gone(pid))
	}
	if !strings.Contains(st.LastError, "killed") || st.Attempt != 0 {
		t.Errorf("after restart LastError = %q, Attempt = %d; want the kill and 0", st.LastError, st.Attempt)
	}
	if got := r.mustCall("whoami", nil); got != "a" {
		t.Errorf("whoami after restart = %q", got)
	}
	if n := catalogues.Load(); n != 2 {
		t.Errorf("catalogue read %d times, want 2 (once per connection)", n)
	}
	if got, want := states.states(), "starting ready backoff starting ready"; got != want {
		t.Errorf("states = %q, want %q", got, want)
	}
}

func TestExitingUpstreamServesMostCalls(t *testing.T) {
	testutil.CheckLeaks(t)
	r := supervise(t, testServer(t, "a", "-exit-after", "2"), upstream.Options{})
	r.waitState(upstream.StateReady)
	succeeded := 0
	for i := range 10 {
		msg := fmt.Sprintf("call %d", i)
		got, err := r.call("echo", map[string]any{"message": msg})
		switch {
		case err == nil && got == msg:
			succeeded++
		case err == nil:
			t.Errorf("echo %q = %q", msg, got)
		case !strings.Contains(err.Error(), `upstream "a"`) || !strings.Contains(err.Error(), "exit status 4"):
			t.Errorf("echo %q = %v, want an error naming the server and the exit", msg, err)
		}
	}
	if succeeded < 6 {
		t.Errorf("%d of 10 calls succeeded, want most: reconnect on use", succeeded)
	}
	t.Logf("%d of 10 calls succeeded; %d restarts", succeeded, r.Status().Restarts)
}

func TestHungCallTimesOutAndIsCancelled(t *testing.T) {
	testutil.CheckLeaks(t)
	seen := filepath.Join(t.TempDir(), "seen.jsonl")
	r := supervise(t, testServer(t, "a", "-log-file", seen), upstream.Options{})
	r.waitState(upstream.StateReady)

	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	_, err := callCtx(ctx, r.Supervisor, "hang", nil)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("hung call = %v, want the deadline", err)
	}
	var id json.RawMessage
	for _, e := range readLog(t, seen) {
		if e.Method == "tools/call" && bytes.Contains(e.Params, []byte(`"name":"hang"`)) {
			id = e.ID
		}
	}
	if id == nil {
		t.Fatal("the upstream never saw the hung call")
	}
	testutil.WaitFor(t, "the upstream to see the call cancelled", func() bool {
		for _, e := range readLog(t, seen) {
			var p struct{ RequestID json.RawMessage }
			_ = json.Unmarshal(e.Params, &p)
			if e.Method == "notifications/cancelled" && bytes.Equal(p.RequestID, id) {
				return true
			}
		}
		return false
	})
	if got := r.mustCall("whoami", nil); got != "a" {
		t.Errorf("whoami after the timeout = %q", got)
	}
}

func TestRequestInBackoffReconnectsAtOnce(t *testing.T) {
	testutil.CheckLeaks(t)
	srv := testServer(t, "a")
	srv.Backoff = registry.Backoff{Initial: registry.Duration(time.Hour), Max: registry.Duration(time.Hour)}
	r := supervise(t, srv, upstream.Options{})
	r.waitState(upstream.StateReady)
	r.kill()
	r.waitState(upstream.StateBackoff)

	// Answered within the call's bound, far shorter than the backoff.
	if got := r.mustCall("whoami", nil); got != "a" {
		t.Errorf("whoami = %q", got)
	}
	if st := r.Status(); st.Restarts != 1 {
		t.Errorf("Restarts = %d, want 1", st.Restarts)
	}
	if r.log.Count("reconnecting on use") != 1 {
		t.Errorf("log does not say it reconnected on use:\n%s", r.log)
	}
}

func TestRequestInBackoffReportsFailedAttempt(t *testing.T) {
	testutil.CheckLeaks(t)
	srv := testServer(t, "bad", "-crash-on-start")
	srv.Backoff = registry.Backoff{Initial: registry.Duration(time.Hour), Max: registry.Duration(time.Hour)}
	r := supervise(t, srv, upstream.Options{})
	r.waitState(upstream.StateBackoff)

	// One attempt at once (the second), not a wait for the backoff.
	_, err := r.call("whoami", nil)
	for _, want := range []string{`upstream "bad"`, "exit status 2", "attempt 2 failed", "next attempt in"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("call = %v, want an error with %q", err, want)
		}
	}
	if !errors.Is(err, upstream.ErrUnavailable) {
		t.Errorf("call = %v, want ErrUnavailable", err)
	}
}

func TestCrashLoopBacksOffExponentially(t *testing.T) {
	testutil.CheckLeaks(t)
	states := &stateLog{}
	bad := supervise(t, testServer(t, "bad", "-crash-on-start"), upstream.Options{OnState: states.record})
	good := supervise(t, testServer(t, "good"), upstream.Options{})
	good.waitState(upstream.StateReady)
	// The healthy upstream answers throughout (the exact delays are
	// TestBackoffWaitsItsDelay's, in fake time).
	testutil.WaitFor(t, "ten failed attempts", func() bool {
		if got := good.mustCall("whoami", nil); got != "good" {
			t.Fatalf("good whoami = %q", got)
		}
		return bad.Status().Attempt >= 10
	})
	bad.stop()

	const initial, max = 20 * time.Millisecond, 200 * time.Millisecond
	attempts := 0
	for _, st := range states.all() {
		if st.State != upstream.StateBackoff {
			continue
		}
		attempts++
		if st.Attempt != attempts {
			t.Errorf("backoff %d has Attempt %d", attempts, st.Attempt)
		}
		interval := min(time.Duration(float64(initial)*math.Pow(1.5, float64(attempts-1))), max)
		lo, hi := interval/2-time.Millisecond, min(interval*3/2, max)+time.Millisecond
		if wait := st.NextRetry.Sub(st.Since); wait < lo || wait > hi {
			t.Errorf("attempt %d waits %s, want %s±50%% capped at %s", attempts, wait, interval, max)
		}
	}
	warned := 0
	for n := 1; n <= attempts; n++ {
		if n <= 3 || n&(n-1) == 0 {
			warned++
		}
	}
	if got := bad.log.Count("level=WARN", "upstream unavailable"); got != warned {
		t.Errorf("%d warnings for %d failures, want %d (rate-limited)", got, attempts, warned)
	}
	if got := bad.log.Count("upstream unavailable"); got != attempts {
		t.Errorf("%d log lines for %d failures", got, attempts)
	}
}

func TestGivesUpAfterMaxAttempts(t *testing.T) {
	testutil.CheckLeaks(t)
	srv := testServer(t, "bad", "-crash-on-start")
	srv.Backoff.MaxAttempts = 3
	r := supervise(t, srv, upstream.Options{})
	st := r.waitState(upstream.StateStopped)
	if st.Attempt != 3 || !strings.Contains(st.LastError, "exit status 2") {
		t.Errorf("stopped with Attempt %d, LastError %q; want 3 and the exit", st.Attempt, st.LastError)
	}
	_, err := r.call("whoami", nil)
	if !errors.Is(err, upstream.ErrUnavailable) || !strings.Contains(err.Error(), `upstream "bad"`) || !strings.Contains(err.Error(), "gave up after 3 failed attempts") {
		t.Errorf("call = %v, want an error saying it gave up", err)
	}
}

func TestGarbageIsLoggedAndSkipped(t *testing.T) {
	testutil.CheckLeaks(t)
	var notes atomic.Int32
	r := supervise(t, testServer(t, "a", "-garbage"), upstream.Options{
		OnNotification: func(string, string, json.RawMessage) { notes.Add(1) },
	})
	r.waitState(upstream.StateReady)
	for i := range 5 {
		msg := fmt.Sprintf("message %d", i)
		if got := r.mustCall("echo", map[string]any{"message": msg}); got != msg {
			t.Errorf("echo %q = %q", msg, got)
		}
	}
	for _, want := range []string{"this is not json", "{broken", "garbage before tools/call response"} {
		if r.log.Count("non-JSON", want) == 0 {
			t.Errorf("garbage line %q not logged", want)
		}
	}
	if n := notes.Load(); n != 0 {
		t.Errorf("%d notifications delivered, want none", n)
	}
}

func TestTenMegabyteMessagesPass(t *testing.T) {
	testutil.CheckLeaks(t)
	r := supervise(t, testServer(t, "a"), upstream.Options{})
	r.waitState(upstream.StateReady)
	// encoding/json takes seconds over 10 MB under the race detector.
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if got, err := callCtx(ctx, r.Supervisor, "big", map[string]any{"bytes": 10 << 20}); err != nil || len(got) != 10<<20 {
		t.Errorf("big = %d bytes, %v; want %d bytes", len(got), err, 10<<20)
	}
	pad := strings.Repeat("y", 10<<20) // add ignores it; the request is what is big
	if got, err := callCtx(ctx, r.Supervisor, "add", map[string]any{"a": 1, "b": 2, "pad": pad}); err != nil || got != "3" {
		t.Errorf("add with a 10 MB argument = %q, %v; want 3", got, err)
	}
}

func TestShutdownDuringBackoff(t *testing.T) {
	testutil.CheckLeaks(t)
	srv := testServer(t, "bad", "-crash-on-start")
	srv.Backoff = registry.Backoff{Initial: registry.Duration(time.Hour), Max: registry.Duration(time.Hour)}
	r := supervise(t, srv, upstream.Options{})
	r.waitState(upstream.StateBackoff)
	r.stop() // fails the test if it waits out the backoff
	if st := r.Status(); st.State != upstream.StateStopped || st.PID != 0 {
		t.Errorf("after Run: %+v, want stopped without a child", st)
	}
}

func TestShutdownDuringHungInitialize(t *testing.T) {
	testutil.CheckLeaks(t)
	srv := testServer(t, "hung", "-hang-initialize")
	srv.StartTimeout = registry.Duration(time.Hour)
	r := supervise(t, srv, upstream.Options{StopGrace: -1}) // mcpmux's own grace periods
	var pid int
	testutil.WaitFor(t, "the child to start", func() bool {
		st := r.Status()
		pid = st.PID
		return st.State == upstream.StateStarting && pid != 0
	})
	r.stop() // fails the test if it waits out the start timeout
	if !gone(pid) {
		t.Errorf("child %d is still running", pid)
	}
}

func TestShutdownFailsCallsInFlight(t *testing.T) {
	testutil.CheckLeaks(t)
	seen := filepath.Join(t.TempDir(), "seen.jsonl")
	r := supervise(t, testServer(t, "a", "-log-file", seen), upstream.Options{})
	r.waitState(upstream.StateReady)
	errc := make(chan error, 1)
	go func() {
		_, err := r.call("slow", map[string]any{"ms": 600000})
		errc <- err
	}()
	testutil.WaitFor(t, "the slow call to reach the upstream", func() bool { return testutil.CountInFile(seen, `"name":"slow"`) == 1 })
	r.stop() // fails the test if it waits for the call
	if err := <-errc; err == nil || !strings.Contains(err.Error(), `upstream "a"`) || !strings.Contains(err.Error(), "shutting down") {
		t.Errorf("call in flight = %v, want an error saying mcpmux is shutting down", err)
	}
}

// logEntry is one message the test server recorded with -log-file.
type logEntry struct {
	Method string
	ID     json.RawMessage
	Params json.RawMessage
}

func readLog(tb testing.TB, path string) []logEntry {
	tb.Helper()
	f, err := os.Open(path)
	if err != nil {
		tb.Fatal(err)
	}
	defer f.Close()
	var out []logEntry
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 64<<20)
	for sc.Scan() {
		var e logEntry
		if json.Unmarshal(sc.Bytes(), &e) == nil {
			out = append(out, e)
		}
	}
	return out
}

// A server that adds tools as soon as it has answered the first tools/list
// (server-everything adds some once it is told initialized) has them in the
// first catalogue, which also records the capabilities it was read under.
func TestFirstCatalogueHasToolsAddedWhileListing(t *testing.T) {
	testutil.CheckLeaks(t)
	cats := make(chan *registry.Catalogue, 10)
	supervise(t, testServer(t, "late", "-late-tools", "2", "-roots-tool"), upstream.Options{
		ClientCapabilities: json.RawMessage(`{"roots":{"listChanged":true}}`),
		OnCatalogue:        func(_ string, c *registry.Catalogue) { cats <- c },
	})
	first := <-cats
	var names []string
	for _, raw := range first.Tools {
		var tool struct{ Name string }
		_ = json.Unmarshal(raw, &tool)
		names = append(names, tool.Name)
	}
	if !slices.Contains(names, "late_0001") || !slices.Contains(names, "roots_tool") {
		t.Errorf("first catalogue lists %q, want the late tools and roots_tool", names)
	}
	if got := string(first.ClientCapabilities); got != `{"roots":{"listChanged":true}}` {
		t.Errorf("first catalogue's ClientCapabilities = %s, want the declared ones", got)
	}
}
