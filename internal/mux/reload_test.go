package mux_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mark3labs/mcp-go/client"
	"github.com/mark3labs/mcp-go/client/transport"
	"github.com/mark3labs/mcp-go/mcp"

	"github.com/mcpmux/mcpmux/internal/mux"
	"github.com/mcpmux/mcpmux/internal/testutil"
	"github.com/mcpmux/mcpmux/proxy"
	"github.com/mcpmux/mcpmux/registry"
	"github.com/mcpmux/mcpmux/upstream"
)

// hangGuard bounds every wait for a state, so that a bug fails the test
// instead of hanging it; no test waits for a time.
const hangGuard = testutil.WaitTimeout

// parse makes a configuration of servers (name → entry).
func parse(tb testing.TB, servers map[string]any) *registry.Config {
	tb.Helper()
	data, err := json.Marshal(map[string]any{"mcpServers": servers})
	if err != nil {
		tb.Fatal(err)
	}
	cfg, _ := registry.Parse(data, func(string) (string, bool) { return "", false })
	if cfg == nil {
		tb.Fatalf("registry.Parse(%s) gave no configuration", data)
	}
	return cfg
}

// live is a Mux serving a real MCP client over pipes.
type live struct {
	t   *testing.T
	m   *mux.Mux
	raw transport.Interface
	log *testutil.SyncBuffer
	ids atomic.Int64

	notesMu sync.Mutex
	notes   []string // methods of the notifications received

	sampling chan struct{} // a sampling request reached the client
	release  chan struct{} // closed to let the client answer it
	done     func()        // closes release, once
}

// serve builds mcpmux for servers, as serve does, and connects a client.
func serve(t *testing.T, servers map[string]any) *live {
	t.Helper()
	testutil.CheckNoChildren(t)
	testutil.CheckNoGoroutineLeak(t)
	l := &live{t: t, log: new(testutil.SyncBuffer), sampling: make(chan struct{}, 1), release: make(chan struct{})}
	l.m = mux.New(parse(t, servers), mux.Options{
		Logger:   testLogger(l.log),
		Proxy:    func(o *proxy.Options) { o.ListChangedDelay = 10 * time.Millisecond },
		Upstream: func(_ *registry.Server, o *upstream.Options) { o.StopGrace = 200 * time.Millisecond },
	})
	ctx, cancel := context.WithCancel(context.Background())
	clientIn, muxOut := io.Pipe()
	muxIn, clientOut := io.Pipe()
	var wg sync.WaitGroup
	wg.Go(func() {
		_ = l.m.Run(ctx, muxIn, muxOut)
		muxOut.Close()
	})
	l.raw = transport.NewIO(clientIn, clientOut, nil)
	c := client.NewClient(l.raw, client.WithSamplingHandler(l))
	var released sync.Once
	l.done = func() { released.Do(func() { close(l.release) }) }
	t.Cleanup(func() {
		l.done() // a sampling request still waiting
		_ = c.Close()
		clientIn.Close() // what mcpmux still sends goes nowhere
		cancel()
		wg.Wait()
	})
	c.OnNotification(func(n mcp.JSONRPCNotification) {
		l.notesMu.Lock()
		defer l.notesMu.Unlock()
		l.notes = append(l.notes, n.Method)
	})
	if err := c.Start(ctx); err != nil {
		t.Fatal(err)
	}
	req := mcp.InitializeRequest{}
	req.Params.ProtocolVersion = mcp.LATEST_LEGACY_PROTOCOL_VERSION
	req.Params.ClientInfo = mcp.Implementation{Name: "reload-test", Version: "1"}
	ictx, icancel := context.WithTimeout(ctx, hangGuard)
	defer icancel()
	if _, err := c.Initialize(ictx, req); err != nil {
		t.Fatal(err)
	}
	return l
}

// CreateMessage answers a sampling request once the test releases it.
func (l *live) CreateMessage(ctx context.Context, _ mcp.CreateMessageRequest) (*mcp.CreateMessageResult, error) {
	l.sampling <- struct{}{}
	select {
	case <-l.release:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	r := &mcp.CreateMessageResult{Model: "test-model", StopReason: "endTurn"}
	r.Role = mcp.RoleAssistant
	r.Content = mcp.NewTextContent("answered after the reload")
	return r, nil
}

// send sends a request and returns its response.
func (l *live) send(method string, params any) *transport.JSONRPCResponse {
	l.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), hangGuard)
	defer cancel()
	id := mcp.NewRequestId(fmt.Sprintf("t-%d", l.ids.Add(1)))
	resp, err := l.raw.SendRequest(ctx, transport.JSONRPCRequest{JSONRPC: "2.0", ID: id, Method: method, Params: params})
	if err != nil {
		l.t.Fatalf("%s: %v", method, err)
	}
	return resp
}

