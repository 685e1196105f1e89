package upstream

import (
	"bytes"
	"context"
	"encoding/json"
	"sync"

	"github.com/mark3labs/mcp-go/client/transport"
	"github.com/mark3labs/mcp-go/mcp"
)

// pipeTransport is the transport of a stdio upstream. Requests are written
// to the child's stdin; the connection's reader (route) hands each response
// straight to the request waiting for it. It stands in for mcp-go's stdio
// transport, which would cost every response two more goroutine hand-offs
// and three more decodings.
type pipeTransport struct {
	stdin *lockedWriter

	mu      sync.Mutex
	pending map[string]chan *transport.JSONRPCResponse // by request id

	done      chan struct{} // closed by Close
	closeOnce sync.Once
}

var _ transport.Interface = (*pipeTransport)(nil)

func newPipeTransport(stdin *lockedWriter) *pipeTransport {
	return &pipeTransport{stdin: stdin, pending: map[string]chan *transport.JSONRPCResponse{}, done: make(chan struct{})}
}

func (t *pipeTransport) Start(context.Context) error { return nil }

func (t *pipeTransport) GetSessionId() string { return "" }

// SetNotificationHandler does nothing: route hands notifications on raw.
func (t *pipeTransport) SetNotificationHandler(func(mcp.JSONRPCNotification)) {}

// SendRequest writes the request and waits for its response, for ctx to
// end, or for the transport to close.
func (t *pipeTransport) SendRequest(ctx context.Context, req transport.JSONRPCRequest) (*transport.JSONRPCResponse, error) {
	line, err := requestLine(req)
	if err != nil {
		return nil, err
	}
	key := req.ID.String()
	answer := make(chan *transport.JSONRPCResponse, 1)
	t.mu.Lock()
	t.pending[key] = answer
	t.mu.Unlock()
	defer func() {
		t.mu.Lock()
		delete(t.pending, key)
		t.mu.Unlock()
	}()
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
	return t.write(line)
}

// deliver hands a response from the child to the request waiting for it;
// a response nobody waits for (its request was cancelled) is dropped.
func (t *pipeTransport) deliver(resp *transport.JSONRPCResponse) {
	t.mu.Lock()
	answer := t.pending[resp.ID.String()]
	t.mu.Unlock()
	if answer != nil {
		select {
		case answer <- resp:
		default: // a duplicate response
		}
	}
}

// Close fails the requests in flight and every later write.
func (t *pipeTransport) Close() error {
	t.closeOnce.Do(func() { close(t.done) })
	return nil
}

func (t *pipeTransport) write(line []byte) error {
	select {
	case <-t.done:
		return transport.ErrTransportClosed
	default:
	}
	_, err := t.stdin.Write(append(line, '\n'))
	return err
}

// requestLine encodes a request as one line. Raw params are written as
// they are, so that a client's arguments reach the upstream byte for byte.
func requestLine(req transport.JSONRPCRequest) ([]byte, error) {
	raw, ok := req.Params.(json.RawMessage)
	if !ok || bytes.ContainsAny(raw, "\r\n") {
		return json.Marshal(req)
	}
	id, err := json.Marshal(req.ID)
	if err != nil {
		return nil, err
	}
	var b bytes.Buffer
	b.Grow(len(raw) + len(id) + len(req.Method) + 48)
	b.WriteString(`{"jsonrpc":"2.0","id":`)
	b.Write(id)
	method, err := json.Marshal(req.Method)
	if err != nil {
		return nil, err
	}
	b.WriteString(`,"method":`)
	b.Write(method)
	if len(raw) > 0 {
		b.WriteString(`,"params":`)
		b.Write(raw)
	}
	b.WriteString("}")
	return b.Bytes(), nil
}
