package upstream

import (
	"context"
	"encoding/json"
	"sync"

	"github.com/mcpmux/mcpmux/internal/jsonrpc"
)

// stdioTransport is the transport of a stdio upstream. Requests are written
// to the child's stdin; the connection's reader (conn.readStdout) hands each response
// straight to the request waiting for it. It stands in for mcp-go's stdio
// transport, which would cost every response two more goroutine hand-offs
// and three more decodings.
type stdioTransport struct {
	stdin   *lockedWriter
	waiters waiters

	done      chan struct{} // closed by close
	closeOnce sync.Once
}

var _ transport = (*stdioTransport)(nil)

func newStdioTransport(stdin *lockedWriter) *stdioTransport {
	return &stdioTransport{stdin: stdin, done: make(chan struct{})}
}

func (t *stdioTransport) start(context.Context) error { return nil }

// roundTrip writes the request and waits for its response, for ctx to
// end, or for the transport to close.
func (t *stdioTransport) roundTrip(ctx context.Context, req *wireRequest) (*jsonrpc.Message, error) {
	answer, remove := t.waiters.add(req.id)
	defer remove()
	if err := t.write(req.line); err != nil {
		return nil, err
	}
	select {
	case resp := <-answer:
		return resp, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	case <-t.done:
		return nil, errTransportClosed
	}
}

// send writes one message, a line.
func (t *stdioTransport) send(_ context.Context, msg []byte) error { return t.write(msg) }

// deliver hands the response to request id (raw, as the child wrote it)
// to the request waiting for it.
func (t *stdioTransport) deliver(id json.RawMessage, resp *jsonrpc.Message) {
	t.waiters.deliver(id, resp)
}

// close fails the requests in flight and every later write.
func (t *stdioTransport) close() error {
	t.closeOnce.Do(func() {
		close(t.done)
		t.waiters.failFuncs(errTransportClosed)
	})
	return nil
}

// startTrip writes req, whose response goes to done (see waiters.addFunc),
// without blocking: if the child's stdin is busy with another message, it
// reports false and sends nothing. A write that the pipe cannot take whole
// at once is finished on a goroutine of its own, which keeps stdin until
// it is done; one that fails fails the request.
func (t *stdioTransport) startTrip(req *wireRequest, done tripAnswerer) bool {
	select {
	case <-t.done:
		done.answered(nil, errTransportClosed)
		return true
	default:
	}
	t.waiters.addFunc(req.id, done)
	started := t.stdin.tryWrite(req.line, done)
	if !started {
		t.waiters.take(req.id)
	}
	return started
}

// tripAnswerer is told the outcome of a request of startTrip's: its
// response, or why there is none; or that its write failed, when it takes
// the request back from the waiters (see forget) and fails it.
type tripAnswerer interface {
	answerer
	writeFailer
}

// forget stops waiting for the response to request id, and reports
// whether it was still awaited; its done is not called.
func (t *stdioTransport) forget(id string) bool {
	_, ok := t.waiters.take(id)
	return ok
}

// write writes one line, newline included.
func (t *stdioTransport) write(line []byte) error {
	select {
	case <-t.done:
		return errTransportClosed
	default:
	}
	_, err := t.stdin.Write(line)
	return err
}
