package proxy

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/mark3labs/mcp-go/mcp"

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
	if p.modern() {
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
	if p.modern() {
		result = modernResult(m.Method, result)
	}
	sess.replyResult(c, result)
}

// delegate lets mcp-go serve a protocol method: the handshake, discovery,
// ping. The capabilities it reports are narrowed to what upstreams offer.
// mcp-go decodes the request's id, and would answer an integer above 2^53
// with another (or fail to decode 1e400): the answer goes out under the id
// as the client wrote it, and mcp-go sees a stand-in for an id it cannot
// hold. (A stand-in cannot serve throughout: mcp-go tags the notifications
// of a subscriptions/listen stream with the listen request's id.)
func (sess *session) delegate(ctx context.Context, c *call, m *jsonrpc.Message, line []byte) {
	if !exactInMCPGo(m.ID) {
		line = jsonrpc.AppendRequest(nil, standIn(), m.Method, m.Params)
	}
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
	out, err := reframe(resp)
	switch {
	case err != nil:
		sess.reply(c, jsonrpc.AppendError(nil, m.ID, sess.srv.clientError(err)))
	case out.Error != nil:
		sess.reply(c, jsonrpc.AppendError(nil, m.ID, sess.srv.clientError(out.Error)))
	default:
		sess.reply(c, jsonrpc.AppendResult(nil, m.ID, out.Result))
	}
}

// exactInMCPGo reports whether mcp-go's RequestId holds id exactly: a
// string, or an integer of at most 15 digits (float64 holds those).
func exactInMCPGo(id json.RawMessage) bool {
	if id[0] == '"' {
		return true
	}
	digits := strings.TrimPrefix(string(id), "-")
	return len(digits) <= 15 && strings.Trim(digits, "0123456789") == ""
}

var standIns atomic.Int64

// standIn returns a fresh id for a request mcp-go serves under another.
func standIn() json.RawMessage {
	return jsonrpc.Quote("mcpmux-stand-in-" + strconv.FormatInt(standIns.Add(1), 10))
}

// reframe encodes mcp-go's response and decodes it again in the wire's
// terms.
func reframe(resp mcp.JSONRPCMessage) (jsonrpc.Message, *jsonrpc.Error) {
	b, err := json.Marshal(resp)
	if err != nil {
		return jsonrpc.Message{}, jsonrpc.Errorf(jsonrpc.CodeInternalError, "encoding response: %s", err)
	}
	return jsonrpc.Decode(b)
}

// toRPCError turns an error into what the client receives: a JSON-RPC
// error unchanged (an upstream's own, or mcpmux's), anything else with a
// message that names the server and says what happened.
func toRPCError(err error) *jsonrpc.Error {
	var re *jsonrpc.Error
	if errors.As(err, &re) {
		return re
	}
	if errors.Is(err, upstream.ErrUnavailable) || errors.Is(err, upstream.ErrConnectionLost) {
		return &jsonrpc.Error{Code: jsonrpc.CodeUnavailable, Message: err.Error()}
	}
	return &jsonrpc.Error{Code: jsonrpc.CodeInternalError, Message: err.Error()}
}

// clientError is the error the client receives for err, with every
// configured secret masked in its message and data: an upstream may
// quote its environment, a failing remote server the headers it was sent.
func (s *Server) clientError(err error) *jsonrpc.Error {
	e := toRPCError(err)
	m := s.opts.Masker
	if m == nil {
		return e
	}
	masked := &jsonrpc.Error{Code: e.Code, Message: m.String(e.Message), Data: e.Data}
	if e.Data != nil {
		masked.Data = m.JSON(e.Data)
	}
	return masked
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
func unsupportedVersion(p *params) *jsonrpc.Error {
	if !p.modern() {
		return nil
	}
	version, _ := jsonrpc.String(p.metaValue(metaProtocolVersion))
	if mcp.IsValidProtocolVersion(version) {
		return nil
	}
	data, _ := json.Marshal(mcp.UnsupportedProtocolVersionData{Supported: mcp.ValidProtocolVersions, Requested: version})
	return &jsonrpc.Error{Code: mcp.UNSUPPORTED_PROTOCOL_VERSION, Message: fmt.Sprintf("unsupported protocol version %q", version), Data: data}
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
		if v, err := jsonrpc.Member(result, key); v == nil && err == nil {
			result = jsonrpc.Insert(result, key, value)
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
// server's timeout. The call's progress token (from p; nil for none) is
// routed back to the client while the request runs.
func (sess *session) forward(ctx context.Context, e entry, method string, params json.RawMessage, p *params) (json.RawMessage, error) {
	s := sess.srv
	r := s.route(e.server)
	if r == nil {
		return nil, jsonrpc.Errorf(jsonrpc.CodeUnavailable, "upstream %q is not configured", e.server)
	}
	if token, ok := p.progressToken(); p != nil && ok {
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
		err = jsonrpc.Errorf(jsonrpc.CodeUpstreamTimeout, "upstream %q did not answer %s %q within %s; the request was cancelled",
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
