package proxy_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mark3labs/mcp-go/client"
	"github.com/mark3labs/mcp-go/client/transport"
	"github.com/mark3labs/mcp-go/mcp"

	"github.com/mcpmux/mcpmux/internal/clock"
	muxer "github.com/mcpmux/mcpmux/internal/mux"
	"github.com/mcpmux/mcpmux/internal/testutil"
	"github.com/mcpmux/mcpmux/proxy"
	"github.com/mcpmux/mcpmux/registry"
	"github.com/mcpmux/mcpmux/upstream"
)

// mux is mcpmux running in this process against real upstream processes,
// with a real MCP client connected to it over pipes.
type mux struct {
	t      testing.TB
	srv    *proxy.Server
	sups   map[string]*upstream.Supervisor
	client *client.Client
	raw    transport.Interface
	lines  *lineClient // with muxOptions.raw, instead of client and raw
	ids    int
	idMu   sync.Mutex

	notesMu sync.Mutex
	notes   []mcp.JSONRPCNotification // every notification the client got

	catMu      sync.Mutex
	catalogues map[string]int // catalogues the proxy has taken in, by upstream
}

// delivered counts a catalogue of server's that the proxy has taken in.
func (m *mux) delivered(server string) {
	m.catMu.Lock()
	defer m.catMu.Unlock()
	m.catalogues[server]++
}

// waitCatalogues waits until the proxy has taken in n catalogues of
// server's, counting from start-up.
func (m *mux) waitCatalogues(server string, n int) {
	m.t.Helper()
	testutil.WaitFor(m.t, fmt.Sprintf("catalogue %d of %s", n, server), func() bool {
		m.catMu.Lock()
		defer m.catMu.Unlock()
		return m.catalogues[server] >= n
	})
}

// record keeps a notification the client received.
func (m *mux) record(n mcp.JSONRPCNotification) {
	m.notesMu.Lock()
	defer m.notesMu.Unlock()
	m.notes = append(m.notes, n)
}

// notifications returns those received so far with the given method.
func (m *mux) notifications(method string) []mcp.JSONRPCNotification {
	m.notesMu.Lock()
	defer m.notesMu.Unlock()
	var out []mcp.JSONRPCNotification
	for _, n := range m.notes {
		if n.Method == method {
			out = append(out, n)
		}
	}
	return out
}

// testLogger logs to the test's output at debug level when -v is given.
func testLogger(tb testing.TB) *slog.Logger {
	if !testing.Verbose() {
		return slog.New(slog.DiscardHandler)
	}
	return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

// startMux starts mcpmux with servers (name → config entry) and connects a
// client to it. Everything is stopped, and checked for leaks, at cleanup.
func startMux(tb testing.TB, servers map[string]any, opts ...func(*upstream.Options)) *mux {
	tb.Helper()
	return startMuxWith(tb, servers, mcp.LATEST_LEGACY_PROTOCOL_VERSION, nil, opts...)
}

// startMuxWith is startMux with the client's protocol version ("" lets the
// client choose: 2026-07-28 for mcp-go) and options, such as handlers for
// sampling, elicitation and roots.
func startMuxWith(tb testing.TB, servers map[string]any, protocol string, clientOpts []client.ClientOption, opts ...func(*upstream.Options)) *mux {
	tb.Helper()
	return newMux(tb, servers, muxOptions{protocol: protocol, client: clientOpts}, opts...)
}

// muxOptions are the settings of a test's mcpmux and its client.
type muxOptions struct {
	protocol string                // the client's protocol version ("": its choice)
	client   []client.ClientOption // handlers and capabilities
	pageSize int                   // proxy.Options.PageSize
	maxSize  int                   // proxy.Options.MaxMessageSize
	inFlight int                   // proxy.Options.MaxInFlight
	logger   *slog.Logger          // nil: testLogger
	clock    clock.Clock           // proxy.Options.Clock
	// raw: no MCP client; the test speaks JSON-RPC lines itself (see
	// lineClient), starting with the handshake.
	raw bool
	// top are top-level keys of the configuration besides mcpServers
	// (toolMode, alwaysList, ...).
	top map[string]any
	// profile is the profile the client has (see registry.Profile).
	profile string
}

func newMux(tb testing.TB, servers map[string]any, mo muxOptions, opts ...func(*upstream.Options)) *mux {
	tb.Helper()
	testutil.CheckLeaks(tb)
	file := map[string]any{"mcpServers": servers, "toolMode": "full"} // the catalogue itself, unless top says otherwise
	for k, v := range mo.top {
		file[k] = v
	}
	data, err := json.Marshal(file)
	if err != nil {
		tb.Fatal(err)
	}
	cfg, err := registry.Parse(data, func(string) (string, bool) { return "", false })
	if err != nil {
		tb.Fatalf("registry.Parse: %v", err)
	}
	logger := mo.logger
	if logger == nil {
		logger = testLogger(tb)
	}
	m := &mux{t: tb, sups: map[string]*upstream.Supervisor{}, catalogues: map[string]int{}}
	// Built as `mcpmux serve` builds it, with shorter delays.
	mx := muxer.New(cfg, muxer.Options{
		Logger:   logger,
		PageSize: mo.pageSize,
		Profile:  mo.profile,
		Proxy: func(o *proxy.Options) {
			o.ListChangedDelay = 10 * time.Millisecond
			o.MaxMessageSize = mo.maxSize
			o.MaxInFlight = mo.inFlight
			o.Clock = mo.clock
		},
		Upstream: func(_ *registry.Server, o *upstream.Options) {
			o.StopGrace = 200 * time.Millisecond
			deliver := o.OnCatalogue
			o.OnCatalogue = func(server string, c *registry.Catalogue) {
				deliver(server, c)
				m.delivered(server)
			}
			for _, f := range opts {
				f(o)
			}
		},
	})
	m.srv = mx.Proxy()
	for _, s := range mx.Upstreams() {
		m.sups[s.Name()] = s
	}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	clientIn, muxOut := io.Pipe()
	muxIn, clientOut := io.Pipe()
	wg.Go(func() {
		_ = mx.Run(ctx, muxIn, muxOut)
		muxOut.Close()
	})
	if mo.raw {
		m.lines = newLineClient(tb, clientIn, clientOut)
		tb.Cleanup(func() {
			clientOut.Close()
			cancel()
			wg.Wait()
		})
		return m
	}
	m.raw = transport.NewIO(clientIn, clientOut, nil)
	m.client = client.NewClient(m.raw, mo.client...)
	tb.Cleanup(func() {
		_ = m.client.Close()
		cancel()
		wg.Wait()
	})
	m.client.OnNotification(m.record)
	if err := m.client.Start(ctx); err != nil {
		tb.Fatalf("starting client: %v", err)
	}
	ictx, icancel := context.WithTimeout(ctx, 10*time.Second)
	defer icancel()
	req := mcp.InitializeRequest{}
	req.Params.ProtocolVersion = mo.protocol
	req.Params.ClientInfo = mcp.Implementation{Name: "proxy-test", Version: "1"}
	if _, err := m.client.Initialize(ictx, req); err != nil {
		tb.Fatalf("initializing client: %v", err)
	}
	return m
}

// request sends a raw request and returns the raw result or error.
func (m *mux) request(ctx context.Context, method string, params any) (json.RawMessage, *mcp.JSONRPCErrorDetails, error) {
	m.idMu.Lock()
	m.ids++
	id := fmt.Sprintf("t-%d", m.ids)
	m.idMu.Unlock()
	req := transport.JSONRPCRequest{JSONRPC: "2.0", ID: mcp.NewRequestId(id), Method: method, Params: params}
	resp, err := m.raw.SendRequest(ctx, req)
	if err != nil {
		return nil, nil, err
	}
	return resp.Result, resp.Error, nil
}

// call calls a tool and fails the test on any error.
func (m *mux) call(name string, args map[string]any) json.RawMessage {
	m.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 120*time.Second)
	defer cancel()
	res, rpcErr, err := m.request(ctx, "tools/call", map[string]any{"name": name, "arguments": args})
	if err != nil || rpcErr != nil {
		m.t.Fatalf("tools/call %s = error %v %+v", name, err, rpcErr)
	}
	return res
}

