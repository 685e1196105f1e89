package statuspage_test

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mark3labs/mcp-go/client"
	"github.com/mark3labs/mcp-go/client/transport"
	"github.com/mark3labs/mcp-go/mcp"

	"github.com/mcpmux/mcpmux/internal/mux"
	"github.com/mcpmux/mcpmux/internal/statuspage"
	"github.com/mcpmux/mcpmux/internal/testutil"
	"github.com/mcpmux/mcpmux/proxy/httpserve"
	"github.com/mcpmux/mcpmux/registry"
	"github.com/mcpmux/mcpmux/upstream"
)

// secret is in beta's environment: it must never reach the page.
const secret = "sekrit-7f3a9c1e55"

// system is mcpmux serve --http, built as serve builds it, with two real
// test server upstreams, alpha and beta.
type system struct {
	t     *testing.T
	m     *mux.Mux
	base  string // http://127.0.0.1:PORT
	token string // the listener's; "" for none
	log   *testutil.SyncBuffer
}

type setup struct {
	token   string
	servers map[string]any // replaces alpha and beta
	pins    string         // Options.PinsDir
	ready   int            // how many upstreams start waits for; 0: all
}

// start runs the system until the test ends, and waits for every
// upstream to be ready.
func start(t *testing.T, s setup) *system {
	t.Helper()
	testutil.CheckLeaks(t)
	servers := s.servers
	if servers == nil {
		beta := testutil.TestServer(t)
		beta["env"] = map[string]string{"BETA_API_KEY": secret}
		servers = map[string]any{"alpha": testutil.TestServer(t), "beta": beta}
	}
	data, err := json.Marshal(map[string]any{"mcpServers": servers})
	if err != nil {
		t.Fatal(err)
	}
	cfg, _ := registry.Parse(data, func(string) (string, bool) { return "", false })
	if cfg == nil {
		t.Fatalf("registry.Parse(%s) gave no configuration", data)
	}
	sys := &system{t: t, log: &testutil.SyncBuffer{}, token: s.token}
	logger := slog.New(slog.NewTextHandler(sys.log, &slog.HandlerOptions{Level: slog.LevelDebug}))
	sys.m = mux.New(cfg, mux.Options{
		Logger: logger, Version: "test", Shared: true, PinsDir: s.pins,
		Load:     func() (*registry.Config, error) { return cfg, nil },
		Upstream: func(_ *registry.Server, o *upstream.Options) { o.StopGrace = 200 * time.Millisecond },
	})
	page := sys.m.StatusPage()
	page.Token, page.Logger = s.token, logger
	hs := httpserve.New(sys.m.Proxy(), httpserve.Options{Logger: logger, Token: s.token, Ready: sys.m.Ready, Page: statuspage.Handler(page), ShutdownGrace: time.Second})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	sys.base = "http://" + ln.Addr().String()
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Go(func() {
		if err := sys.m.RunWith(ctx, func(ctx context.Context) error { return hs.Serve(ctx, ln) }); err != nil {
			t.Errorf("RunWith = %v", err)
		}
	})
	t.Cleanup(func() {
		cancel()
		wg.Wait()
		http.DefaultClient.CloseIdleConnections()
	})
	testutil.WaitFor(t, "the upstreams ready", func() bool {
		ready, total := sys.m.Ready()
		return ready == total || (s.ready > 0 && ready >= s.ready)
	})
	return sys
}

// connect opens an MCP session over streamable HTTP with the official
// client of mcp-go, named name, and closes it when the test ends.
func (sys *system) connect(name string) *client.Client {
	t := sys.t
	t.Helper()
	var opts []transport.StreamableHTTPCOption
	if tok := sys.token; tok != "" {
		opts = append(opts, transport.WithHTTPHeaders(map[string]string{"Authorization": "Bearer " + tok}))
	}
	c, err := client.NewStreamableHttpClient(sys.base+"/mcp", opts...)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), testutil.WaitTimeout)
	defer cancel()
	if err := c.Start(ctx); err != nil {
		t.Fatal(err)
	}
	req := mcp.InitializeRequest{}
	req.Params.ProtocolVersion = "2025-11-25" // a handshake revision: a session of its own
	req.Params.ClientInfo = mcp.Implementation{Name: name, Version: "1.2.3"}
	if _, err := c.Initialize(ctx, req); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// call calls tool (its exposed name); the call may fail.
func call(t *testing.T, c *client.Client, tool string, args map[string]any) (*mcp.CallToolResult, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), testutil.WaitTimeout)
	defer cancel()
	req := mcp.CallToolRequest{}
	req.Params.Name = tool
	req.Params.Arguments = args
	return c.CallTool(ctx, req)
}

// view reads /status.json with headers.
func (sys *system) view(headers map[string]string) (*statuspage.View, string) {
	t := sys.t
	t.Helper()
	code, body := sys.do(http.MethodGet, "/status.json", "", headers)
	if code != http.StatusOK {
		t.Fatalf("GET /status.json = %d %s", code, body)
	}
	var v statuspage.View
	if err := json.Unmarshal([]byte(body), &v); err != nil {
		t.Fatalf("decoding /status.json: %v\n%s", err, body)
	}
	return &v, body
}

// do sends a request to path and returns the status and the body.
func (sys *system) do(method, path, body string, headers map[string]string) (int, string) {
	t := sys.t
	t.Helper()
	req, err := http.NewRequest(method, sys.base+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range headers {
		if k == "Host" {
			req.Host = v
			continue
		}
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var b strings.Builder
	_, _ = io.Copy(&b, resp.Body)
	return resp.StatusCode, b.String()
}

// upstream returns the page's line of server.
func upstreamOf(t *testing.T, v *statuspage.View, server string) statuspage.Upstream {
	t.Helper()
	for _, u := range v.Upstreams {
		if u.Server == server {
			return u
		}
	}
	t.Fatalf("no upstream %q on the page: %+v", server, v.Upstreams)
	return statuspage.Upstream{}
}
