package upstream

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/mark3labs/mcp-go/client/transport"
	"github.com/mark3labs/mcp-go/mcp"

	"github.com/mcpmux/mcpmux/registry"
)

// conn is one live connection to an upstream: started, initialised, and
// serving requests until it dies or is closed. A conn is never reused; the
// Supervisor makes a new one for every attempt.
type conn struct {
	tr        transport.Interface
	proc      *process       // nil for remote upstreams
	pipe      *io.PipeWriter // feeds the child's stdout to the transport
	logger    *slog.Logger
	stop      stopTimeouts
	notify    func(method string, params json.RawMessage) // never blocks
	onRequest func(ctx context.Context, method string, params json.RawMessage) (json.RawMessage, error)
	stdin     *lockedWriter   // the child's stdin, shared with the transport
	life      context.Context // ends when the connection dies
	endLife   context.CancelFunc
	in        incoming

	init   initResult
	nextID atomic.Int64

	done      chan struct{} // closed when the connection is dead
	deathOnce sync.Once
	deathErr  error // why the connection died; set before done closes
}

// initResult is what the upstream said about itself in the handshake.
type initResult struct {
	ProtocolVersion string          `json:"protocolVersion"`
	Capabilities    json.RawMessage `json:"capabilities"`
	ServerInfo      json.RawMessage `json:"serverInfo"`
	Instructions    string          `json:"instructions,omitempty"`
}

// dialStdio starts the child of srv and wraps its pipes in an mcp-go
// transport. The child belongs to the conn until close returns.
func dialStdio(srv *registry.Server, o *Options, notify func(string, json.RawMessage)) (*conn, error) {
	msgs := make(chan []byte, 64)
	proc, err := startProcess(srv, msgs, o.logger())
	if err != nil {
		return nil, err
	}
	fromChild, toTransport := io.Pipe()
	stdin := &lockedWriter{w: proc.stdin}
	life, endLife := context.WithCancel(context.Background())
	c := &conn{
		tr:        transport.NewIO(fromChild, stdin, nil),
		stdin:     stdin,
		life:      life,
		endLife:   endLife,
		onRequest: o.request(srv.Name),
		in:        incoming{cancels: map[string]context.CancelFunc{}},
		proc:      proc,
		pipe:      toTransport,
		logger:    o.logger(),
		stop:      o.stopTimeouts(),
		notify:    notify,
		done:      make(chan struct{}),
	}
	go c.route(msgs, toTransport)
	go func() {
		<-proc.exited
		c.die(proc.exitReason())
	}()
	return c, nil
}

// stdoutGrace is how long a child may live on after closing its stdout
// before the connection is declared dead anyway.
const stdoutGrace = time.Second

// route hands each line from the child to its reader: notifications go to
// c.notify as raw JSON (mcp-go's typed notifications lose detail), the
// child's own requests to serveIncoming, responses to the mcp-go
// transport, which matches them to requests. A line that is not a JSON
// object is logged and skipped, so it never reaches the transport.
func (c *conn) route(msgs <-chan []byte, w *io.PipeWriter) {
	defer c.stdoutClosed()
	defer w.Close()
	garbage := 0
	for line := range msgs {
		var m struct {
			ID     json.RawMessage `json:"id"`
			Method string          `json:"method"`
			Params json.RawMessage `json:"params"`
		}
		switch {
		case json.Unmarshal(line, &m) != nil:
			garbage++
			logGarbage(c.logger, line, garbage)
			continue
		case m.Method == "":
		case isNull(m.ID):
			if m.Method == "notifications/cancelled" {
				c.cancelIncoming(m.Params)
			}
			c.notify(m.Method, m.Params)
			continue
		default:
			c.serveIncoming(m.ID, m.Method, m.Params)
			continue
		}
		// After death nobody reads the pipe; keep draining msgs so that the
		// child's stdout never blocks before it is gone.
		_, _ = w.Write(append(line, '\n'))
	}
}

// logGarbage reports a stdout line that is not a JSON-RPC message,
// rate-limited: the first few in full, then one line per hundred.
func logGarbage(logger *slog.Logger, line []byte, n int) {
	if n > 5 && n%100 != 0 {
		return
	}
	const max = 200
	if len(line) > max {
		line = append(line[:max:max], "…"...)
	}
	logger.Warn("upstream wrote non-JSON to stdout; skipped", "line", string(line), "count", n)
}

// stdoutClosed waits for the child to exit after its stdout ended, so that
// the connection dies with the exit status as its reason; a child that
// lives on without stdout is useless and dies with a reason of its own.
func (c *conn) stdoutClosed() {
	t := time.NewTimer(stdoutGrace)
	defer t.Stop()
	select {
	case <-c.proc.exited:
	case <-t.C:
		c.die(errors.New("upstream closed its stdout"))
	}
}

// isNull reports whether a raw JSON value is absent or null.
func isNull(v json.RawMessage) bool {
	return len(v) == 0 || string(v) == "null"
}

