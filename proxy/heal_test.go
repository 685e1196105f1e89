package proxy_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mark3labs/mcp-go/mcp"

	"github.com/mcpmux/mcpmux/internal/clock"
	"github.com/mcpmux/mcpmux/internal/testutil"
	"github.com/mcpmux/mcpmux/upstream"
)

// healing returns a config entry for the test server with args that
// reconnects after 20ms to 200ms.
func healing(tb testing.TB, args ...string) map[string]any {
	e := testutil.TestServer(tb, args...)
	e["backoff"] = map[string]any{"initial": "20ms", "max": "200ms"}
	return e
}

// listChanges counts the tools/list_changed notifications the client gets.
func listChanges(m *mux) *atomic.Int32 {
	var n atomic.Int32
	m.client.OnNotification(func(note mcp.JSONRPCNotification) {
		if note.Method == "notifications/tools/list_changed" {
			n.Add(1)
		}
	})
	return &n
}

// debounceClock is the system clock, except that the proxy's list-changed
// debounce (its only AfterFunc) fires when a test calls flush, not on its
// own: a test can then tell that no notification is on its way.
type debounceClock struct {
	clock.Real

	mu      sync.Mutex
	pending map[*debounceTimer]bool
}

type debounceTimer struct {
	c *debounceClock
	f func()
}

func (c *debounceClock) AfterFunc(_ time.Duration, f func()) clock.Timer {
	t := &debounceTimer{c: c, f: f}
	t.Reset(0)
	return t
}

func (t *debounceTimer) Stop() bool {
	t.c.mu.Lock()
	defer t.c.mu.Unlock()
	was := t.c.pending[t]
	delete(t.c.pending, t)
	return was
}

func (t *debounceTimer) Reset(time.Duration) bool {
	t.c.mu.Lock()
	defer t.c.mu.Unlock()
	if t.c.pending == nil {
		t.c.pending = map[*debounceTimer]bool{}
	}
	was := t.c.pending[t]
	t.c.pending[t] = true
	return was
}

// flush fires every pending timer, now, on this goroutine.
func (c *debounceClock) flush() {
	c.mu.Lock()
	var due []*debounceTimer
	for t := range c.pending {
		due = append(due, t)
	}
	clear(c.pending)
	c.mu.Unlock()
	for _, t := range due {
		t.f()
	}
}

// startHealing starts mcpmux with servers on a debounceClock.
func startHealing(tb testing.TB, servers map[string]any) (*mux, *debounceClock) {
	tb.Helper()
	c := &debounceClock{}
	return newMux(tb, servers, muxOptions{protocol: mcp.LATEST_LEGACY_PROTOCOL_VERSION, clock: c}), c
}

// settle sends the client every list change the proxy holds back, then
// makes a round trip, which the client reads after them: once it returns,
// every notification the catalogues so far call for has arrived, and no
// other is on its way.
func settle(m *mux, c *debounceClock) {
	c.flush()
	m.tools()
}

// killUpstream sends SIGKILL to the live child of sup and returns its pid.
func killUpstream(tb testing.TB, sup *upstream.Supervisor) int {
	tb.Helper()
	pid := sup.Status().PID
	if pid == 0 {
		tb.Fatalf("upstream %q has no live child", sup.Name())
	}
	if err := testutil.Kill(pid); err != nil {
		tb.Fatalf("killing %q (pid %d): %v", sup.Name(), pid, err)
	}
	return pid
}

// waitRestarted waits until sup is ready after restarts restarts.
func waitRestarted(tb testing.TB, sup *upstream.Supervisor, restarts int) {
	tb.Helper()
	testutil.WaitFor(tb, fmt.Sprintf("%s to restart %d times", sup.Name(), restarts), func() bool {
		st := sup.Status()
		return st.State == upstream.StateReady && st.Restarts >= restarts
	})
}

