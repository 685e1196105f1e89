package upstream

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"sync"
)

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

// incoming is the bookkeeping of requests the upstream sends us.
type incoming struct {
	mu      sync.Mutex
	cancels map[string]context.CancelFunc // by the upstream's raw request id
}

// serveIncoming answers one request from the upstream: ping here, the rest
// (sampling, elicitation, roots) through Options.OnRequest, on a goroutine
// of its own. The request's context ends when the upstream cancels it or
// the connection dies; there is no other time limit, because a person may
// be answering an elicitation.
func (c *conn) serveIncoming(id json.RawMessage, method string, params json.RawMessage) {
	if method == "ping" || c.onRequest == nil {
		var err error
		if method != "ping" {
			err = &RPCError{Code: -32601, Message: "mcpmux does not relay " + method}
		}
		c.answer(id, json.RawMessage(`{}`), err)
		return
	}
	ctx, cancel := context.WithCancel(c.life)
	c.in.mu.Lock()
	c.in.cancels[string(id)] = cancel
	c.in.mu.Unlock()
	go func() {
		defer func() {
			c.in.mu.Lock()
			delete(c.in.cancels, string(id))
			c.in.mu.Unlock()
			cancel()
		}()
		res, err := c.onRequest(ctx, method, params)
		if ctx.Err() == nil || err == nil {
			c.answer(id, res, err)
		}
	}()
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

// answer writes the response to one of the upstream's requests.
func (c *conn) answer(id, result json.RawMessage, err error) {
	var b bytes.Buffer
	b.WriteString(`{"jsonrpc":"2.0","id":`)
	b.Write(id)
	var re *RPCError
	switch {
	case err == nil:
		b.WriteString(`,"result":`)
		b.Write(result)
	case errors.As(err, &re):
		e, _ := json.Marshal(map[string]any{"code": re.Code, "message": re.Message, "data": re.Data})
		b.WriteString(`,"error":`)
		b.Write(e)
	default:
		e, _ := json.Marshal(map[string]any{"code": -32603, "message": err.Error()})
		b.WriteString(`,"error":`)
		b.Write(e)
	}
	b.WriteString("}\n")
	if _, werr := c.stdin.Write(b.Bytes()); werr != nil {
		c.logger.Debug("answering upstream request", "err", werr)
	}
}
