package upstream

import (
	"context"
	"encoding/json"
	"sync"

	"github.com/mark3labs/mcp-go/client/transport"
	"github.com/mark3labs/mcp-go/mcp"
)

// stdioTransport is the transport of a stdio upstream. Requests are written
// to the child's stdin; the connection's reader (conn.readStdout) hands each response
// straight to the request waiting for it. It stands in for mcp-go's stdio
// transport, which would cost every response two more goroutine hand-offs
// and three more decodings.
type stdioTransport struct {
	stdin   *lockedWriter
	waiters waiters

	done      chan struct{} // closed by Close
	closeOnce sync.Once
}

var _ transport.Interface = (*stdioTransport)(nil)

func newStdioTransport(stdin *lockedWriter) *stdioTransport {
	return &stdioTransport{stdin: stdin, done: make(chan struct{})}
}

func (t *stdioTransport) Start(context.Context) error { return nil }

func (t *stdioTransport) GetSessionId() string { return "" }

// SetNotificationHandler does nothing: conn.readStdout hands notifications on raw.
func (t *stdioTransport) SetNotificationHandler(func(mcp.JSONRPCNotification)) {}

// SendRequest writes the request and waits for its response, for ctx to
// end, or for the transport to close. The connection's ids are strings.
func (t *stdioTransport) SendRequest(ctx context.Context, req transport.JSONRPCRequest) (*transport.JSONRPCResponse, error) {
	line, answer, remove, err := t.waiters.start(req)
	if err != nil {
		return nil, err
	}
	defer remove()
	if err := t.write(line); err != nil {
		return nil, err
	}
	select {
	case resp := <-answer:
		return resp, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	case <-t.done:
		return nil, transport.ErrTransportClosed
	}
}

// SendNotification writes one notification.
func (t *stdioTransport) SendNotification(_ context.Context, n mcp.JSONRPCNotification) error {
	line, err := json.Marshal(n)
	if err != nil {
		return err
	}
	return t.write(append(line, '\n'))
}

// deliver hands the response to request id (raw, as the child wrote it)
// to the request waiting for it.
func (t *stdioTransport) deliver(id json.RawMessage, resp *transport.JSONRPCResponse) {
	t.waiters.deliver(id, resp)
}

// Close fails the requests in flight and every later write.
func (t *stdioTransport) Close() error {
	t.closeOnce.Do(func() { close(t.done) })
	return nil
}

// write writes one line, newline included.
func (t *stdioTransport) write(line []byte) error {
	select {
	case <-t.done:
		return transport.ErrTransportClosed
	default:
	}
	_, err := t.stdin.Write(line)
	return err
}