func TestKilledUpstreamFailsCallAndComesBackUnchanged(t *testing.T) {
	testutil.CheckLeaks(t)
	seen := filepath.Join(t.TempDir(), "seen.jsonl")
	m, debounce := startHealing(t, map[string]any{"a": healing(t, "-name", "a", "-log-file", seen), "b": healing(t, "-name", "b")})
	before := m.waitTools("a__slow", "b__echo")
	changes := listChanges(m)
	settle(m, debounce) // the start-up's own list changes
	base := changes.Load()

	type result struct {
		rpcErr *mcp.JSONRPCErrorDetails
		err    error
	}
	done := make(chan result, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_, rpcErr, err := m.request(ctx, "tools/call", map[string]any{"name": "a__slow", "arguments": map[string]any{"ms": 10000}})
		done <- result{rpcErr, err}
	}()
	testutil.WaitFor(t, "the slow call to reach the upstream", func() bool { return testutil.CountInFile(seen, `"name":"slow"`) == 1 })
	killUpstream(t, m.sups["a"])
	killed := time.Now()
	res := <-done
	if took := time.Since(killed); took > time.Second {
		t.Errorf("the call in flight failed %s after the kill, want under 1s", took)
	}
	if res.err != nil || res.rpcErr == nil || !strings.Contains(res.rpcErr.Message, `upstream "a"`) || !strings.Contains(res.rpcErr.Message, "killed") {
		t.Fatalf("call in flight = %v %+v, want an error naming the server and the kill", res.err, res.rpcErr)
	}

	waitRestarted(t, m.sups["a"], 1)
	m.waitCatalogues("a", 2) // the restarted child's
	if got := text(t, m.call("a__whoami", nil)); got != "a" {
		t.Errorf("a__whoami after restart = %q", got)
	}
	after := m.tools()
	for name, raw := range before {
		if !bytes.Equal(after[name], raw) {
			t.Errorf("tool %s differs after the restart:\n got %s\nwant %s", name, truncate(after[name]), truncate(raw))
		}
	}
	settle(m, debounce)
	if n := changes.Load() - base; n != 0 {
		t.Errorf("got %d tools/list_changed after a restart with the same catalogue, want none", n)
	}
}

func TestRestartWithChangedCatalogueNotifiesOnce(t *testing.T) {
	testutil.CheckLeaks(t)
	m, debounce := startHealing(t, map[string]any{"a": healing(t, "-name", "a"), "b": healing(t, "-name", "b")})
	m.waitTools("a__list_changed", "b__echo")
	changes := listChanges(m)
	settle(m, debounce)
	m.call("a__list_changed", nil) // the running upstream gains added_1
	m.waitCatalogues("a", 2)
	before := m.waitTools("a__added_1")
	settle(m, debounce)
	base := changes.Load()
	if base == 0 {
		t.Fatal("no tools/list_changed for the upstream's own list change")
	}

	killUpstream(t, m.sups["a"]) // the new child does not have added_1
	waitRestarted(t, m.sups["a"], 1)
	m.waitCatalogues("a", 3)
	settle(m, debounce)
	if n := changes.Load() - base; n != 1 {
		t.Errorf("got %d tools/list_changed after a restart that changed the catalogue, want 1", n)
	}
	after := m.tools()
	if _, ok := after["a__added_1"]; ok {
		t.Error("a__added_1 still listed after the restart")
	}
	for name, raw := range before {
		if name != "a__added_1" && !bytes.Equal(after[name], raw) {
			t.Errorf("unchanged tool %s differs after the restart", name)
		}
	}
}

func TestThousandCallsWhileUpstreamsDie(t *testing.T) {
	testutil.CheckLeaks(t)
	servers := map[string]any{}
	var names, want []string
	for i := range 10 {
		name := fmt.Sprintf("u%d", i)
		servers[name] = healing(t, "-name", name)
		names = append(names, name)
		want = append(want, name+"__whoami")
	}
	m := startMux(t, servers)
	m.waitTools(want...)
	victims := names[:3]

	var wg sync.WaitGroup
	var succeeded, failed atomic.Int32
	for i := range 1000 {
		server := names[i%len(names)]
		wg.Go(func() {
			failure := m.checkedCall(i, server)
			switch {
			case failure == "":
				succeeded.Add(1)
			case slices.Contains(victims, server):
				failed.Add(1)
			default:
				t.Errorf("call %d to %s, which was never killed, failed: %s", i, server, failure)
			}
		})
	}
	killer := make(chan struct{})
	go func() {
		defer close(killer)
		killTwice(t, m, victims)
	}()
	finished := make(chan struct{})
	go func() {
		wg.Wait()
		close(finished)
	}()
	select {
	case <-finished:
	case <-time.After(60 * time.Second):
		t.Fatal("calls still running after 60s")
	}
	<-killer
	t.Logf("%d calls succeeded, %d failed with a clear error", succeeded.Load(), failed.Load())
	for _, v := range victims {
		if st := m.sups[v].Status(); st.Restarts == 0 {
			t.Errorf("victim %s was never restarted: %+v", v, st)
		}
	}
}

