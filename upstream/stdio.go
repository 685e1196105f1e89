package upstream

import (
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

	"github.com/mcpmux/mcpmux/registry"
)

// stdoutGrace is how long a child may live on after closing its stdout
// before the connection is declared dead anyway.
const stdoutGrace = time.Second

// stdioLink is the link of a stdio upstream: its child process, whose
// stdout conn routes itself (see route) and whose stdin it shares with the
// mcp-go transport.
type stdioLink struct {
	proc   *process       // nil only in tests
	pipe   *io.PipeWriter // feeds the child's responses to the transport
	stdin  *lockedWriter  // the child's stdin
	logger *slog.Logger
	stops  stopTimeouts
}

var _ link = (*stdioLink)(nil)

// dialStdio starts the child of srv and wraps its pipes in an mcp-go
// transport. The child belongs to the conn until close returns.
func dialStdio(srv *registry.Server, o *Options, notify func(string, json.RawMessage)) (*conn, error) {
	msgs := make(chan []byte, 64)
	proc, err := startProcess(srv, msgs, o.logger())
	if err != nil {
		return nil, err
	}
	fromChild, toTransport := io.Pipe()
	l := &stdioLink{
		proc:   proc,
		pipe:   toTransport,
		stdin:  &lockedWriter{w: proc.stdin},
		logger: o.logger(),
		stops:  o.stopTimeouts(),
	}
	c := newConn(transport.NewIO(fromChild, l.stdin, nil), l, srv.Name, o, notify)
	go c.route(msgs, l)
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

// release closes the pipe to the transport, whose reader sees a clean EOF.
func (l *stdioLink) release() { _ = l.pipe.Close() }

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

// route hands each line from the child to its reader: notifications go to
// c.receive as raw JSON (mcp-go's typed notifications lose detail), the
// child's own requests to serveStdio, responses to the mcp-go transport,
// which matches them to requests. A line that is not a JSON object is
// logged and skipped, so it never reaches the transport.
func (c *conn) route(msgs <-chan []byte, l *stdioLink) {
	defer c.stdoutClosed(l.proc.exited)
	defer l.pipe.Close()
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
			c.receive(m.Method, m.Params)
			continue
		default:
			c.serveStdio(l, m.ID, m.Method, m.Params)
			continue
		}
		// After death nobody reads the pipe; keep draining msgs so that the
		// child's stdout never blocks before it is gone.
		_, _ = l.pipe.Write(append(line, '\n'))
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
// the mcp-go transport (requests) and conn (answers to the child's own
// requests) write to.
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
