package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/mark3labs/mcp-go/client"
	"github.com/mark3labs/mcp-go/client/transport"
	"github.com/mark3labs/mcp-go/mcp"

	"github.com/mcpmux/mcpmux/internal/testutil"
)

// testTimeout bounds each test, npm installs excluded: a guard against a
// hang, never a limit on how fast mcpmux must be. A test starts several
// processes (mcpmux built with -race, its keeper and store children, npm
// servers, Node clients), and each start costs seconds on a loaded
// machine: pinned to one core at load 20, the first start of
// server-everything (Node reading its modules cold) took 25s, which
// left a 60s budget room for little else.
const testTimeout = 3 * time.Minute

// npmStartTimeout is the npm servers' "startTimeout": mcpmux's default,
// 30s, is the time a first list waits for them, and a cold start of Node
// on a loaded machine comes near it. The tests assert what the first list
// holds once they have started, not how fast they start.
const npmStartTimeout = "3m"

func TestMain(m *testing.M) {
	// The mcpmux binary's default data directory is a temporary one: see
	// cmd/mcpmux's TestMain.
	state, err := os.MkdirTemp("", "mcpmux-state-")
	if err != nil {
		panic(err)
	}
	os.Setenv("XDG_STATE_HOME", state)
	code := m.Run()
	testutil.RemoveBuilds()
	os.RemoveAll(state)
	os.Exit(code)
}

// newClient is client.NewClient for these tests. mcp-go's client takes a
// server that has not answered server/discover within 5s for one that
// ignores the method (a server of the handshake era), and falls back to
// initialize for good: a mcpmux that starts slowly on a loaded machine
// would be spoken to in the older revision, and a test of the 2026-07-28
// era would fail. Every server these tests run answers server/discover
// (mcpmux) or rejects it at once (the npm servers, the test server), so
// the probe waits as long as the test may: the answer is the state to
// wait for, not the clock.
func newClient(tr transport.Interface, opts ...client.ClientOption) *client.Client {
	return client.NewClient(tr, append([]client.ClientOption{client.WithDiscoverTimeout(testTimeout)}, opts...)...)
}

// testContext returns a context that ends after d or when the test ends.
// Call it after NPMBin, whose install is not part of the budget. Neither
// is the build of the mcpmux binary, done here if it is not yet: the
// package's first test paid for it (go build -race of mcpmux and its
// dependencies, minutes on a loaded machine) out of its own budget, and
// failed with a first tools/list that ran out of time.
func testContext(tb testing.TB, d time.Duration) context.Context {
	mcpmuxBin(tb)
	ctx, cancel := context.WithTimeout(context.Background(), d)
	tb.Cleanup(cancel)
	return ctx
}

// everything returns the config entry of the pinned server-everything.
func everything(tb testing.TB) map[string]any {
	tb.Helper()
	return map[string]any{"command": everythingBin(tb), "startTimeout": npmStartTimeout}
}

func everythingBin(tb testing.TB) string {
	tb.Helper()
	return testutil.NPMBin(tb, testutil.EverythingPkg, testutil.EverythingVersion, testutil.EverythingBin)
}

// memory returns the config entry of the pinned server-memory, with its
// store in a temporary directory.
func memory(tb testing.TB) map[string]any {
	tb.Helper()
	bin := testutil.NPMBin(tb, testutil.MemoryPkg, testutil.MemoryVersion, testutil.MemoryBin)
	return map[string]any{
		"command":      bin,
		"env":          map[string]string{"MEMORY_FILE_PATH": filepath.Join(tb.TempDir(), "memory.jsonl")},
		"startTimeout": npmStartTimeout,
	}
}

// writeConfig writes a configuration with servers (name → entry) and
// returns its path.
func writeConfig(tb testing.TB, servers map[string]any) string {
	tb.Helper()
	// Full mode: the tests see the catalogue itself (search mode has
	// tests of its own).
	data, err := json.MarshalIndent(map[string]any{"mcpServers": servers, "toolMode": "full"}, "", "  ")
	if err != nil {
		tb.Fatal(err)
	}
	path := filepath.Join(tb.TempDir(), "config.json")
	if err := os.WriteFile(path, data, 0o644); err != nil {
		tb.Fatal(err)
	}
	return path
}

// mcpmux is the mcpmux binary running `serve` as a subprocess, with an MCP
// client connected to its stdin and stdout.
type mcpmux struct {
	cmd     *exec.Cmd
	client  *client.Client
	stderr  *testutil.SyncBuffer
	procs   *tracker              // mcpmux's descendants, seen while it ran
	init    *mcp.InitializeResult // mcpmux's answer to the client's initialize
	dataDir string                // its registry

	exited  chan struct{} // closed when the process has been reaped
	waitErr error         // set before exited closes
	closed  sync.Once
	// stop closes the client and waits for mcpmux to exit, killing it and
	// what it left if need be. It runs at cleanup if not before.
	stop func()
}

