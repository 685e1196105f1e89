package proxy

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/mcpmux/mcpmux/internal/jsonrpc"
)

// UpstreamNotification relays one notification from an upstream to the
// client. Progress goes only to the call that asked for it, while it runs;
// log messages, to every session, carry the upstream's name in logger;
// resource updates go to the sessions subscribed to the resource; list
// changes are handled by re-reading the catalogue (see SetCatalogue), not
// relayed.
func (s *Server) UpstreamNotification(server, method string, params json.RawMessage) {
	var ok bool
	switch {
	case strings.HasSuffix(method, "/list_changed"):
		return
	case method == "notifications/progress":
		raw, err := jsonrpc.Member(params, "progressToken")
		token, found := tokenKey(raw)
		if err != nil || !found {
			return
		}
		r, ok := s.progressFor(token, server)
		if !ok || !r.sess.Initialized() {
			return // not for a call of this upstream that is still running
		}
		if r.token != nil {
			if params, err = jsonrpc.Set(params, "progressToken", r.token); err != nil {
				return
			}
		}
		r.sess.sendFor(r.call, jsonrpc.AppendNotification(nil, method, params))
		return
	case method == "notifications/message":
		if params, ok = withLogger(params, server); !ok {
			return
		}
	case method == "notifications/cancelled":
		return // the upstream cancelled a request of its own: its context ends (see UpstreamRequest)
	}
	var msg []byte
	for _, sess := range s.openSessions() {
		if !sess.Initialized() {
			continue
		}
		if method == "notifications/resources/updated" {
			uri, found := jsonrpc.StringMember(params, "uri")
			if !found || !sess.subscribedAt(uri, server) {
				continue // an update the client never asked for
			}
			if p, ok := sess.listenParams(method, params); ok {
				sess.send(jsonrpc.AppendNotification(nil, method, p))
			}
			continue
		}
		if msg == nil {
			msg = jsonrpc.AppendNotification(nil, method, params)
		}
		sess.send(msg)
	}
}

// withLogger prefixes a log message's logger with the upstream's name. It
// reports false for params that could be read two ways.
func withLogger(params json.RawMessage, server string) (json.RawMessage, bool) {
	raw, err := jsonrpc.Member(params, "logger")
	if err != nil && !errors.Is(err, jsonrpc.ErrNotObject) {
		return nil, false
	}
	name := server
	if logger, _ := jsonrpc.String(raw); logger != "" {
		name = server + "/" + logger
	}
	if out, err := jsonrpc.Set(params, "logger", jsonrpc.Quote(name)); err == nil {
		return out, true
	}
	return params, true
}

// UpstreamRequest relays a request from an upstream (sampling, elicitation,
// roots) to the client and returns the client's answer. It waits as long as
// it takes (a person may be answering), until ctx ends: the upstream
// cancelled, or the connection ended. It goes to the session whose call
// the upstream is serving (see requester).
func (s *Server) UpstreamRequest(ctx context.Context, server, method string, params json.RawMessage) (json.RawMessage, error) {
	sess, related, release := s.requester(ctx, server, method)
	defer release()
	if sess == nil || !sess.awaitInitialized(ctx) {
		return nil, &jsonrpc.Error{Code: jsonrpc.CodeInternalError, Message: "mcpmux has no client connected to answer " + method}
	}
	if err := sess.canRelay(method); err != nil {
		return nil, err
	}
	if sess.stateless.Load() {
		res, err := sess.askInput(ctx, server, method, params)
		if errors.Is(err, errNoCall) {
			return nil, &jsonrpc.Error{Code: jsonrpc.CodeMethodNotFound, Message: fmt.Sprintf(
				"the client speaks MCP 2026-07-28, which takes %s only as part of a call; no call to %q is running", method, server)}
		}
		return res, err
	}
	return sess.clientRequest(ctx, related, server, method, params)
}

// requester returns the session an upstream's request goes to, and the
// id of the client's request it belongs to (nil if it is not known):
//
//   - the call the upstream's transport ties it to, if it can (a request
//     on a streamable HTTP response stream): ctx carries the call;
//   - else, while waiting for the client's handshake, the only session;
//   - else a session with a call in flight at the upstream, that can
//     answer method: the wire of stdio and SSE does not say which call a
//     request belongs to, so among several sessions the one with the
//     fewest requests of the upstream waiting for it gets it, and among
//     those the one whose call started first (an upstream that serves its
//     calls in order and asks once per call is so matched exactly);
//   - else (a request outside any call, such as roots asked at start-up)
//     the most recently opened session that can answer method.
//
// release ends the request's count among those waiting for the session;
// choosing and counting are one step, so that requests that arrive at once
// are spread as they should be.
func (s *Server) requester(ctx context.Context, server, method string) (sess *session, related json.RawMessage, release func()) {
	if ref := callOf(ctx); ref != nil {
		return ref.sess, ref.id, noop
	}
	open := s.openSessions()
	switch len(open) {
	case 0:
		return nil, nil, noop
	case 1:
		c, _ := open[0].oldestCall(server)
		return open[0], c.id, noop
	}
	s.askMu.Lock()
	defer s.askMu.Unlock()
	var best *session
	var bestWaiting int
	var bestCall upCall
	for _, sess := range open {
		c, ok := sess.oldestCall(server)
		if !ok || sess.canRelay(method) != nil {
			continue
		}
		w := sess.asking(server)
		if best == nil || w < bestWaiting || (w == bestWaiting && c.seq < bestCall.seq) {
			best, bestWaiting, bestCall = sess, w, c
		}
	}
	if best != nil {
		return best, bestCall.id, best.countAsk(server)
	}
	for i := len(open) - 1; i >= 0; i-- {
		if open[i].Initialized() && open[i].canRelay(method) == nil {
			return open[i], nil, noop
		}
	}
	return open[len(open)-1], nil, noop
}

