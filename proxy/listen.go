package proxy

import (
	"context"
	"encoding/json"
	"slices"
	"time"

	"github.com/mark3labs/mcp-go/mcp"

	"github.com/mcpmux/mcpmux/internal/jsonrpc"
)

// In protocol revision 2026-07-28 every notification outside a request is
// opt-in: the client opens a subscriptions/listen stream with a filter,
// and only what the filter names may be sent, tagged with the stream's id.
// mcp-go serves subscriptions/listen; these methods make the session the
// filter's keeper (server.SessionWithSubscriptionFilter and
// SessionWithResourceSubscriptions), and pass resource subscriptions on to
// the upstreams that own the URIs.

// listenState is the open subscriptions/listen stream, if any.
type listenState struct {
	id     json.RawMessage // the listen request's id, which tags notifications
	filter mcp.SubscriptionFilter
	active bool
}

// SetSubscriptionFilter records what the client opted in to.
func (sess *session) SetSubscriptionFilter(f mcp.SubscriptionFilter) {
	sess.mu.Lock()
	defer sess.mu.Unlock()
	sess.listen.filter = f
	sess.listen.active = !f.IsEmpty()
}

// SubscriptionFilter returns what the client opted in to.
func (sess *session) SubscriptionFilter() (mcp.SubscriptionFilter, bool) {
	sess.mu.Lock()
	defer sess.mu.Unlock()
	return sess.listen.filter, sess.listen.active
}

// SubscribeToResource passes a subscription from the listen filter on to
// the URI's upstream.
func (sess *session) SubscribeToResource(uri string) {
	sess.resourceSubscription("resources/subscribe", uri)
}

// UnsubscribeFromResource ends a subscription when the listen stream ends.
func (sess *session) UnsubscribeFromResource(uri string) {
	sess.resourceSubscription("resources/unsubscribe", uri)
}

// SubscribedResources returns the URIs of the open listen stream.
func (sess *session) SubscribedResources() []string {
	f, _ := sess.SubscriptionFilter()
	return slices.Clone(f.ResourceSubscriptions)
}

func (sess *session) resourceSubscription(method, uri string) {
	raw, _ := json.Marshal(map[string]string{"uri": uri})
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		p := params{raw: raw}
		if _, err := sess.toResourceOwner(ctx, method, uri, &p); err != nil {
			sess.srv.logger.Warn("passing on a resource subscription", "uri", uri, "method", method, "err", err)
		}
	}()
}

// listenParams returns the params a notification outside a request needs,
// and whether it may be sent at all: legacy clients get everything as is;
// a 2026-07-28 client only what its listen filter names, tagged with its id.
func (sess *session) listenParams(method string, params json.RawMessage) (json.RawMessage, bool) {
	sess.mu.Lock()
	l := sess.listen
	sess.mu.Unlock()
	if !l.active {
		return params, !sess.stateless.Load()
	}
	allowed := false
	switch method {
	case "notifications/tools/list_changed":
		allowed = l.filter.ToolsListChanged
	case "notifications/prompts/list_changed":
		allowed = l.filter.PromptsListChanged
	case "notifications/resources/list_changed":
		allowed = l.filter.ResourcesListChanged
	case "notifications/resources/updated":
		uri, _ := jsonrpc.StringMember(params, "uri")
		allowed = slices.Contains(l.filter.ResourceSubscriptions, uri)
	}
	if !allowed {
		return nil, false
	}
	meta, _ := json.Marshal(map[string]json.RawMessage{mcp.MetaKeySubscriptionID: l.id})
	if jsonrpc.IsNull(params) {
		params = json.RawMessage(`{}`)
	}
	out, err := jsonrpc.Set(params, "_meta", meta)
	return out, err == nil
}