// startMcpmux runs mcpmux with the configuration at cfgPath and returns it
// with an initialised client. At cleanup the client is closed, mcpmux is
// given 10s to exit before it is killed, and any descendant of it that is
// still alive is killed; mcpmux's stderr is logged if the test failed.
func startMcpmux(tb testing.TB, ctx context.Context, cfgPath string, opts ...client.ClientOption) *mcpmux {
	tb.Helper()
	// A registry of its own, so that tests neither share nor leave state.
	return startMcpmuxWith(tb, ctx, cfgPath, tb.TempDir(), nil, opts...)
}

// startMcpmuxIn is startMcpmux with the data directory dataDir.
func startMcpmuxIn(tb testing.TB, ctx context.Context, cfgPath, dataDir string, opts ...client.ClientOption) *mcpmux {
	tb.Helper()
	return startMcpmuxWith(tb, ctx, cfgPath, dataDir, nil, opts...)
}

// startMcpmuxWith is startMcpmuxIn, with prepare, if set, adjusting the
// command before it starts.
func startMcpmuxWith(tb testing.TB, ctx context.Context, cfgPath, dataDir string, prepare func(*exec.Cmd), opts ...client.ClientOption) *mcpmux {
	tb.Helper()
	m := &mcpmux{stderr: &testutil.SyncBuffer{}, exited: make(chan struct{}), dataDir: dataDir}
	clientIn, muxOut, err := os.Pipe()
	if err != nil {
		tb.Fatal(err)
	}
	muxIn, clientOut, err := os.Pipe()
	if err != nil {
		tb.Fatal(err)
	}
	m.cmd = exec.Command(mcpmuxBin(tb), "serve", "--config", cfgPath, "--data-dir", dataDir)
	// GORACE: the race detector would sleep a second before each of
	// mcpmux's own child processes exits.
	m.cmd.Env = append(os.Environ(), "MCPMUX_LOG_LEVEL="+logLevel(tb), "GORACE=atexit_sleep_ms=0")
	m.cmd.Stdin, m.cmd.Stdout, m.cmd.Stderr = muxIn, muxOut, m.stderr
	m.cmd.WaitDelay = time.Second
	if prepare != nil {
		prepare(m.cmd)
	}
	err = m.cmd.Start()
	muxIn.Close()
	muxOut.Close()
	if err != nil {
		clientIn.Close()
		clientOut.Close()
		tb.Fatalf("starting mcpmux: %v", err)
	}
	if _, bench := tb.(*testing.B); bench {
		// Scanning /proc every 20ms would take the CPU the upstreams'
		// start-up needs, and only mcpmux pays it: not in benchmarks.
		m.procs = untracked()
	} else {
		m.procs = trackDescendants(m.cmd.Process.Pid, m.exited)
	}
	go func() {
		m.waitErr = m.cmd.Wait()
		close(m.exited)
	}()
	m.client = newClient(transport.NewIO(clientIn, clientOut, nil), opts...)
	m.stop = func() {
		m.closed.Do(func() {
			_ = m.client.Close() // closes mcpmux's stdin
			if !m.waitExit(60 * time.Second) {
				tb.Errorf("mcpmux did not exit within 60s of its stdin closing; killing it")
				_ = m.cmd.Process.Kill()
				<-m.exited
			}
			clientIn.Close()
			if left := m.procs.killSurvivors(2 * time.Second); left != "" {
				tb.Logf("killed processes that outlived mcpmux:\n%s", left)
			}
			if tb.Failed() {
				tb.Logf("mcpmux stderr:\n%s", m.stderr.String())
			}
		})
	}
	tb.Cleanup(m.stop)
	if err := m.client.Start(ctx); err != nil {
		tb.Fatalf("starting the client of mcpmux: %v", err)
	}
	if m.init, err = initialize(ctx, m.client); err != nil {
		tb.Fatalf("initializing the client of mcpmux: %v", err)
	}
	return m
}

// mcpmuxBin returns the mcpmux binary to run: built with -race, except for
// benchmarks when MCPMUX_BENCH_NORACE=1.
func mcpmuxBin(tb testing.TB) string {
	if _, bench := tb.(*testing.B); bench && os.Getenv("MCPMUX_BENCH_NORACE") == "1" {
		return testutil.BuildMcpmuxNoRace(tb)
	}
	return testutil.BuildMcpmux(tb)
}

// logLevel is mcpmux's log level: debug in tests, to explain failures, and
// info in benchmarks, which should not measure logging.
func logLevel(tb testing.TB) string {
	if _, bench := tb.(*testing.B); bench {
		return "info"
	}
	return "debug"
}

// waitExit reports whether mcpmux has exited within d.
func (m *mcpmux) waitExit(d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-m.exited:
		return true
	case <-t.C:
		return false
	}
}