// call calls a tool and returns the text of its result.
func (l *live) call(name string, args map[string]any) string {
	l.t.Helper()
	resp := l.send("tools/call", map[string]any{"name": name, "arguments": args})
	var r struct{ Content []struct{ Text string } }
	if resp.Error != nil || json.Unmarshal(resp.Result, &r) != nil || len(r.Content) == 0 {
		l.t.Fatalf("tools/call %s = %+v %s", name, resp.Error, resp.Result)
	}
	return r.Content[0].Text
}

// tools returns the names of the tools listed now.
func (l *live) tools() []string {
	l.t.Helper()
	resp := l.send("tools/list", nil)
	var r struct{ Tools []struct{ Name string } }
	if resp.Error != nil || json.Unmarshal(resp.Result, &r) != nil {
		l.t.Fatalf("tools/list = %+v %s", resp.Error, resp.Result)
	}
	var out []string
	for _, tool := range r.Tools {
		out = append(out, tool.Name)
	}
	return out
}

// waitFor waits until cond holds.
func (l *live) waitFor(what string, cond func() bool) {
	l.t.Helper()
	if !testutil.Await(cond) {
		l.t.Fatalf("never: %s\n%s", what, l.log)
	}
}

// waitTools waits until the tools listed include every one of want and
// none of gone.
func (l *live) waitTools(want, gone []string) {
	l.t.Helper()
	l.waitFor(fmt.Sprintf("tools %q listed and %q not", want, gone), func() bool {
		have := l.tools()
		for _, w := range want {
			if !slices.Contains(have, w) {
				return false
			}
		}
		for _, g := range gone {
			if slices.Contains(have, g) {
				return false
			}
		}
		return true
	})
}

// noted returns how many notifications with method the client has had.
func (l *live) noted(method string) int {
	l.notesMu.Lock()
	defer l.notesMu.Unlock()
	n := 0
	for _, m := range l.notes {
		if m == method {
			n++
		}
	}
	return n
}

// pids returns the PID of every upstream that has one, by name.
func (l *live) pids() map[string]int {
	out := map[string]int{}
	for _, s := range l.m.Upstreams() {
		if st := s.Status(); st.PID != 0 {
			out[s.Name()] = st.PID
		}
	}
	return out
}

// status returns mcpmux://status, decoded.
func (l *live) status() (st struct {
	Upstreams []struct{ Server, State, LastError string }
	Config    *struct {
		Applied bool
		Error   string
	}
}) {
	l.t.Helper()
	resp := l.send("resources/read", map[string]any{"uri": "mcpmux://status"})
	var r struct{ Contents []struct{ Text string } }
	if resp.Error != nil || json.Unmarshal(resp.Result, &r) != nil || len(r.Contents) == 0 {
		l.t.Fatalf("reading mcpmux://status = %+v %s", resp.Error, resp.Result)
	}
	if err := json.Unmarshal([]byte(r.Contents[0].Text), &st); err != nil {
		l.t.Fatalf("decoding mcpmux://status: %v\n%s", err, r.Contents[0].Text)
	}
	return st
}

