package proxy

import (
	"context"
	"encoding/json"

	"github.com/mcpmux/mcpmux/internal/jsonrpc"
)

// statusURI is the resource that shows the live state of every upstream.
const statusURI = "mcpmux://status"

// listResources answers resources/list: every upstream's resources with
// their URIs unchanged, and mcpmux's own status resource.
func (sess *session) listResources(ctx context.Context, p *params) (json.RawMessage, error) {
	sess.awaitFirst(ctx, "resources/list")
	sess.answeredList("notifications/resources/list_changed")
	cat := sess.srv.cat.Load()
	l := cat.resources
	if sess.srv.opts.Status != nil {
		l = cat.withStatus()
	}
	return listPage("resources", l, p, sess.srv.opts.PageSize)
}

// listTemplates answers resources/templates/list.
func (sess *session) listTemplates(ctx context.Context, p *params) (json.RawMessage, error) {
	sess.awaitFirst(ctx, "resources/templates/list")
	sess.answeredList("notifications/resources/list_changed")
	return listPage("resourceTemplates", sess.srv.cat.Load().templates, p, sess.srv.opts.PageSize)
}

// readResource routes resources/read to the upstream that serves the URI.
func (sess *session) readResource(ctx context.Context, p *params) (json.RawMessage, error) {
	uri, _ := p.str(keyRoute)
	if uri == statusURI && sess.srv.opts.Status != nil {
		contents, _ := json.Marshal([]map[string]string{{"uri": statusURI, "mimeType": "application/json", "text": string(sess.srv.status())}})
		return json.RawMessage(`{"contents":` + string(contents) + `}`), nil
	}
	if state, ok := sess.resumed(p.raw); ok {
		return sess.resume(ctx, state, p.raw)
	}
	e, err := sess.resourceOwner(ctx, uri)
	if err != nil {
		return nil, err
	}
	return sess.forwardCall(ctx, e, "resources/read", p.raw, p)
}

// subscribe routes resources/subscribe to the URI's upstream.
func (sess *session) subscribe(ctx context.Context, p *params) (json.RawMessage, error) {
	uri, _ := p.str(keyRoute)
	return sess.toResourceOwner(ctx, "resources/subscribe", uri, p)
}

// unsubscribe routes resources/unsubscribe to the URI's upstream.
func (sess *session) unsubscribe(ctx context.Context, p *params) (json.RawMessage, error) {
	uri, _ := p.str(keyRoute)
	return sess.toResourceOwner(ctx, "resources/unsubscribe", uri, p)
}

// toResourceOwner sends p.raw, a subscription or its end, to the upstream
// that serves uri, and keeps track: that upstream's updates of uri reach
// the client from the moment it asks until it unsubscribes.
func (sess *session) toResourceOwner(ctx context.Context, method, uri string, p *params) (json.RawMessage, error) {
	if uri == statusURI {
		return json.RawMessage(`{}`), nil
	}
	e, err := sess.resourceOwner(ctx, uri)
	if err != nil {
		return nil, err
	}
	subscribing := method == "resources/subscribe"
	sess.setSubscribed(uri, e.server, subscribing)
	res, err := sess.forward(ctx, e, method, p.raw, p)
	if err != nil && subscribing {
		sess.setSubscribed(uri, e.server, false)
	}
	return res, err
}

// setSubscribed records that the client is, or is no longer, subscribed
// to uri at server.
func (sess *session) setSubscribed(uri, server string, on bool) {
	sess.mu.Lock()
	defer sess.mu.Unlock()
	if on {
		sess.subscribed[uri] = server
	} else if sess.subscribed[uri] == server {
		delete(sess.subscribed, uri)
	}
}

// subscribedAt reports whether the client is subscribed to uri at server.
func (sess *session) subscribedAt(uri, server string) bool {
	sess.mu.Lock()
	defer sess.mu.Unlock()
	return sess.subscribed[uri] == server
}

// resourceOwner returns who serves uri, or an error that names it. While
// an upstream's catalogue is still to come, a URI no other upstream serves
// waits for it, within ctx and the upstreams' start timeouts.
func (sess *session) resourceOwner(ctx context.Context, uri string) (entry, error) {
	if uri == "" {
		return entry{}, jsonrpc.Errorf(jsonrpc.CodeInvalidParams, "the request needs a resource uri")
	}
	s := sess.srv
	e, ok := s.cat.Load().resourceOwner(uri)
	if !ok {
		s.awaitCatalogues(ctx, sess.capsKey(), func(*route) bool { return true })
		e, ok = s.cat.Load().resourceOwner(uri)
	}
	if !ok {
		q := string(jsonrpc.Quote(uri))
		return entry{}, &jsonrpc.Error{Code: jsonrpc.CodeResourceNotFound, Message: "no upstream serves resource " + q, Data: json.RawMessage(`{"uri":` + q + `}`)}
	}
	return e, nil
}

// status returns what mcpmux://status shows, secrets masked.
func (s *Server) status() json.RawMessage { return s.opts.Masker.JSON(s.opts.Status()) }
