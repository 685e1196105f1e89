package proxy

import (
	"context"
	"encoding/json"
	"errors"
	"sync/atomic"
	"time"

	"github.com/mcpmux/mcpmux/internal/jsonrpc"
	"github.com/mcpmux/mcpmux/upstream"
)

// handler serves one method that carries upstream data, with the params
// that readParams checked.
type handler func(sess *session, ctx context.Context, p *params) (json.RawMessage, error)

// handlers are the methods served here rather than by mcp-go, so that what
// upstreams send passes through as raw JSON.
var handlers = map[string]handler{
	"tools/list":               (*session).listTools,
	"tools/call":               (*session).callTool,
	"prompts/list":             (*session).listPrompts,
	"prompts/get":              (*session).getPrompt,
	"resources/list":           (*session).listResources,
	"resources/templates/list": (*session).listTemplates,
	"resources/read":           (*session).readResource,
	"resources/subscribe":      (*session).subscribe,
	"resources/unsubscribe":    (*session).unsubscribe,
	"completion/complete":      (*session).complete,
	"logging/setLevel":         (*session).setLevel,
}

// request serves one request from the client and sends the response,
// unless the client cancelled the request.
func (sess *session) request(ctx context.Context, c *call, m *jsonrpc.Message, p *params, line []byte) {
	if p.stateless() {
		// A 2026-07-28 client has no handshake: each request stands alone,
		// with the client's capabilities in its _meta.
		sess.stateless.Store(true)
		sess.capabilitiesFromMeta(m.Params)
		sess.protocolFromMeta(p)
		sess.Initialize()
	}
	if m.Method == "subscriptions/listen" {
		sess.mu.Lock()
		sess.listen.id = m.ID
		sess.mu.Unlock()
	}
	h, ok := handlers[m.Method]
	if !ok {
		sess.delegate(ctx, c, m, line)
		return
	}
	if err := unsupportedVersion(p); err != nil {
		sess.reply(c, jsonrpc.AppendError(nil, m.ID, err))
		return
	}
	result, err := h(sess, ctx, p)
	if c.cancelled.Load() {
		return // the client asked us not to answer
	}
	if err != nil {
		sess.reply(c, jsonrpc.AppendError(nil, m.ID, sess.srv.clientError(err)))
		return
	}
	if p.stateless() {
		result = statelessResult(m.Method, result)
	}
	sess.replyResult(c, result)
}

// forward sends one request to the upstream that owns e, bounded by the
// server's timeout. The call's progress token (from p; nil for none) is
// routed back to the client while the request runs.
func (sess *session) forward(ctx context.Context, e entry, method string, params json.RawMessage, p *params) (json.RawMessage, error) {
	s := sess.srv
	r := s.route(e.server)
	if r == nil {
		return nil, jsonrpc.Errorf(jsonrpc.CodeUnavailable, "upstream %q is not configured", e.server)
	}
	id := callID(ctx, sess)
	if sess.remap {
		ctx = withCall(ctx, sess, id)
	}
	params, token, clientToken := sess.remapProgress(params, p)
	if token != "" {
		sess.watchProgress(token, e.server, id, clientToken)
		defer sess.unwatchProgress(token)
	}
	defer sess.atUpstream(e.server, id)()
	timeout := r.cfg.RequestTimeout()
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	defer sess.watchdog(e.server, timeout, func() { cancel(errTimeout) })()
	params, endUp := traceFrom(ctx).upstream(e.server, method, params)
	start := time.Now()
	// An upstream with a "maxConcurrency" queues each session's requests
	// apart, and serves the sessions in turn.
	res, err := r.up.Request(upstream.WithQueueKey(ctx, sess), method, params)
	outcome := CallOK
	if s.opts.OnCall != nil && method == "tools/call" {
		outcome = outcomeOf(res, err)
		if outcome == CallError && ctx.Err() != nil && !errors.Is(context.Cause(ctx), errTimeout) {
			outcome = CallCancelled
		}
	}
	if errors.Is(err, errTimeout) {
		err = timeoutError(e, method, timeout)
	}
	endUp(err)
	if s.opts.OnCall != nil && method == "tools/call" {
		s.opts.OnCall(e.server, e.original, time.Since(start), outcome, err)
	}
	return res, err
}

var errTimeout = errors.New("upstream timeout")

// watchdog calls expire once timeout has passed, not counting the time the
// server spends waiting for the client to answer one of its requests (a
// person may be answering an elicitation): the timeout starts again when
// the client answers. It returns a function that stops it.
func (sess *session) watchdog(server string, timeout time.Duration, expire func()) (stop func()) {
	var t *time.Timer
	t = time.AfterFunc(timeout, func() {
		if wait := sess.sinceAsking(server, timeout); wait > 0 {
			t.Reset(wait)
			return
		}
		expire()
	})
	return func() { t.Stop() }
}

// callKey keys the client's request that a context serves: the upstream
// hands it back with the requests it sends while serving it, where its
// transport can tell (a streamable HTTP response stream), so that they
// reach the session and the request they belong to.
type callKey struct{}

// callRef is the client's request that a context serves.
type callRef struct {
	sess *session
	id   json.RawMessage // nil for a call that outlives its request (a flight)
}

// withCall returns ctx serving the request id of sess.
func withCall(ctx context.Context, sess *session, id json.RawMessage) context.Context {
	return context.WithValue(ctx, callKey{}, &callRef{sess: sess, id: id})
}

// callOf returns the request ctx serves, or nil.
func callOf(ctx context.Context) *callRef {
	ref, _ := ctx.Value(callKey{}).(*callRef)
	return ref
}

// callID returns the id of the request of sess that ctx serves; nil if
// none.
func callID(ctx context.Context, sess *session) json.RawMessage {
	if ref := callOf(ctx); ref != nil && ref.sess == sess {
		return ref.id
	}
	return nil
}

// upCall is one request of the client's in flight at an upstream.
type upCall struct {
	id  json.RawMessage // nil for a flight
	seq int64           // order of starting, across sessions
}

var upCallSeq atomic.Int64

// atUpstream records that the session's request id is in flight at
// server, until the function it returns is called: an upstream's request
// that its transport cannot tie to a call goes to a session with a call
// in flight at it (see Server.requester). A session served alone needs no
// record: every request goes to it.
func (sess *session) atUpstream(server string, id json.RawMessage) (done func()) {
	if !sess.remap {
		return noop
	}
	c := upCall{id: id, seq: upCallSeq.Add(1)}
	sess.mu.Lock()
	sess.upCalls[server] = append(sess.upCalls[server], c)
	sess.mu.Unlock()
	return func() {
		sess.mu.Lock()
		defer sess.mu.Unlock()
		calls := sess.upCalls[server]
		for i := range calls {
			if calls[i].seq == c.seq {
				calls = append(calls[:i:i], calls[i+1:]...)
				break
			}
		}
		if len(calls) == 0 {
			delete(sess.upCalls, server)
		} else {
			sess.upCalls[server] = calls
		}
	}
}

func noop() {}