// countAsk counts one request of server waiting for the session, until
// the function it returns is called.
func (sess *session) countAsk(server string) func() {
	sess.mu.Lock()
	sess.asks[server]++
	sess.mu.Unlock()
	return func() {
		sess.mu.Lock()
		defer sess.mu.Unlock()
		if sess.asks[server]--; sess.asks[server] <= 0 {
			delete(sess.asks, server)
		}
	}
}

// oldestCall returns the session's oldest request in flight at server,
// if it has one.
func (sess *session) oldestCall(server string) (upCall, bool) {
	sess.mu.Lock()
	defer sess.mu.Unlock()
	if calls := sess.upCalls[server]; len(calls) > 0 {
		return calls[0], true
	}
	return upCall{}, false
}

// asking returns how many requests of server wait for the session (see
// countAsk).
func (sess *session) asking(server string) int {
	sess.mu.Lock()
	defer sess.mu.Unlock()
	return sess.asks[server]
}

// clientHandshakeWait bounds how long an upstream's request waits for the
// client to finish its handshake: upstreams are often ready first, and some
// ask for roots the moment they are.
const clientHandshakeWait = 30 * time.Second

// awaitInitialized waits until the client has finished its handshake, and
// reports whether it has.
func (sess *session) awaitInitialized(ctx context.Context) bool {
	t := time.NewTimer(clientHandshakeWait)
	defer t.Stop()
	select {
	case <-sess.initDone:
		return true
	case <-ctx.Done():
	case <-t.C:
	}
	return false
}

// clientCapabilitiesWait bounds how long an upstream's handshake waits for
// the client's: hosts start their handshake as soon as they start mcpmux.
const clientCapabilitiesWait = 5 * time.Second

// ClientCapabilities returns what mcpmux declares to an upstream: the
// client's own sampling, elicitation and roots capabilities, which mcpmux
// relays, so that an upstream offers through mcpmux what it would offer
// the client directly. It waits for Serve's session and the client's
// handshake, within ctx and at most a few seconds; nil means the client
// has not finished it (the caller then declares what mcpmux could relay).
// A client on 2026-07-28 gets no server-to-client requests, so none is
// declared for it.
func (s *Server) ClientCapabilities(ctx context.Context) json.RawMessage {
	ctx, cancel := context.WithTimeout(ctx, clientCapabilitiesWait)
	defer cancel()
	select {
	case <-s.served:
	case <-ctx.Done():
		return nil
	}
	open := s.openSessions()
	if len(open) == 0 || !open[0].awaitInitialized(ctx) {
		return nil
	}
	caps, _ := open[0].relayedCaps()
	return caps
}

// relayedCaps returns what mcpmux declares to upstreams for this client:
// its sampling, elicitation and roots, if it declared them; and whether
// they are known yet. A 2026-07-28 client declares its capabilities in
// each request's _meta; mcpmux takes those of its first request.
func (sess *session) relayedCaps() (json.RawMessage, bool) {
	select {
	case <-sess.initDone:
	default:
		return nil, false
	}
	caps := sess.GetClientCapabilities()
	relayed := map[string]any{}
	if caps.Sampling != nil {
		relayed["sampling"] = caps.Sampling
	}
	if caps.Elicitation != nil {
		relayed["elicitation"] = caps.Elicitation
	}
	if caps.Roots != nil {
		relayed["roots"] = map[string]bool{"listChanged": true} // mcpmux passes roots changes on
	}
	b, _ := json.Marshal(relayed)
	return b, true
}

// canRelay explains why the client cannot answer method, if it cannot.
func (sess *session) canRelay(method string) error {
	caps := sess.GetClientCapabilities()
	var ok bool
	switch method {
	case "sampling/createMessage":
		ok = caps.Sampling != nil
	case "elicitation/create":
		ok = caps.Elicitation != nil
	case "roots/list":
		ok = caps.Roots != nil
	case "ping":
		ok = !sess.stateless.Load() // 2026-07-28 has no ping; mcpmux answers upstreams' pings itself
	}
	if !ok {
		return &jsonrpc.Error{Code: jsonrpc.CodeMethodNotFound, Message: "the client connected to mcpmux does not support " + method}
	}
	return nil
}
