package proxy

import (
	"context"
	"encoding/json"
	"errors"
	"io"

	"github.com/mcpmux/mcpmux/internal/jsonrpc"
)

// readLoop reads and dispatches messages until in ends or ctx is done.
// Requests are served concurrently; notifications and responses are
// handled in order, on the reading goroutine, which spares every message
// a hand-off. A message larger than the limit is refused and the next one
// read. A read blocked on in is left behind when ctx ends first; it ends
// with the input.
func (sess *session) readLoop(ctx context.Context, in io.Reader, calls *callGroup) error {
	done := make(chan error, 1)
	go func() {
		r := jsonrpc.NewReader(in, sess.srv.opts.MaxMessageSize)
		for {
			line, err := r.Next()
			switch tooLarge := jsonrpc.AsTooLarge(err); {
			case tooLarge != nil:
				sess.tooLarge(tooLarge)
				continue
			case err != nil:
				done <- err
				return
			case ctx.Err() == nil:
				sess.dispatch(ctx, line, calls, "")
			}
		}
	}()
	select {
	case <-ctx.Done():
		return nil
	case err := <-done:
		if errors.Is(err, io.EOF) {
			return nil
		}
		return err
	}
}

// dispatch routes one message from the client. A message that is not
// JSON-RPC 2.0, or whose params could be read two ways, gets an error and
// goes no further; so does a request whose id is that of one in flight.
// traceparent is that of the HTTP request that carried the message, ""
// for none.
func (sess *session) dispatch(ctx context.Context, line []byte, calls *callGroup, traceparent string) {
	m, err := jsonrpc.Decode(line)
	var p params
	if err == nil && !m.IsResponse() {
		p, err = readParams(m.Method, m.Params)
	}
	if err == nil && m.Method == "tools/call" && m.ID != nil {
		err = sess.unwrapCall(&m, &p)
	}
	switch {
	case err != nil && (m.IsResponse() || m.IsNotification()):
		sess.srv.logger.Debug("invalid message from the client; dropped", "err", err)
	case err != nil:
		sess.deliver(m.ID, true, jsonrpc.AppendError(nil, m.ID, sess.srv.clientError(err)))
	case m.IsResponse():
		sess.answered(&m)
	case m.IsNotification():
		sess.notification(ctx, &m, &p, line)
	case m.Method == "ping" && !p.stateless():
		sess.pong(m.ID)
	default:
		if m.Method == "tools/call" {
			sess.info.calls.Add(1)
		}
		sess.serve(ctx, &m, &p, line, calls, sess.traceOf(&m, &p, traceparent))
	}
}

// serve serves one request: on the reading goroutine if it can (see
// serveFast), else on a goroutine of its own (see request). A request that
// cannot be admitted (see admit.go) is answered at once with the error.
// tr is its trace context, nil for none (see traceOf).
func (sess *session) serve(ctx context.Context, m *jsonrpc.Message, p *params, line []byte, calls *callGroup, tr *reqTrace) {
	t := sess.target(m, p)
	switch served, err := sess.serveFast(m, p, len(line), t, tr); {
	case err != nil:
		tr.end(err)
		sess.deliver(m.ID, true, jsonrpc.AppendError(nil, m.ID, err))
		return
	case served:
		return
	}
	ctx, c, err := sess.startCall(ctx, m.ID, t.e.server)
	if err != nil {
		tr.end(err)
		sess.deliver(m.ID, true, jsonrpc.AppendError(nil, m.ID, err))
		return
	}
	if sess.remap {
		ctx = withCall(ctx, sess, m.ID)
	}
	ctx = withTrace(ctx, tr)
	huge := len(line) >= hugeMessage
	mc, pc := *m, *p // the goroutine's own, so that the fast path's stay on the stack
	if !calls.Go(func() {
		defer sess.endCall(c)
		defer tr.end(nil)
		sess.request(ctx, c, &mc, &pc, line)
		if huge {
			releaseMemory()
		}
	}) {
		tr.end(nil)
		sess.endCall(c)
	}
}

// notification handles one notification from the client.
func (sess *session) notification(ctx context.Context, m *jsonrpc.Message, p *params, line []byte) {
	switch m.Method {
	case "notifications/cancelled":
		if id := p.get(keyRoute); id != nil {
			sess.cancel(id)
		}
	case "notifications/roots/list_changed":
		for _, r := range sess.srv.routes() {
			if err := r.up.Notify(ctx, m.Method, m.Params); err != nil {
				sess.srv.logger.Debug("passing on roots change", "upstream", r.cfg.Name, "err", err)
			}
		}
	}
	sess.srv.mcp.HandleMessage(ctx, line)
}

// startCall registers a request to server ("" if it names none the
// catalogue knows now), so that the client can cancel it, or returns the
// error that refuses it (see addInflight).
func (sess *session) startCall(ctx context.Context, id json.RawMessage, server string) (context.Context, *call, *jsonrpc.Error) {
	ctx, cancel := context.WithCancel(ctx)
	c := &call{id: id, server: server, cancel: cancel}
	if err := sess.addInflight(c); err != nil {
		cancel()
		return nil, nil, err
	}
	return ctx, c, nil
}

// endCall ends request c. Calling it again does nothing.
func (sess *session) endCall(c *call) {
	sess.mu.Lock()
	if sess.inflight[string(c.id)] == c {
		delete(sess.inflight, string(c.id))
		sess.released(c)
	}
	sess.mu.Unlock()
	c.end()
}

// cancelAll cancels every request in flight: the session is ending.
func (sess *session) cancelAll() {
	sess.mu.Lock()
	calls := make([]*call, 0, len(sess.inflight))
	for _, c := range sess.inflight {
		calls = append(calls, c)
	}
	sess.mu.Unlock()
	for _, c := range calls {
		c.end()
	}
}

// cancel cancels the request with the given id, as the client asked.
func (sess *session) cancel(id json.RawMessage) {
	sess.mu.Lock()
	c := sess.inflight[string(id)]
	sess.mu.Unlock()
	if c != nil {
		c.cancelled.Store(true)
		c.end()
	}
}

// tooLarge answers a message that was larger than the limit, if its id
// can be told: the client would wait for an answer in vain otherwise.
func (sess *session) tooLarge(e *jsonrpc.TooLargeError) {
	id := e.ID()
	sess.srv.logger.Warn("message from the client too large; dropped", "size", e.Size, "max_message_size", e.Max, "id", string(id))
	msg := "invalid request: the client sent " + e.Error()
	sess.deliver(id, true, jsonrpc.AppendError(nil, id, &jsonrpc.Error{Code: jsonrpc.CodeInvalidRequest, Message: msg}))
}