func TestReloadUnderLiveSession(t *testing.T) {
	const changed = "notifications/tools/list_changed"
	a, b := testutil.TestServer(t, "-name", "a"), testutil.TestServer(t, "-name", "b")
	servers := map[string]any{"a": a, "b": b}
	l := serve(t, servers)
	l.waitTools([]string{"a__echo", "b__echo"}, nil)
	l.waitFor("both upstreams running", func() bool { return len(l.pids()) == 2 })
	pidA := l.pids()["a"]
	if got := l.call("a__count", nil); got != "0" {
		t.Fatalf("a__count = %s, want 0", got)
	}

	// A call to a stays in flight across every reload below: its upstream
	// waits for the client's sampling answer, which comes at the end.
	inflight := make(chan string, 1)
	go func() {
		resp := l.send("tools/call", map[string]any{"name": "a__sample", "arguments": map[string]any{}})
		inflight <- fmt.Sprintf("%+v %s", resp.Error, resp.Result)
	}()
	<-l.sampling

	// Add: c starts, and the client hears of it.
	servers["c"] = testutil.TestServer(t, "-name", "c")
	before := l.noted(changed)
	if err := l.m.Reload(parse(t, servers)); err != nil {
		t.Fatalf("Reload adding c = %v", err)
	}
	l.waitTools([]string{"a__echo", "b__echo", "c__echo"}, nil)
	l.waitFor("a tools/list_changed after adding c", func() bool { return l.noted(changed) > before })
	if got := l.call("c__whoami", nil); got != "c" {
		t.Errorf("c__whoami = %q, want c", got)
	}

	// Change: b's entry gets an env entry (a secret): b restarts, a and
	// c do not.
	pidB, pidC := l.pids()["b"], l.pids()["c"]
	b["env"] = map[string]string{"B_TOKEN": "s3cret-b-token"}
	if err := l.m.Reload(parse(t, servers)); err != nil {
		t.Fatalf("Reload changing b = %v", err)
	}
	l.waitFor("b restarted", func() bool { p := l.pids()["b"]; return p != 0 && p != pidB })
	if got := l.call("b__env", map[string]any{"name": "B_TOKEN"}); got != "s3cret-b-token" {
		t.Errorf("b__env B_TOKEN = %q after the change, want the new value", got)
	}
	if p := l.pids(); p["a"] != pidA || p["c"] != pidC {
		t.Errorf("pids after changing b = %v, want a %d and c %d unchanged", p, pidA, pidC)
	}

	// Reshown: overrides and the filter change no upstream.
	a["toolOverrides"] = map[string]any{"echo": map[string]any{"name": "say"}}
	a["tools"] = map[string]any{"deny": []string{"add"}}
	before = l.noted(changed)
	if err := l.m.Reload(parse(t, servers)); err != nil {
		t.Fatalf("Reload overriding a's tools = %v", err)
	}
	l.waitTools([]string{"a__say"}, []string{"a__echo", "a__add"})
	if p := l.pids()["a"]; p != pidA {
		t.Errorf("a's pid = %d after changing its overrides, want %d", p, pidA)
	}
	l.waitFor("a tools/list_changed after reshowing a", func() bool { return l.noted(changed) > before })

	// Remove: c stops; the client is told once.
	delete(servers, "c")
	if err := l.m.Reload(parse(t, servers)); err != nil {
		t.Fatalf("Reload removing c = %v", err)
	}
	l.waitTools(nil, []string{"c__echo"})
	l.waitFor("c stopped", func() bool { _, ok := l.pids()["c"]; return !ok && len(l.m.Upstreams()) == 2 })
	l.waitFor("a tools/list_changed after removing c", func() bool { return l.noted(changed) > before+1 })
	// b's list_changed tool adds a tool: its notification comes after all
	// of those of the reloads before it. (a waits for the client.)
	l.call("b__list_changed", nil)
	l.waitFor("the notification of b's new tool", func() bool { return l.noted(changed) > before+2 })
	if n := l.noted(changed) - before; n != 3 {
		t.Errorf("tools/list_changed after reshowing a, removing c and b's new tool = %d, want 3 (once each)", n)
	}

	// Invalid: a new entry with a mistake is refused as a whole.
	servers["d"] = map[string]any{"command": "x", "timeout": "soon"}
	servers["e"] = testutil.TestServer(t, "-name", "e")
	err := l.m.Reload(parse(t, servers))
	if err == nil || !strings.Contains(err.Error(), `server "d": field "timeout"`) {
		t.Fatalf("Reload with a bad entry = %v, want it refused naming d's timeout", err)
	}
	st := l.status()
	if st.Config == nil || st.Config.Applied || !strings.Contains(st.Config.Error, `server "d": field "timeout"`) {
		t.Errorf("mcpmux://status config after a refused reload = %+v, want the error", st.Config)
	}
	if slices.Contains(l.tools(), "e__echo") || len(l.m.Upstreams()) != 2 {
		t.Errorf("a refused reload started e")
	}
	delete(servers, "d")
	delete(servers, "e")

	// Through all of it, a kept its connection and its call in flight.
	l.done()
	if got := <-inflight; !strings.Contains(got, "answered after the reload") {
		t.Errorf("a's call in flight across the reloads = %s, want its answer", got)
	}
	if got := l.call("a__count", nil); got != "2" { // count, sample, now this
		t.Errorf("a__count = %s at the end, want 2: one connection all along", got)
	}
	if log := l.log.String(); strings.Contains(log, "s3cret-b-token") {
		t.Errorf("the log holds b's secret:\n%s", log)
	}
	if !strings.Contains(l.log.String(), `msg="restarting upstream: its entry changed" upstream=b fields=env`) {
		t.Errorf("the log does not say which field of b changed:\n%s", l.log)
	}
	if got := slices.Sorted(maps.Keys(l.pids())); !slices.Equal(got, []string{"a", "b"}) {
		t.Errorf("upstreams running at the end = %v, want a and b", got)
	}
}