// checkedCall makes call i to server and returns its error message, or ""
// if it succeeded. A result must be the right one from the right upstream;
// an error must name the server; every call must end within its 10s.
func (m *mux) checkedCall(i int, server string) string {
	tool, args, want := "whoami", map[string]any(nil), server
	switch i % 3 {
	case 1:
		want = fmt.Sprintf("%s says %d", server, i)
		tool, args = "echo", map[string]any{"message": want}
	case 2:
		ms := 50 + 50*(i%5)
		tool, args, want = "slow", map[string]any{"ms": ms}, fmt.Sprintf("slept %d ms", ms)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	res, rpcErr, err := m.request(ctx, "tools/call", map[string]any{"name": server + "__" + tool, "arguments": args})
	switch {
	case err != nil:
		m.t.Errorf("call %d to %s__%s: %v", i, server, tool, err)
		return err.Error()
	case rpcErr != nil:
		if !strings.Contains(rpcErr.Message, fmt.Sprintf("%q", server)) {
			m.t.Errorf("call %d to %s__%s = error %q, want one naming the server", i, server, tool, rpcErr.Message)
		}
		return rpcErr.Message
	}
	var r struct{ Content []struct{ Text string } }
	if json.Unmarshal(res, &r) != nil || len(r.Content) == 0 || r.Content[0].Text != want {
		m.t.Errorf("call %d to %s__%s = %s, want %q", i, server, tool, truncate(res), want)
	}
	return ""
}

// killTwice kills each victim's child with SIGKILL, waits for it to come
// back, and kills it once more.
func killTwice(tb testing.TB, m *mux, victims []string) {
	for round := 1; round <= 2; round++ {
		time.Sleep(50 * time.Millisecond) // let calls pile up on the new children
		for _, v := range victims {
			waitRestarted(tb, m.sups[v], round-1)
			killUpstream(tb, m.sups[v])
		}
	}
}

func TestGarbageNeverReachesClient(t *testing.T) {
	logs := &testutil.SyncBuffer{}
	m := rawMux(t, map[string]any{"noisy": testutil.TestServer(t, "-name", "noisy", "-garbage"), "calm": testutil.TestServer(t, "-name", "calm")},
		muxOptions{logger: slog.New(slog.NewTextHandler(logs, nil))})
	c := m.lines
	testutil.WaitFor(t, "both upstreams' tools", func() bool {
		r := c.roundTrip(`1`, `{"jsonrpc":"2.0","id":1,"method":"tools/list"}`)
		return strings.Contains(r.line, `"noisy__echo"`) && strings.Contains(r.line, `"calm__echo"`)
	})
	for i := 2; i < 12; i++ {
		server := []string{"noisy", "calm"}[i%2]
		c.send(fmt.Sprintf(`{"jsonrpc":"2.0","id":%d,"method":"tools/call","params":{"name":"%s__echo","arguments":{"message":"m%d"}}}`, i, server, i))
	}
	for i := 2; i < 12; i++ {
		if r := c.response(fmt.Sprint(i)); !strings.Contains(r.line, fmt.Sprintf(`"text":"m%d"`, i)) {
			t.Errorf("call %d = %s", i, r.line)
		}
	}
	for _, line := range c.rest() {
		var m struct{ JSONRPC string }
		if json.Unmarshal([]byte(line), &m) != nil || m.JSONRPC != "2.0" {
			t.Errorf("the client got a line that is not a JSON-RPC message: %q", line)
		}
	}
	for _, want := range []string{"this is not json", "garbage before tools/call response"} {
		if !strings.Contains(logs.String(), want) {
			t.Errorf("garbage %q not logged:\n%s", want, logs)
		}
	}
}