// startDirect starts command as an MCP server connected straight to a new,
// initialised client, which is closed at cleanup.
func startDirect(tb testing.TB, ctx context.Context, command string, opts ...client.ClientOption) *client.Client {
	tb.Helper()
	stderr := &testutil.SyncBuffer{}
	tr := transport.NewStdioWithOptions(command, nil, nil, transport.WithCommandStderrWriter(stderr))
	c := newClient(tr, opts...)
	tb.Cleanup(func() {
		_ = c.Close()
		if tb.Failed() {
			tb.Logf("%s stderr:\n%s", filepath.Base(command), stderr.String())
		}
	})
	if err := c.Start(ctx); err != nil {
		tb.Fatalf("starting %s: %v", command, err)
	}
	if _, err := initialize(ctx, c); err != nil {
		tb.Fatalf("initializing %s: %v", command, err)
	}
	return c
}

// initialize connects c with the protocol version of its options.
func initialize(ctx context.Context, c *client.Client) (*mcp.InitializeResult, error) {
	req := mcp.InitializeRequest{}
	req.Params.ClientInfo = mcp.Implementation{Name: "mcpmux-e2e", Version: "1"}
	return c.Initialize(ctx, req)
}

// waitForTools lists tools through c until, for every prefix, a tool whose
// name starts with it is listed, and returns the last list. It fails tb if
// ctx (the test's time) ends first.
func waitForTools(tb testing.TB, ctx context.Context, c *client.Client, prefixes ...string) []mcp.Tool {
	tb.Helper()
	for {
		res, err := c.ListTools(ctx, mcp.ListToolsRequest{})
		if err == nil && hasPrefixes(res.Tools, prefixes) {
			return res.Tools
		}
		select {
		case <-ctx.Done():
			tb.Fatalf("tools with prefixes %q never listed (last error: %v)", prefixes, err)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

func hasPrefixes(tools []mcp.Tool, prefixes []string) bool {
	for _, p := range prefixes {
		found := false
		for _, t := range tools {
			found = found || strings.HasPrefix(t.Name, p)
		}
		if !found {
			return false
		}
	}
	return true
}

var rawIDs atomic.Int64

// rawRequest sends a request with raw params (nil: none) through c's
// transport and returns the raw response.
func rawRequest(ctx context.Context, c *client.Client, method string, params json.RawMessage) (*transport.JSONRPCResponse, error) {
	req := transport.JSONRPCRequest{
		JSONRPC: mcp.JSONRPC_VERSION,
		ID:      mcp.NewRequestId(fmt.Sprintf("t-%d", rawIDs.Add(1))),
		Method:  method,
	}
	if params != nil {
		req.Params = params
	}
	return c.GetTransport().SendRequest(ctx, req)
}

// rawResult is rawRequest for a request that must succeed; it returns the
// raw result.
func rawResult(tb testing.TB, ctx context.Context, c *client.Client, method string, params json.RawMessage) json.RawMessage {
	tb.Helper()
	resp, err := rawRequest(ctx, c, method, params)
	if err != nil {
		tb.Fatalf("%s %s: %v", method, params, err)
	}
	if resp.Error != nil {
		tb.Fatalf("%s %s: JSON-RPC error %d: %s", method, params, resp.Error.Code, resp.Error.Message)
	}
	return resp.Result
}

// rawTools lists every tool through c, following cursors, and returns
// each tool's raw object by name.
func rawTools(tb testing.TB, ctx context.Context, c *client.Client) map[string]json.RawMessage {
	tb.Helper()
	tools := map[string]json.RawMessage{}
	var params json.RawMessage
	for {
		var page struct {
			Tools      []json.RawMessage `json:"tools"`
			NextCursor string            `json:"nextCursor"`
		}
		if err := json.Unmarshal(rawResult(tb, ctx, c, "tools/list", params), &page); err != nil {
			tb.Fatalf("decoding tools/list result: %v", err)
		}
		for _, raw := range page.Tools {
			var t struct{ Name string }
			if err := json.Unmarshal(raw, &t); err != nil {
				tb.Fatalf("decoding tool %s: %v", raw, err)
			}
			tools[t.Name] = raw
		}
		if page.NextCursor == "" {
			return tools
		}
		params, _ = json.Marshal(map[string]string{"cursor": page.NextCursor})
	}
}

// compact returns raw compacted, failing tb if it is not valid JSON.
func compact(tb testing.TB, raw []byte) []byte {
	tb.Helper()
	var b bytes.Buffer
	if err := json.Compact(&b, raw); err != nil {
		tb.Fatalf("invalid JSON %q: %v", raw, err)
	}
	return b.Bytes()
}

// exitStatus describes how a process ended, from exec.Cmd.Wait's error.
func exitStatus(err error) string {
	if err == nil {
		return "exit status 0"
	}
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			return "killed by " + ws.Signal().String()
		}
	}
	return err.Error()
}
