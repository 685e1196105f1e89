package upstream

import (
	"encoding/json"
	"errors"

	"github.com/mcpmux/mcpmux/internal/jsonrpc"
)

// replier is how a conn answers what its upstream sends, over whichever
// transport: deliver hands a response to the request of mcpmux's that
// waits for it (a response nobody waits for is dropped), and answer sends
// the response to one of the upstream's own requests. Both never block for
// long and are safe for concurrent use.
type replier interface {
	deliver(id json.RawMessage, resp *jsonrpc.Message)
	answer(id, result json.RawMessage, err error)
}

// dispatch hands one message from the upstream on: a response to the
// request waiting for it, a notification to c.receiveNotification as raw
// JSON, the upstream's own request to c.serveRequest. What is not a JSON-RPC 2.0 message
// is logged, rate-limited, and skipped; an invalid response to a request
// of ours fails that request, and an invalid request with a usable id gets
// an error, so that neither side waits in vain.
func (c *conn) dispatch(data []byte, r replier) {
	m, err := jsonrpc.Decode(data)
	if err == nil && m.IsNotification() {
		err = checkNotification(m.Params)
	}
	switch {
	case err != nil && m.IsResponse() && m.ID != nil:
		r.deliver(m.ID, &jsonrpc.Message{Error: &jsonrpc.Error{
			Code: jsonrpc.CodeInternalError, Message: "the upstream sent an invalid response: " + err.Message}})
	case err != nil && m.ID != nil && !m.IsResponse():
		r.answer(m.ID, nil, err)
	case err != nil:
		c.garbage(data, err)
	case m.IsResponse():
		c.deliverInOrder(r, &m)
	case m.IsNotification():
		c.receiveNotification(m.Method, m.Params)
	default:
		c.serveRequest(m.ID, m.Method, m.Params, r)
	}
}

// deliverInOrder hands a response on after the notifications the
// upstream sent before it (see noteQueue.after): at once, on this
// goroutine, when none of them is still queued, as nearly always.
func (c *conn) deliverInOrder(r replier, m *jsonrpc.Message) {
	if c.notes == nil || c.notes.idle() {
		r.deliver(m.ID, m)
		return
	}
	resp := *m
	c.notes.after(func() { r.deliver(resp.ID, &resp) })
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

// dropTooLarge handles a message from the upstream that was larger than
// the limit: the request it answers fails with an error that says so, a
// request of the upstream's gets one.
func (c *conn) dropTooLarge(e *jsonrpc.TooLargeError, r replier) {
	id := e.ID()
	c.logger.Warn("message from upstream too large; dropped", "size", e.Size, "max_message_size", e.Max, "id", string(id))
	switch {
	case id == nil:
	case e.Method() != "":
		r.answer(id, nil, &jsonrpc.Error{Code: jsonrpc.CodeInvalidRequest, Message: "invalid request: mcpmux received " + e.Error()})
	default:
		r.deliver(id, &jsonrpc.Message{Error: &jsonrpc.Error{
			Code: jsonrpc.CodeInternalError, Message: "the upstream sent " + e.Error()}})
	}
}

// garbage logs a message from the upstream that is not a JSON-RPC
// message, rate-limited: the first few in full, then one in a hundred.
func (c *conn) garbage(data []byte, err *jsonrpc.Error) {
	n := c.garbageLines.Add(1)
	if n > 5 && n%100 != 0 {
		return
	}
	const max = 200
	if len(data) > max {
		data = append(data[:max:max], "…"...)
	}
	if err.Code == jsonrpc.CodeParseError {
		c.logger.Warn("upstream wrote non-JSON; skipped", "line", string(data), "count", n)
		return
	}
	c.logger.Warn("upstream wrote an invalid JSON-RPC message; skipped", "line", string(data), "err", err.Message, "count", n)
}
