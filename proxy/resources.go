package proxy

import (
	"context"
	"encoding/json"
)

// statusURI is the resource that shows the live state of every upstream.
const statusURI = "mcpmux://status"

// listResources answers resources/list: every upstream's resources with
// their URIs unchanged, and mcpmux's own status resource.
func (sess *session) listResources(ctx context.Context, params json.RawMessage) (json.RawMessage, error) {
	sess.awaitFirst(ctx, "resources/list")
	sess.answeredList("notifications/resources/list_changed")
	l := sess.srv.cat.Load().resources
	if sess.srv.opts.Status != nil {
		l = withEntry(l, entry{key: statusURI, raw: json.RawMessage(`{"uri":"mcpmux://status","name":"mcpmux-status","title":"mcpmux upstream status","description":"The live state of every upstream MCP server behind mcpmux: state, since when, last error, restarts, next retry.","mimeType":"application/json"}`)})
	}
	return listPage("resources", l, params, sess.srv.opts.PageSize)
}

// listTemplates answers resources/templates/list.
func (sess *session) listTemplates(ctx context.Context, params json.RawMessage) (json.RawMessage, error) {
	sess.awaitFirst(ctx, "resources/templates/list")
	sess.answeredList("notifications/resources/list_changed")
	return listPage("resourceTemplates", sess.srv.cat.Load().templates, params, sess.srv.opts.PageSize)
}

// readResource routes resources/read to the upstream that serves the URI.
func (sess *session) readResource(ctx context.Context, params json.RawMessage) (json.RawMessage, error) {
	uri, _ := stringMember(params, "uri")
	if uri == statusURI && sess.srv.opts.Status != nil {
		contents, _ := json.Marshal([]map[string]string{{"uri": statusURI, "mimeType": "application/json", "text": string(sess.srv.opts.Status())}})
		return json.RawMessage(`{"contents":` + string(contents) + `}`), nil
	}
	if state, ok := sess.resumed(params); ok {
		return sess.resume(ctx, state, params)
	}
	e, err := sess.resourceOwner(ctx, uri)
	if err != nil {
		return nil, err
	}
	return sess.forwardCall(ctx, e, "resources/read", params)
}

// subscribe routes resources/subscribe to the URI's upstream.
func (sess *session) subscribe(ctx context.Context, params json.RawMessage) (json.RawMessage, error) {
	return sess.toResourceOwner(ctx, "resources/subscribe", params)
}

// unsubscribe routes resources/unsubscribe to the URI's upstream.
func (sess *session) unsubscribe(ctx context.Context, params json.RawMessage) (json.RawMessage, error) {
	return sess.toResourceOwner(ctx, "resources/unsubscribe", params)
}

func (sess *session) toResourceOwner(ctx context.Context, method string, params json.RawMessage) (json.RawMessage, error) {
	uri, _ := stringMember(params, "uri")
	if uri == statusURI {
		return json.RawMessage(`{}`), nil
	}
	e, err := sess.resourceOwner(ctx, uri)
	if err != nil {
		return nil, err
	}
	return sess.forward(ctx, e, method, params)
}

// resourceOwner returns who serves uri, or an error that names it. While
// an upstream's catalogue is still to come, a URI no other upstream serves
// waits for it, within ctx and the upstreams' start timeouts.
func (sess *session) resourceOwner(ctx context.Context, uri string) (entry, error) {
	if uri == "" {
		return entry{}, errorf(codeInvalidParams, "the request needs a resource uri")
	}
	s := sess.srv
	e, ok := s.cat.Load().resourceOwner(uri)
	if !ok {
		s.awaitCatalogues(ctx, sess.capsKey(), func(*route) bool { return true })
		e, ok = s.cat.Load().resourceOwner(uri)
	}
	if !ok {
		return entry{}, &rpcError{Code: codeResourceNotFound, Message: "no upstream serves resource " + string(quote(uri)), Data: json.RawMessage(`{"uri":` + string(quote(uri)) + `}`)}
	}
	return e, nil
}

// withEntry returns l with e added in order.
func withEntry(l list, e entry) list {
	entries := append(append([]entry(nil), l.entries...), e)
	return newList(entries)
}