// die marks the connection dead for reason and fails every request in
// flight at once. Only the first reason counts.
func (c *conn) die(reason error) {
	c.deathOnce.Do(func() {
		c.deathErr = reason
		close(c.done)
		c.endLife()
		_ = c.tr.Close()
		if c.pipe != nil {
			_ = c.pipe.Close() // the transport's reader sees a clean EOF
		}
	})
}

// close stops the connection and, for a stdio upstream, its child, and
// waits until the child has been reaped.
func (c *conn) close(ctx context.Context) {
	c.die(errors.New("connection closed by mcpmux"))
	if c.proc != nil {
		_ = c.proc.stop(ctx, c.stop)
	}
}

// handshake performs MCP's initialize exchange. mcpmux speaks the
// handshake-based revisions to its upstreams, which every server supports.
func (c *conn) handshake(ctx context.Context, clientInfo mcp.Implementation, caps json.RawMessage) error {
	if err := c.tr.Start(ctx); err != nil {
		return fmt.Errorf("starting transport: %w", err)
	}
	if isNull(caps) {
		caps = json.RawMessage("{}")
	}
	params, err := json.Marshal(map[string]any{
		"protocolVersion": mcp.LATEST_LEGACY_PROTOCOL_VERSION,
		"capabilities":    caps,
		"clientInfo":      clientInfo,
	})
	if err != nil {
		return err
	}
	raw, err := c.request(ctx, "initialize", params)
	if err != nil {
		return fmt.Errorf("initializing: %w", err)
	}
	if err := json.Unmarshal(raw, &c.init); err != nil {
		return fmt.Errorf("decoding initialize result: %w", err)
	}
	if !mcp.IsValidProtocolVersion(c.init.ProtocolVersion) {
		return fmt.Errorf("initializing: unsupported protocol version %q", c.init.ProtocolVersion)
	}
	if h, ok := c.tr.(transport.HTTPConnection); ok {
		h.SetProtocolVersion(c.init.ProtocolVersion)
	}
	return c.sendNotification(ctx, "notifications/initialized", nil)
}

// request sends one request and returns the upstream's raw result. If ctx
// ends first, the upstream is told the request is cancelled.
func (c *conn) request(ctx context.Context, method string, params json.RawMessage) (json.RawMessage, error) {
	id := mcp.NewRequestId("mx-" + strconv.FormatInt(c.nextID.Add(1), 10))
	req := transport.JSONRPCRequest{JSONRPC: mcp.JSONRPC_VERSION, ID: id, Method: method}
	if len(params) > 0 {
		req.Params = params
	}
	resp, err := c.tr.SendRequest(ctx, req)
	switch {
	case err == nil && resp.Error != nil:
		return nil, rpcError(resp.Error)
	case err == nil:
		return resp.Result, nil
	case ctx.Err() != nil:
		c.cancel(id, method, context.Cause(ctx))
		return nil, context.Cause(ctx)
	case c.awaitDeath(ctx):
		return nil, fmt.Errorf("%w: %w", ErrConnectionLost, c.deathErr)
	case errors.Is(err, syscall.EPIPE):
		// The child closed its stdin but lives on: it can never be reached.
		c.die(fmt.Errorf("writing to upstream: %w", err))
		return nil, fmt.Errorf("%w: %w", ErrConnectionLost, c.deathErr)
	default:
		return nil, err
	}
}

// awaitDeath reports whether the connection is dying after a transport
// error. A closed stream or a failed write means the child is exiting; its
// exit status, the better explanation, follows closely.
func (c *conn) awaitDeath(ctx context.Context) bool {
	t := time.NewTimer(stdoutGrace + time.Second)
	defer t.Stop()
	select {
	case <-c.done:
		return true
	case <-ctx.Done():
	case <-t.C:
	}
	return false
}

// cancel tells the upstream to stop working on request id. It is sent off
// the caller's path: a child that does not read its stdin must not hold up
// the caller, who already has its answer.
func (c *conn) cancel(id mcp.RequestId, method string, reason error) {
	if method == "initialize" || c.dead() {
		return
	}
	params, _ := json.Marshal(map[string]any{"requestId": id, "reason": reason.Error()})
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		_ = c.sendNotification(ctx, "notifications/cancelled", params)
	}()
}

// sendNotification sends one notification with raw params.
func (c *conn) sendNotification(ctx context.Context, method string, params json.RawMessage) error {
	n := mcp.JSONRPCNotification{JSONRPC: mcp.JSONRPC_VERSION}
	n.Method = method
	if len(params) > 0 {
		if err := json.Unmarshal(params, &n.Params); err != nil {
			return fmt.Errorf("decoding %s params: %w", method, err)
		}
	}
	return c.tr.SendNotification(ctx, n)
}

// pid returns the process id of the child; 0 for a remote upstream.
func (c *conn) pid() int {
	if c.proc == nil {
		return 0
	}
	return c.proc.cmd.Process.Pid
}

func (c *conn) dead() bool {
	select {
	case <-c.done:
		return true
	default:
		return false
	}
}

func rpcError(d *mcp.JSONRPCErrorDetails) *RPCError {
	e := &RPCError{Code: d.Code, Message: d.Message}
	if d.Data != nil {
		e.Data, _ = json.Marshal(d.Data)
	}
	return e
}
