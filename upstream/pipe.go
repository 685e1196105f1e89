package upstream

import (
	"context"
	"encoding/json"
	"sync"

	"github.com/mark3labs/mcp-go/client/transport"
	"github.com/mark3labs/mcp-go/mcp"

	"github.com/mcpmux/mcpmux/internal/jsonrpc"
)

// pipeTransport is the transport of a stdio upstream. Requests are written
// to the child's stdin; the connection's reader (route) hands each response
// straight to the request waiting for it. It stands in for mcp-go's stdio
// transport, which would cost every response two more goroutine hand-offs
// and three more decodings.
type pipeTransport struct {
	stdin   *lockedWriter
	waiters waiters

	done      chan struct{} // closed by Close
	closeOnce sync.Once
}

var _ transport.Interface = (*pipeTransport)(nil)

func newPipeTransport(stdin *lockedWriter) *pipeTransport {
	return &pipeTransport{stdin: stdin, done: make(chan struct{})}
}

func (t *pipeTransport) Start(context.Context) error { return nil }

func (t *pipeTransport) GetSessionId() string { return "" }

// SetNotificationHandler does nothing: route hands notifications on raw.
func (t *pipeTransport) SetNotificationHandler(func(mcp.JSONRPCNotification)) {}

// SendRequest writes the request and waits for its response, for ctx to
// end, or for the transport to close. The connection's ids are strings.
func (t *pipeTransport) SendRequest(ctx context.Context, req transport.JSONRPCRequest) (*transport.JSONRPCResponse, error) {
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
func (t *pipeTransport) SendNotification(_ context.Context, n mcp.JSONRPCNotification) error {
	line, err := json.Marshal(n)
	if err != nil {
		return err
	}
	return t.write(append(line, '\n'))
}

// deliver hands the response to request id (raw, as the child wrote it)
// to the request waiting for it.
func (t *pipeTransport) deliver(id json.RawMessage, resp *transport.JSONRPCResponse) {
	t.waiters.deliver(id, resp)
}

// Close fails the requests in flight and every later write.
func (t *pipeTransport) Close() error {
	t.closeOnce.Do(func() { close(t.done) })
	return nil
}

// write writes one line, newline included.
func (t *pipeTransport) write(line []byte) error {
	select {
	case <-t.done:
		return transport.ErrTransportClosed
	default:
	}
	_, err := t.stdin.Write(line)
	return err
}

// requestLine encodes a request with the string id as one line. Raw
// params are written as they are, so that a client's arguments reach the
// upstream byte for byte.
func requestLine(id string, req transport.JSONRPCRequest) ([]byte, error) {
	var params json.RawMessage
	switch p := req.Params.(type) {
	case nil:
	case json.RawMessage:
		params = p
	default:
		var err error
		if params, err = json.Marshal(p); err != nil {
			return nil, err
		}
	}
	var idBuf [40]byte
	return jsonrpc.AppendRequest(nil, jsonrpc.AppendQuote(idBuf[:0], id), req.Method, params), nil
}

// responseOf returns a decoded response in the transport's terms. The
// error's data stays raw.
func responseOf(m *jsonrpc.Message) *transport.JSONRPCResponse {
	resp := &transport.JSONRPCResponse{JSONRPC: jsonrpc.Version, Result: m.Result}
	if m.Error != nil {
		resp.Error = &mcp.JSONRPCErrorDetails{Code: m.Error.Code, Message: m.Error.Message}
		if m.Error.Data != nil {
			resp.Error.Data = m.Error.Data
		}
	}
	return resp
}
