// Package httpserver runs an MCP server over HTTP for tests: mcp-go's own
// server behind an [httptest.Server], speaking streamable HTTP or the older
// HTTP+SSE transport, with tools that exercise a client (see [Start]). A
// [Control] shows what the server received and changes the server while it
// runs: it can forget every session, change its tools, notify its clients,
// and stop.
package httpserver

import (
	"bytes"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mark3labs/mcp-go/server"
)

// Kind is the transport a test server speaks.
type Kind string

const (
	Streamable Kind = "http" // streamable HTTP, stateful, at /mcp
	SSE        Kind = "sse"  // HTTP+SSE of MCP 2024-11-05, at /sse
)

// Options configures Start. The zero value means defaults.
type Options struct {
	// Name is what the whoami tool answers. Empty means "remote".
	Name string
	// Addr is the address to listen on, such as that of a server closed
	// before. Empty means a free port on 127.0.0.1.
	Addr string
}

// Control is a running test server. Its methods are safe for concurrent
// use.
type Control struct {
	kind      Kind
	name      string
	srv       *httptest.Server
	quit      chan struct{} // closed by Close; ends the calls in flight
	closeOnce sync.Once
	cancelled atomic.Int32 // slow calls whose context ended early
	streams   atomic.Int32 // GET streams open now

	mu       sync.Mutex
	mcp      *server.MCPServer
	handler  http.Handler
	requests []Request
}

// Request is what the server received in one HTTP request.
type Request struct {
	HTTPMethod string
	Header     http.Header
	// Method, ID and Params are the JSON-RPC message of a POST; Method is
	// empty for a response.
	Method string
	ID     json.RawMessage
	Params json.RawMessage
}

// Start runs a test server of kind until the test ends and returns its MCP
// endpoint's URL. Its tools are described in tools.go.
func Start(tb testing.TB, kind Kind, opts Options) (url string, ctl *Control) {
	tb.Helper()
	c := &Control{kind: kind, name: opts.Name, quit: make(chan struct{})}
	if c.name == "" {
		c.name = "remote"
	}
	c.mcp, c.handler = c.newServer()
	c.srv = httptest.NewUnstartedServer(http.HandlerFunc(c.serveHTTP))
	if opts.Addr != "" {
		l, err := net.Listen("tcp", opts.Addr)
		if err != nil {
			tb.Fatalf("listening on %s: %v", opts.Addr, err)
		}
		c.srv.Listener.Close()
		c.srv.Listener = l
	}
	c.srv.Start()
	tb.Cleanup(c.Close)
	return c.URL(), c
}

// newServer returns a new MCP server and the HTTP handler serving it.
func (c *Control) newServer() (*server.MCPServer, http.Handler) {
	s := server.NewMCPServer(c.name, "1.0.0", server.WithToolCapabilities(true))
	c.addTools(s)
	if c.kind == SSE {
		return s, server.NewSSEServer(s)
	}
	return s, server.NewStreamableHTTPServer(s,
		server.WithStateful(true),
		server.WithStreamableHTTPLogger(slog.New(slog.DiscardHandler)))
}

// serveHTTP records the request and hands it to the current handler.
func (c *Control) serveHTTP(w http.ResponseWriter, r *http.Request) {
	rec := Request{HTTPMethod: r.Method, Header: r.Header.Clone()}
	if r.Method == http.MethodPost {
		body, _ := io.ReadAll(r.Body)
		r.Body = io.NopCloser(bytes.NewReader(body))
		var m struct {
			Method string
			ID     json.RawMessage
			Params json.RawMessage
		}
		_ = json.Unmarshal(body, &m)
		rec.Method, rec.ID, rec.Params = m.Method, m.ID, m.Params
	}
	c.mu.Lock()
	c.requests = append(c.requests, rec)
	h := c.handler
	c.mu.Unlock()
	if r.Method == http.MethodGet {
		c.streams.Add(1)
		defer c.streams.Add(-1)
	}
	h.ServeHTTP(w, r)
}

// URL returns the server's MCP endpoint.
func (c *Control) URL() string {
	if c.kind == SSE {
		return c.srv.URL + "/sse"
	}
	return c.srv.URL + "/mcp"
}

// Addr returns the address the server listens on.
func (c *Control) Addr() string { return c.srv.Listener.Addr().String() }

// Close stops the server: it closes every client connection, streams
// included, waits for its handlers and ends the calls still running (the
// SSE server runs them apart from any connection). It may be called more
// than once.
func (c *Control) Close() {
	c.closeOnce.Do(func() {
		defer close(c.quit)
		done := make(chan struct{})
		go func() {
			defer close(done)
			c.srv.Close() // waits for the handlers
		}()
		for {
			c.srv.CloseClientConnections() // streams would hold Close up
			select {
			case <-done:
				return
			case <-time.After(10 * time.Millisecond):
			}
		}
	})
}

// Restart replaces the MCP server with a new one, as if the process had
// restarted: every session is forgotten, and requests on one get HTTP 404.
func (c *Control) Restart() {
	s, h := c.newServer()
	c.mu.Lock()
	defer c.mu.Unlock()
	c.mcp, c.handler = s, h
}

// Requests returns the HTTP requests received so far.
func (c *Control) Requests() []Request {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]Request(nil), c.requests...)
}

// Methods returns the JSON-RPC methods of the requests and notifications
// received so far, in order.
func (c *Control) Methods() []string {
	var methods []string
	for _, r := range c.Requests() {
		if r.Method != "" {
			methods = append(methods, r.Method)
		}
	}
	return methods
}

// Streams returns how many GET streams are open now: the standalone
// listening stream of streamable HTTP, the event stream of SSE.
func (c *Control) Streams() int { return int(c.streams.Load()) }

// Cancelled returns how many slow calls saw their context end before they
// finished.
func (c *Control) Cancelled() int { return int(c.cancelled.Load()) }

// Broadcast sends a notification to every client connected.
func (c *Control) Broadcast(method string, params map[string]any) {
	c.server().SendNotificationToAllClients(method, params)
}

func (c *Control) server() *server.MCPServer {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.mcp
}
