package upstream

// What the upstream sends its client: notifications, which go on to
// Options.OnNotification, and requests (sampling, elicitation, roots,
// ping), which are admitted within bounds and answered through
// Options.OnRequest on goroutines of their own.

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/mcpmux/mcpmux/internal/jsonrpc"
)

// DefaultMaxIncoming bounds the requests one upstream may have waiting for
// the client at once (see [Options.MaxIncoming]).
const DefaultMaxIncoming = 32

// PersonWait bounds how long an upstream's request that a person may be
// answering (sampling, which hosts have a person approve, and
// elicitation) waits for the client, if the server's timeout is shorter.
const PersonWait = 10 * time.Minute

// incomingRequests is the bookkeeping of the requests the upstream sends
// its client: at most max at once, each for at most timeout (PersonWait,
// if longer, for those a person answers).
type incomingRequests struct {
	max     int
	timeout time.Duration

	mu      sync.Mutex
	cancels map[string]context.CancelFunc // by the upstream's raw request id
}

// receiveNotification handles one notification from the upstream: a
// cancellation ends the request of the upstream's it names, and every
// notification goes on to notify, which never blocks.
func (c *conn) receiveNotification(method string, params json.RawMessage) {
	if method == "notifications/cancelled" {
		c.cancelIncoming(params)
	}
	c.notify(method, params)
}

// answerRequest answers one request from the upstream: ping here, the
// rest (sampling, elicitation, roots) through Options.OnRequest, within
// ctx, which admit bounds.
func (c *conn) answerRequest(ctx context.Context, method string, params json.RawMessage) (json.RawMessage, error) {
	switch {
	case method == "ping":
		return json.RawMessage(`{}`), nil
	case c.onRequest == nil:
		return nil, &jsonrpc.Error{Code: jsonrpc.CodeMethodNotFound, Message: "mcpmux does not relay " + method}
	}
	ctx, cancel := context.WithTimeoutCause(ctx, c.in.bound(method), errIncomingTimeout)
	defer cancel()
	res, err := c.onRequest(ctx, method, params)
	if err != nil && errors.Is(context.Cause(ctx), errIncomingTimeout) {
		err = &jsonrpc.Error{Code: jsonrpc.CodeInternalError, Message: fmt.Sprintf(
			"mcpmux: no answer to %s from the client within %s", method, c.in.bound(method))}
	}
	return res, err
}

// bound is how long a request with method may wait for the client.
func (in *incomingRequests) bound(method string) time.Duration {
	switch method {
	case "sampling/createMessage", "elicitation/create":
		return max(in.timeout, PersonWait)
	}
	return in.timeout
}

var errIncomingTimeout = errors.New("the client did not answer in time")

// admit registers a request from the upstream under its raw id until done
// is called. Its context, derived from parent, ends when the upstream
// cancels it or the connection dies. It fails with an error for the
// upstream, at once, if the id is in use by another request in flight or
// if the upstream has the most requests in flight that it may have: a
// flood of them costs a bounded amount of memory.
func (c *conn) admit(parent context.Context, id json.RawMessage) (ctx context.Context, done func(), err error) {
	key := string(id)
	c.in.mu.Lock()
	defer c.in.mu.Unlock()
	switch {
	case c.in.cancels[key] != nil:
		return nil, nil, &jsonrpc.Error{Code: jsonrpc.CodeInvalidRequest, Message: "invalid request: id " + key + " is already in use by a request in flight"}
	case len(c.in.cancels) >= c.in.max:
		return nil, nil, &jsonrpc.Error{Code: jsonrpc.CodeInternalError, Message: fmt.Sprintf(
			"mcpmux: too many requests from this server waiting for the client (at most %d at once); try again later", c.in.max)}
	}
	ctx, cancel := context.WithCancel(parent)
	stop := context.AfterFunc(c.life, cancel)
	c.in.cancels[key] = cancel
	return ctx, func() {
		c.in.mu.Lock()
		delete(c.in.cancels, key)
		c.in.mu.Unlock()
		stop()
		cancel()
	}, nil
}

// cancelIncoming ends the request the upstream cancelled.
func (c *conn) cancelIncoming(params json.RawMessage) {
	id, err := jsonrpc.Member(params, "requestId")
	if err != nil || id == nil {
		return
	}
	c.in.mu.Lock()
	cancel := c.in.cancels[string(id)]
	c.in.mu.Unlock()
	if cancel != nil {
		cancel()
	}
}

// errorObject turns the error of an answer to the upstream into a JSON-RPC
// error: the client's own if it sent one, an internal error otherwise.
func errorObject(err error) *jsonrpc.Error {
	var re *jsonrpc.Error
	if errors.As(err, &re) {
		return re
	}
	return &jsonrpc.Error{Code: jsonrpc.CodeInternalError, Message: err.Error()}
}

// serveRequest answers one request from the upstream on a goroutine of its
// own and hands the answer to r, unless the upstream cancelled it or the
// connection died. A request beyond the bound of those in flight gets its
// error at once, from the reader.
func (c *conn) serveRequest(id json.RawMessage, method string, params json.RawMessage, r replier) {
	var parent context.Context = c.life
	if rel, ok := r.(*relatedReplier); ok {
		parent = valuesOf{c.life, rel.ctx}
	}
	ctx, done, err := c.admit(parent, id)
	if err != nil {
		r.answer(id, nil, err)
		return
	}
	go func() {
		defer done()
		res, err := c.answerRequest(ctx, method, params)
		if ctx.Err() == nil || err == nil {
			r.answer(id, res, err)
		}
	}()
}

// answerMessage encodes the response to one of the upstream's requests:
// its raw result, or err as a JSON-RPC error.
func answerMessage(id, result json.RawMessage, err error) []byte {
	if err == nil {
		return jsonrpc.AppendResult(nil, id, result)
	}
	return jsonrpc.AppendError(nil, id, errorObject(err))
}

// relatedReplier answers the requests that arrive while mcpmux's request
// with context ctx waits for its answer, on a stream of that request's
// own (a streamable HTTP response stream): they are part of it, so
// Options.OnRequest gets a context with ctx's values, which tell the
// caller whose request it is.
type relatedReplier struct {
	replier
	ctx context.Context
}

// valuesOf is a context that lives as its Context does and holds the
// values of values.
type valuesOf struct {
	context.Context
	values context.Context
}

func (v valuesOf) Value(key any) any { return v.values.Value(key) }