// tools lists the merged catalogue: name → raw tool object.
func (m *mux) tools() map[string]json.RawMessage {
	m.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	res, rpcErr, err := m.request(ctx, "tools/list", nil)
	if err != nil || rpcErr != nil {
		m.t.Fatalf("tools/list = error %v %+v", err, rpcErr)
	}
	var list struct{ Tools []json.RawMessage }
	if err := json.Unmarshal(res, &list); err != nil {
		m.t.Fatalf("decoding tools/list: %v", err)
	}
	out := map[string]json.RawMessage{}
	for _, raw := range list.Tools {
		var t struct{ Name string }
		_ = json.Unmarshal(raw, &t)
		out[t.Name] = raw
	}
	return out
}

// waitTools polls tools/list until every name in want is listed.
func (m *mux) waitTools(want ...string) map[string]json.RawMessage {
	m.t.Helper()
	var tools map[string]json.RawMessage
	var missing []string
	listed := func() bool {
		tools, missing = m.tools(), nil
		for _, w := range want {
			if _, ok := tools[w]; !ok {
				missing = append(missing, w)
			}
		}
		return len(missing) == 0
	}
	if !testutil.Await(listed) {
		m.t.Fatalf("tools never listed: %s (have %d tools)", strings.Join(missing, ", "), len(tools))
	}
	return tools
}

// text returns the text of the first content block of a tool result.
func text(tb testing.TB, res json.RawMessage) string {
	tb.Helper()
	var r struct {
		Content []struct{ Text string }
	}
	if err := json.Unmarshal(res, &r); err != nil || len(r.Content) == 0 {
		tb.Fatalf("tool result without text content: %s", truncate(res))
	}
	return r.Content[0].Text
}

func truncate(b []byte) string {
	if len(b) > 300 {
		return string(b[:300]) + "…"
	}
	return string(b)
}

// direct starts the test server with args and returns a client speaking to
// it without mcpmux, for comparisons.
func direct(tb testing.TB, args ...string) transport.Interface {
	tb.Helper()
	c, err := client.NewStdioMCPClient(testutil.TestServerPath(tb), nil, args...)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { _ = c.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := c.Start(ctx); err != nil {
		tb.Fatal(err)
	}
	req := mcp.InitializeRequest{}
	req.Params.ProtocolVersion = mcp.LATEST_LEGACY_PROTOCOL_VERSION
	if _, err := c.Initialize(ctx, req); err != nil {
		tb.Fatal(err)
	}
	return c.GetTransport()
}

// directIDs numbers direct requests: mcp-go's stdio transport loses the
// response to a request whose id was just used by another.
var directIDs atomic.Int64

// rawRequest sends a raw request on a direct transport.
func rawRequest(tb testing.TB, tr transport.Interface, method string, params any) json.RawMessage {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	id := mcp.NewRequestId(fmt.Sprintf("d-%d", directIDs.Add(1)))
	resp, err := tr.SendRequest(ctx, transport.JSONRPCRequest{JSONRPC: "2.0", ID: id, Method: method, Params: params})
	if err != nil || resp.Error != nil {
		tb.Fatalf("direct %s = %v %+v", method, err, resp)
	}
	return resp.Result
}
