package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mark3labs/mcp-go/client"
	"github.com/mark3labs/mcp-go/client/transport"
	"github.com/mark3labs/mcp-go/mcp"

	"github.com/mcpmux/mcpmux/internal/testutil"
)

// hangGuard bounds every wait of these tests: long enough that a loaded
// machine never reaches it, so that reaching it means a hang. How fast
// mcpmux is, is for the benchmarks to say.
const hangGuard = 60 * time.Second

// writeConfig writes a configuration with servers (name → entry) and
// returns its path. Its tool mode is full: the tests see the catalogue
// itself, however large (search mode has tests of its own).
func writeConfig(tb testing.TB, servers map[string]any) string {
	tb.Helper()
	data, err := json.Marshal(map[string]any{"mcpServers": servers, "toolMode": "full"})
	if err != nil {
		tb.Fatal(err)
	}
	path := filepath.Join(tb.TempDir(), "config.json")
	if err := os.WriteFile(path, data, 0o600); err != nil {
		tb.Fatal(err)
	}
	return path
}

// warnings returns the log lines at warn level or above.
func warnings(b *testutil.SyncBuffer) []string {
	var out []string
	for line := range strings.Lines(b.String()) {
		if strings.Contains(line, "tool catalogue: ") {
			continue // full mode's warning of a catalogue past the hosts' limits, which these tests' large catalogues are
		}
		if strings.Contains(line, " WRN ") || strings.Contains(line, " ERR ") {
			out = append(out, strings.TrimSpace(line))
		}
	}
	return out
}

// muxClient is an MCP client connected to a serving mcpmux.
type muxClient struct {
	tb    testing.TB
	c     *client.Client
	raw   transport.Interface
	notes chan string // methods of the notifications received
	ids   atomic.Int64
	init  *mcp.InitializeResult // mcpmux's answer to initialize
}

// connect starts an MCP client on r and w and initializes it.
func connect(tb testing.TB, r io.Reader, w io.WriteCloser) *muxClient {
	tb.Helper()
	m := &muxClient{tb: tb, raw: transport.NewIO(r, w, nil), notes: make(chan string, 100)}
	m.c = client.NewClient(m.raw)
	m.c.OnNotification(func(n mcp.JSONRPCNotification) {
		select { // never block the client's reader
		case m.notes <- n.Method:
		default:
		}
	})
	ctx, cancel := context.WithTimeout(context.Background(), hangGuard)
	defer cancel()
	if err := m.c.Start(context.Background()); err != nil {
		tb.Fatalf("starting client: %v", err)
	}
	req := mcp.InitializeRequest{}
	req.Params.ProtocolVersion = mcp.LATEST_LEGACY_PROTOCOL_VERSION
	req.Params.ClientInfo = mcp.Implementation{Name: "cmd-test", Version: "1"}
	init, err := m.c.Initialize(ctx, req)
	if err != nil {
		tb.Fatalf("initializing client: %v", err)
	}
	m.init = init
	return m
}

// send sends a raw request and returns the response, failing the test if
// none arrives.
func (m *muxClient) send(timeout time.Duration, method string, params any) *transport.JSONRPCResponse {
	m.tb.Helper()
	// timeout is a hang guard: on a shared, loaded machine no answer is
	// held to less than a minute.
	ctx, cancel := context.WithTimeout(context.Background(), max(timeout, hangGuard))
	defer cancel()
	id := mcp.NewRequestId(fmt.Sprintf("t-%d", m.ids.Add(1)))
	resp, err := m.raw.SendRequest(ctx, transport.JSONRPCRequest{JSONRPC: "2.0", ID: id, Method: method, Params: params})
	if err != nil {
		m.tb.Fatalf("%s: %v", method, err)
	}
	return resp
}

// request sends a raw request and returns its result, failing the test on
// any error.
func (m *muxClient) request(timeout time.Duration, method string, params any) json.RawMessage {
	m.tb.Helper()
	resp := m.send(timeout, method, params)
	if resp.Error != nil {
		m.tb.Fatalf("%s: error %d: %s", method, resp.Error.Code, resp.Error.Message)
	}
	return resp.Result
}

// tools returns the names of the listed tools.
func (m *muxClient) tools() []string {
	m.tb.Helper()
	return names(m.tb, m.request(10*time.Second, "tools/list", nil), "tools", "name")
}

// names returns the field key of each entry of the list field of a result.
func names(tb testing.TB, result json.RawMessage, list, key string) []string {
	tb.Helper()
	var r map[string][]map[string]any
	if err := json.Unmarshal(result, &r); err != nil {
		tb.Fatalf("decoding %s: %v", list, err)
	}
	var out []string
	for _, e := range r[list] {
		out = append(out, fmt.Sprint(e[key]))
	}
	return out
}

// waitTools polls tools/list until it lists every name in want.
func (m *muxClient) waitTools(want ...string) []string {
	m.tb.Helper()
	var have, missing []string
	if !testutil.Await(func() bool { have = m.tools(); missing = without(want, have); return len(missing) == 0 }) {
		m.tb.Fatalf("tools never listed: %q (have %q)", missing, have)
	}
	return have
}

// call calls a tool and returns the text of its result.
func (m *muxClient) call(timeout time.Duration, name string, args map[string]any) string {
	m.tb.Helper()
	res := m.request(timeout, "tools/call", map[string]any{"name": name, "arguments": args})
	var r struct{ Content []struct{ Text string } }
	if err := json.Unmarshal(res, &r); err != nil || len(r.Content) == 0 {
		m.tb.Fatalf("tools/call %s: no text in %s", name, res)
	}
	return r.Content[0].Text
}

