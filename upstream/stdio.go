package upstream

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"syscall"
	"time"

	"github.com/mcpmux/mcpmux/internal/jsonrpc"
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
	c := newConn(l.tr, l, srv, o, notify)
	go c.route(proc.stdout, l, o.MaxMessageSize)
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
// goroutine (see routeLine). A line longer than maxSize is skipped; the
// request it answers, if that can be told, fails with an error that names
// the limit. At EOF the child is exiting; the connection dies with its
// exit status.
func (c *conn) route(stdout io.ReadCloser, l *stdioLink, maxSize int) {
	defer c.stdoutClosed(l.proc.exited)
	defer stdout.Close()
	r := jsonrpc.NewReader(stdout, maxSize)
	for {
		line, err := r.Next()
		var tooLarge *jsonrpc.TooLargeError
		switch {
		case errors.As(err, &tooLarge):
			c.tooLarge(l, tooLarge)
		case err != nil:
			return
		default:
			c.routeLine(l, line)
		}
	}
}

// routeLine hands one message from the child on: a response to the
// request waiting for it, a notification to c.receive as raw JSON, the
// child's own request to serveStdio. What is not a JSON-RPC 2.0 message
// is logged, rate-limited, and skipped; an invalid response to a request
// of ours fails that request, and an invalid request with a usable id gets
// an error, so that neither side waits in vain.
func (c *conn) routeLine(l *stdioLink, line []byte) {
	m, err := jsonrpc.Decode(line)
	if err == nil && m.IsNotification() {
		err = checkNotification(m.Params)
	}
	switch {
	case err != nil && m.IsResponse() && m.ID != nil:
		l.tr.deliver(m.ID, responseOf(&jsonrpc.Message{Error: &jsonrpc.Error{
			Code: jsonrpc.CodeInternalError, Message: "the upstream sent an invalid response: " + err.Message}}))
	case err != nil && m.ID != nil && !m.IsResponse():
		l.answer(m.ID, nil, err)
	case err != nil:
		c.garbage(line, err)
	case m.IsResponse():
		l.tr.deliver(m.ID, responseOf(&m))
	case m.IsNotification():
		c.receive(m.Method, m.Params)
	default:
		c.serveStdio(l, m.ID, m.Method, m.Params)
	}
}

// notificationKeys are the members of an upstream notification's params
// that mcpmux routes by (a progress token, a cancelled request, a
// resource, a logger), which may not differ from these only in case.
var notificationKeys = []string{"progressToken", "requestId", "uri", "logger", "_meta"}

// checkNotification refuses params that could be read two ways (see
// [jsonrpc.Scan]): mcpmux could route a notification by one member and the
// client read another.
func checkNotification(params json.RawMessage) *jsonrpc.Error {
	var sp [5]jsonrpc.Span
	if err := jsonrpc.Scan(params, notificationKeys, sp[:]); err != nil && params != nil && !errors.Is(err, jsonrpc.ErrNotObject) {
		return jsonrpc.Errorf(jsonrpc.CodeInvalidRequest, "invalid notification: params: %s", err)
	}
	return nil
}

// tooLarge handles a message from the child that was larger than the
// limit: the request it answers fails with an error that says so, a
// request of the child's gets one.
func (c *conn) tooLarge(l *stdioLink, e *jsonrpc.TooLargeError) {
	id := e.ID()
	c.logger.Warn("message from upstream too large; dropped", "size", e.Size, "max_message_size", e.Max, "id", string(id))
	switch {
	case id == nil:
	case e.Method() != "":
		l.answer(id, nil, &jsonrpc.Error{Code: jsonrpc.CodeInvalidRequest, Message: "invalid request: mcpmux received " + e.Error()})
	default:
		l.tr.deliver(id, responseOf(&jsonrpc.Message{Error: &jsonrpc.Error{
			Code: jsonrpc.CodeInternalError, Message: "the upstream sent " + e.Error()}}))
	}
}

// garbage logs a line from the child that is not a JSON-RPC message,
// rate-limited: the first few in full, then one line per hundred.
func (c *conn) garbage(line []byte, err *jsonrpc.Error) {
	n := c.garbageLines.Add(1)
	if n > 5 && n%100 != 0 {
		return
	}
	const max = 200
	if len(line) > max {
		line = append(line[:max:max], "…"...)
	}
	if err.Code == jsonrpc.CodeParseError {
		c.logger.Warn("upstream wrote non-JSON to stdout; skipped", "line", string(line), "count", n)
		return
	}
	c.logger.Warn("upstream wrote an invalid JSON-RPC message; skipped", "line", string(line), "err", err.Message, "count", n)
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
// and writes the answer to its stdin, unless the child cancelled it or the
// connection died. A request beyond the bound of those in flight gets its
// error at once, from the reader.
func (c *conn) serveStdio(l *stdioLink, id json.RawMessage, method string, params json.RawMessage) {
	ctx, done, err := c.track(c.life, id)
	if err != nil {
		l.answer(id, nil, err)
		return
	}
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
	var msg []byte
	if err == nil {
		msg = jsonrpc.AppendResult(nil, id, result)
	} else {
		msg = jsonrpc.AppendError(nil, id, errorObject(err))
	}
	if _, werr := l.stdin.Write(msg); werr != nil {
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
