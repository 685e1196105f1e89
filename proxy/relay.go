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
// log messages carry the upstream's name in logger; list changes are
// handled by re-reading the catalogue (see SetCatalogue), not relayed.
func (s *Server) UpstreamNotification(server, method string, params json.RawMessage) {
	sess := s.current()
	if sess == nil || !sess.Initialized() {
		return
	}
	var ok bool
	switch {
	case strings.HasSuffix(method, "/list_changed"):
		return
	case method == "notifications/progress":
		raw, err := jsonrpc.Member(params, "progressToken")
		token, found := tokenKey(raw)
		if err != nil || !found || !sess.progressFor(token, server) {
			return // not for a call of this upstream that is still running
		}
	case method == "notifications/message":
		if params, ok = withLogger(params, server); !ok {
			return
		}
	case method == "notifications/resources/updated":
		uri, found := jsonrpc.StringMember(params, "uri")
		if !found || !sess.subscribedAt(uri, server) {
			return // an update the client never asked for
		}
		if params, ok = sess.listenParams(method, params); !ok {
			return
		}
	case method == "notifications/cancelled":
		return // the upstream cancelled a request of its own: its context ends (see UpstreamRequest)
	}
	sess.send(jsonrpc.AppendNotification(nil, method, params))
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
// cancelled, or the connection ended.
func (s *Server) UpstreamRequest(ctx context.Context, server, method string, params json.RawMessage) (json.RawMessage, error) {
	sess := s.current()
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
	return sess.clientRequest(ctx, server, method, params)
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
	sess := s.current()
	if sess == nil || !sess.awaitInitialized(ctx) {
		return nil
	}
	caps, _ := sess.relayedCaps()
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