// waitNote waits for a notification with method.
func (m *muxClient) waitNote(method string, timeout time.Duration) {
	m.tb.Helper()
	deadline := time.After(timeout)
	for {
		select {
		case got := <-m.notes:
			if got == method {
				return
			}
		case <-deadline:
			m.tb.Fatalf("no %s within %v", method, timeout)
		}
	}
}

// without returns the elements of want missing from have.
func without(want, have []string) []string {
	var missing []string
	for _, w := range want {
		found := false
		for _, h := range have {
			found = found || h == w
		}
		if !found {
			missing = append(missing, w)
		}
	}
	return missing
}

// serving is `mcpmux serve` running in this process, with a client.
type serving struct {
	*muxClient
	stderr *testutil.SyncBuffer
	stop   func() // closes the client and waits for run to return
}

// serveInProcess runs `mcpmux serve args...` in this process, connects a
// client and initializes it. It is stopped at cleanup, if not before.
func serveInProcess(tb testing.TB, args ...string) *serving {
	tb.Helper()
	clientIn, muxOut := io.Pipe()
	muxIn, clientOut := io.Pipe()
	s := &serving{stderr: new(testutil.SyncBuffer)}
	done := make(chan error, 1)
	go func() {
		done <- run(context.Background(), append([]string{"serve", "--log-level", "debug"}, args...), muxIn, muxOut, s.stderr)
		muxOut.Close()
		muxIn.Close()
	}()
	var once sync.Once
	s.stop = func() {
		once.Do(func() {
			if s.muxClient != nil {
				_ = s.c.Close()
			} else {
				clientOut.Close()
			}
			select {
			case err := <-done:
				if err != nil {
					tb.Errorf("mcpmux serve = %v\n%s", err, s.stderr)
				}
			case <-time.After(hangGuard):
				tb.Fatalf("mcpmux serve did not stop\n%s", s.stderr)
			}
		})
	}
	tb.Cleanup(s.stop)
	s.muxClient = connect(tb, clientIn, clientOut)
	return s
}

// process is `mcpmux serve` running as a child process, with a client.
type process struct {
	*muxClient
	cmd     *exec.Cmd
	stderr  *testutil.SyncBuffer
	started time.Time
	stop    func()      // closes the client and waits for the process to exit
	killed  atomic.Bool // by kill: its exit status is no failure
}

// kill kills the process with SIGKILL, as a host may, and waits for it
// to exit.
func (p *process) kill() {
	p.tb.Helper()
	p.killed.Store(true)
	if err := p.cmd.Process.Kill(); err != nil {
		p.tb.Fatal(err)
	}
	p.stop()
}

// startProcess starts `mcpmux serve args...` with extra environment env.
// It does not connect a client: see [process.connect].
func startProcess(tb testing.TB, env []string, args ...string) (p *process, stdout io.Reader, stdin io.WriteCloser) {
	tb.Helper()
	cmd := exec.Command(testutil.BuildMcpmuxNoRace(tb), append([]string{"serve"}, args...)...)
	cmd.Env = append(os.Environ(), env...)
	p = &process{cmd: cmd, stderr: new(testutil.SyncBuffer)}
	cmd.Stderr = p.stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		tb.Fatal(err)
	}
	stdout, err = cmd.StdoutPipe()
	if err != nil {
		tb.Fatal(err)
	}
	p.started = time.Now()
	if err := cmd.Start(); err != nil {
		tb.Fatal(err)
	}
	var once sync.Once
	p.stop = func() {
		once.Do(func() {
			if p.muxClient != nil {
				_ = p.c.Close()
			} else {
				stdin.Close()
			}
			exited := make(chan error, 1)
			go func() { exited <- cmd.Wait() }()
			select {
			case err := <-exited:
				if err != nil && !p.killed.Load() {
					tb.Errorf("mcpmux serve exited: %v\n%s", err, p.stderr)
				}
			case <-time.After(hangGuard):
				_ = cmd.Process.Kill()
				<-exited
				tb.Errorf("mcpmux serve did not stop within %s\n%s", hangGuard, p.stderr)
			}
			// Its last write to the store may go on after it exited (see
			// store.ExitFinalWait): the test's directories outlive it.
			waitStoreWrites(tb)
		})
	}
	tb.Cleanup(p.stop)
	return p, stdout, stdin
}

// waitStoreWrites waits until no store process of the mcpmux binary runs:
// a serve that exited leaves its last write to one.
func waitStoreWrites(tb testing.TB) {
	tb.Helper()
	writer := testutil.BuildMcpmuxNoRace(tb) + " " + storeCommand
	testutil.WaitFor(tb, "the store writes of exited serves", func() bool {
		return !slices.ContainsFunc(testutil.Processes(), func(p testutil.Process) bool { return p.Cmdline == writer })
	})
}

// serveProcess starts `mcpmux serve args...` as a child process and
// connects a client to it.
func serveProcess(tb testing.TB, env []string, args ...string) *process {
	tb.Helper()
	p, stdout, stdin := startProcess(tb, env, args...)
	p.muxClient = connect(tb, stdout, stdin)
	return p
}

// runCommand runs one mcpmux command line in this process and returns its
// stdout.
func runCommand(tb testing.TB, args ...string) string {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), hangGuard)
	defer cancel()
	var stdout, stderr testutil.SyncBuffer
	if err := run(ctx, args, strings.NewReader(""), &stdout, &stderr); err != nil {
		tb.Fatalf("mcpmux %s = %v\n%s", strings.Join(args, " "), err, stderr.String())
	}
	return stdout.String()
}
