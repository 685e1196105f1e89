package upstream

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"sync"
)

// incoming is the bookkeeping of requests the upstream sends us.
type incoming struct {
	mu      sync.Mutex
	cancels map[string]context.CancelFunc // by the upstream's raw request id
}

// receive handles one notification from the upstream: a cancellation ends
// the request of the upstream's it names, and every notification goes on
// to notify, which never blocks.
func (c *conn) receive(method string, params json.RawMessage) {
	if method == "notifications/cancelled" {
		c.cancelIncoming(params)
	}
	c.notify(method, params)
}

// serveIncoming answers one request from the upstream: ping here, the rest
// (sampling, elicitation, roots) through Options.OnRequest. There is no
// time limit of mcpmux's own, because a person may be answering an
// elicitation.
func (c *conn) serveIncoming(ctx context.Context, method string, params json.RawMessage) (json.RawMessage, error) {
	switch {
	case method == "ping":
		return json.RawMessage(`{}`), nil
	case c.onRequest == nil:
		return nil, &RPCError{Code: -32601, Message: "mcpmux does not relay " + method}
	}
	return c.onRequest(ctx, method, params)
}

// track registers a request from the upstream under its raw id until done
// is called. Its context, derived from parent, also ends when the upstream
// cancels it or the connection dies.
func (c *conn) track(parent context.Context, id json.RawMessage) (ctx context.Context, done func()) {
	ctx, cancel := context.WithCancel(parent)
	stop := context.AfterFunc(c.life, cancel)
	key := string(bytes.TrimSpace(id))
	c.in.mu.Lock()
	c.in.cancels[key] = cancel
	c.in.mu.Unlock()
	return ctx, func() {
		c.in.mu.Lock()
		delete(c.in.cancels, key)
		c.in.mu.Unlock()
		stop()
		cancel()
	}
}

// cancelIncoming ends the request the upstream cancelled.
func (c *conn) cancelIncoming(params json.RawMessage) {
	var p struct {
		RequestID json.RawMessage `json:"requestId"`
	}
	if json.Unmarshal(params, &p) != nil {
		return
	}
	c.in.mu.Lock()
	cancel := c.in.cancels[string(bytes.TrimSpace(p.RequestID))]
	c.in.mu.Unlock()
	if cancel != nil {
		cancel()
	}
}

// wireError is a JSON-RPC error object.
type wireError struct {
	Code    int             `json:"code"`
	Message string          `json:"message"`
	Data    json.RawMessage `json:"data,omitempty"`
}

// errorObject turns the error of an answer to the upstream into a JSON-RPC
// error: the client's own if it sent one, an internal error otherwise.
func errorObject(err error) wireError {
	var re *RPCError
	if errors.As(err, &re) {
		return wireError{Code: re.Code, Message: re.Message, Data: re.Data}
	}
	return wireError{Code: -32603, Message: err.Error()}
}
