package upstream

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"syscall"
	"time"

	"github.com/mark3labs/mcp-go/client/transport"
	"github.com/mark3labs/mcp-go/mcp"

	"github.com/mcpmux/mcpmux/registry"
)

// stdoutGrace is how long a child may live on after closing its stdout
// before the connection is declared dead anyway.
const stdoutGrace = time.Second

// stdioLink is the link of a stdio upstream: its child process, whose
// stdout conn reads itself (see route), and whose stdin the transport and
// the answers to the child's own requests share.
type stdioLink struct {
	proc   *process       // nil only in tests
	tr     *pipeTransport // matches the child's responses to requests
	stdin  *lockedWriter  // the child's stdin
	logger *slog.Logger
	stops  stopTimeouts
}

var _ link = (*stdioLink)(nil)

// dialStdio starts the child of srv and connects to its pipes. The child
// belongs to the conn until close returns.
func dialStdio(srv *registry.Server, o *Options, notify func(string, json.RawMessage)) (*conn, error) {
	proc, err := startProcess(srv, o.logger())
	if err != nil {
		return nil, err
	}
	stdin := &lockedWriter{w: proc.stdin}
	l := &stdioLink{
		proc:   proc,
		tr:     newPipeTransport(stdin),
		stdin:  stdin,
		logger: o.logger(),
		stops:  o.stopTimeouts(),
	}
	c := newConn(l.tr, l, srv.Name, o, notify)
	go c.route(proc.stdout, l)
	go func() {
		<-proc.exited
		c.die(proc.exitReason())
	}()
	return c, nil
}

// lost: a write that finds the child's stdin closed means the child can
// never be reached, though it may live on.
func (l *stdioLink) lost(err error) (error, bool) {
	if errors.Is(err, syscall.EPIPE) {
		return fmt.Errorf("writing to upstream: %w", err), false
	}
	return nil, false
}

// deathGrace: a closed stream or a failed write means the child is
// exiting; its exit status, the better explanation, follows closely.
func (l *stdioLink) deathGrace() time.Duration { return stdoutGrace + time.Second }

func (l *stdioLink) explain(err error) error { return err }

// release fails the requests still waiting for the child.
func (l *stdioLink) release() { _ = l.tr.Close() }

func (l *stdioLink) stop(ctx context.Context) {
	if l.proc != nil {
		_ = l.proc.stop(ctx, l.stops)
	}
}

func (l *stdioLink) pid() int {
	if l.proc == nil {
		return 0
	}
	return l.proc.cmd.Process.Pid
}

// route reads the child's stdout and hands each line on, on this one
// goroutine: responses to the requests waiting for them, notifications to
// c.receive as raw JSON, the child's own requests to serveStdio. A line
// that is not a JSON-RPC message is logged and skipped. At EOF the child is
// exiting; the connection dies with its exit status.
func (c *conn) route(stdout io.ReadCloser, l *stdioLink) {
	defer c.stdoutClosed(l.proc.exited)
	defer stdout.Close()
	br := bufio.NewReaderSize(stdout, 64<<10)
	garbage := 0
	for {
		line, err := br.ReadBytes('\n')
		if line = bytes.TrimSpace(line); len(line) > 0 && !c.routeLine(l, line) {
			garbage++
			logGarbage(c.logger, line, garbage)
		}
		if err != nil {
			return
		}
	}
}

// routeLine hands one message from the child on, and reports whether it
// was a JSON-RPC message at all.
func (c *conn) routeLine(l *stdioLink, line []byte) bool {
	var m struct {
		ID     json.RawMessage          `json:"id"`
		Method string                   `json:"method"`
		Params json.RawMessage          `json:"params"`
		Result json.RawMessage          `json:"result"`
		Error  *mcp.JSONRPCErrorDetails `json:"error"`
	}
	if json.Unmarshal(line, &m) != nil {
		return false
	}
	switch {
	case m.Method == "":
		var id mcp.RequestId
		if json.Unmarshal(m.ID, &id) != nil {
			return false
		}
		l.tr.deliver(&transport.JSONRPCResponse{JSONRPC: mcp.JSONRPC_VERSION, ID: id, Result: m.Result, Error: m.Error})
	case isNull(m.ID):
		c.receive(m.Method, m.Params)
	default:
		c.serveStdio(l, m.ID, m.Method, m.Params)
	}
	return true
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
func (c *conn) stdoutClosed(exited <-chan struct{}) {
	t := time.NewTimer(stdoutGrace)
	defer t.Stop()
	select {
	case <-exited:
	case <-t.C:
		c.die(errors.New("upstream closed its stdout"))
	}
}

// serveStdio answers one request from the child on a goroutine of its own
// and writes the answer to its stdin, unless the request was cancelled.
func (c *conn) serveStdio(l *stdioLink, id json.RawMessage, method string, params json.RawMessage) {
	ctx, done := c.track(c.life, id)
	go func() {
		defer done()
		res, err := c.serveIncoming(ctx, method, params)
		if ctx.Err() == nil || err == nil {
			l.answer(id, res, err)
		}
	}()
}

// answer writes the response to one of the child's requests.
func (l *stdioLink) answer(id, result json.RawMessage, err error) {
	var b bytes.Buffer
	b.WriteString(`{"jsonrpc":"2.0","id":`)
	b.Write(id)
	if err == nil {
		b.WriteString(`,"result":`)
		b.Write(result)
	} else {
		e, _ := json.Marshal(errorObject(err))
		b.WriteString(`,"error":`)
		b.Write(e)
	}
	b.WriteString("}\n")
	if _, werr := l.stdin.Write(b.Bytes()); werr != nil {
		l.logger.Debug("answering upstream request", "err", werr)
	}
}

// lockedWriter serialises whole messages on the child's stdin, which both
// the transport (requests) and conn (answers to the child's own requests)
// write to.
type lockedWriter struct {
	mu sync.Mutex
	w  io.WriteCloser
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

func (l *lockedWriter) Close() error { return l.w.Close() }
