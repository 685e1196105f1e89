package proxy

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/mark3labs/mcp-go/mcp"

	"github.com/mcpmux/mcpmux/upstream"
)

// handler serves one method that carries upstream data.
type handler func(sess *session, ctx context.Context, params json.RawMessage) (json.RawMessage, error)

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
func (sess *session) request(ctx context.Context, c *call, m envelope, line []byte) {
	if modern(m.Params) {
		// A 2026-07-28 client has no handshake: each request stands alone,
		// with the client's capabilities in its _meta.
		sess.modern.Store(true)
		sess.modernCapabilities(m.Params)
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
	if err := unsupportedVersion(m.Params); err != nil {
		sess.send(errorMessage(m.ID, err))
		return
	}
	result, err := h(sess, ctx, m.Params)
	if c.cancelled.Load() {
		return // the client asked us not to answer
	}
	if err != nil {
		sess.send(errorMessage(m.ID, toRPCError(err)))
		return
	}
	if modern(m.Params) {
		result = modernResult(m.Method, result)
	}
	sess.send(resultMessage(m.ID, result))
}

// delegate lets mcp-go serve a protocol method: the handshake, discovery,
// ping. The capabilities it reports are narrowed to what upstreams offer.
func (sess *session) delegate(ctx context.Context, c *call, m envelope, line []byte) {
	resp := sess.srv.mcp.HandleMessage(ctx, line)
	if resp == nil || c.cancelled.Load() {
		return
	}
	if r, ok := resp.(mcp.JSONRPCResponse); ok {
		switch res := r.Result.(type) {
		case mcp.InitializeResult:
			res.Capabilities = sess.srv.capabilities(res.Capabilities)
			r.Result = res
		case *mcp.DiscoverResult:
			res.Capabilities = sess.srv.capabilities(res.Capabilities)
		}
		resp = r
	}
	b, err := json.Marshal(resp)
	if err != nil {
		b = errorMessage(m.ID, errorf(codeInternalError, "encoding response: %s", err))
	}
	sess.send(b)
}

// toRPCError turns an error into what the client receives: an upstream's
// own JSON-RPC error unchanged, anything else with a message that names the
// server and says what happened.
func toRPCError(err error) *rpcError {
	var re *rpcError
	if errors.As(err, &re) {
		return re
	}
	var ue *upstream.RPCError
	if errors.As(err, &ue) {
		return &rpcError{Code: ue.Code, Message: ue.Message, Data: ue.Data}
	}
	if errors.Is(err, upstream.ErrUnavailable) || errors.Is(err, upstream.ErrConnectionLost) {
		return &rpcError{Code: codeUnavailable, Message: err.Error()}
	}
	return &rpcError{Code: codeInternalError, Message: err.Error()}
}

// modern reports whether a request follows protocol revision 2026-07-28,
// whose requests carry their protocol version in _meta.
func modern(params json.RawMessage) bool {
	if isNull(params) || !bytes.Contains(params, []byte(mcp.MetaKeyProtocolVersion)) {
		return false
	}
	var p struct {
		Meta map[string]json.RawMessage `json:"_meta"`
	}
	if json.Unmarshal(params, &p) != nil {
		return false
	}
	_, ok := p.Meta[mcp.MetaKeyProtocolVersion]
	return ok
}

// modernCapabilities keeps the client capabilities that the first request
// of a 2026-07-28 client declares in its _meta.
func (sess *session) modernCapabilities(params json.RawMessage) {
	sess.mu.Lock()
	defer sess.mu.Unlock()
	if sess.capsSet {
		return
	}
	var p struct {
		Meta struct {
			Caps mcp.ClientCapabilities `json:"io.modelcontextprotocol/clientCapabilities"`
		} `json:"_meta"`
	}
	_ = json.Unmarshal(params, &p)
	sess.clientCaps, sess.capsSet = p.Meta.Caps, true
}

// unsupportedVersion returns the error 2026-07-28 prescribes (-32022, with
// the versions mcpmux supports) for a request whose _meta names a protocol
// version mcpmux does not know; nil for any other request.
func unsupportedVersion(params json.RawMessage) *rpcError {
	if !modern(params) {
		return nil
	}
	meta, _ := memberValue(params, "_meta")
	version, _ := stringMember(meta, mcp.MetaKeyProtocolVersion)
	if mcp.IsValidProtocolVersion(version) {
		return nil
	}
	data, _ := json.Marshal(mcp.UnsupportedProtocolVersionData{Supported: mcp.ValidProtocolVersions, Requested: version})
	return &rpcError{Code: mcp.UNSUPPORTED_PROTOCOL_VERSION, Message: fmt.Sprintf("unsupported protocol version %q", version), Data: data}
}

// cacheable are the methods whose results 2026-07-28 requires to carry
// caching hints (ttlMs and cacheScope).
var cacheable = map[string]bool{
	"tools/list": true, "prompts/list": true, "resources/list": true,
	"resources/templates/list": true, "resources/read": true,
}

// modernResult adds to a result what 2026-07-28 requires of it and what an
// upstream that predates that revision does not send: resultType
// "complete", and, for a list or a read, the caching hints. mcpmux speaks
// the handshake revisions to its upstreams, which carry no hints, so a
// merged list is "private" with a TTL of 0 (to be re-fetched whenever the
// client wants it fresh); a read keeps hints the upstream sent.
func modernResult(method string, result json.RawMessage) json.RawMessage {
	add := func(key string, value []byte) {
		if _, _, ok, err := member(result, key); !ok && err == nil {
			result = insertMember(result, key, value)
		}
	}
	if cacheable[method] {
		add("cacheScope", []byte(`"private"`))
		add("ttlMs", []byte(`0`))
	}
	add("resultType", []byte(`"complete"`))
	return result
}

// forward sends one request to the upstream that owns e, bounded by the
// server's timeout. The call's progress token, if any, is routed back to
// the client while the request runs.
func (sess *session) forward(ctx context.Context, e entry, method string, params json.RawMessage) (json.RawMessage, error) {
	s := sess.srv
	r := s.route(e.server)
	if r == nil {
		return nil, errorf(codeUnavailable, "upstream %q is not configured", e.server)
	}
	if token, ok := progressToken(params); ok {
		sess.watchProgress(token, e.server)
		defer sess.unwatchProgress(token)
	}
	timeout := r.cfg.RequestTimeout()
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	defer sess.watchdog(e.server, timeout, func() { cancel(errTimeout) })()
	start := time.Now()
	res, err := r.up.Request(ctx, method, params)
	if errors.Is(err, errTimeout) {
		err = errorf(codeUpstreamTimeout, "upstream %q did not answer %s %q within %s; the request was cancelled",
			e.server, method, e.key, timeout)
	}
	if s.opts.OnCall != nil && method == "tools/call" {
		s.opts.OnCall(e.server, e.original, time.Since(start), err)
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
