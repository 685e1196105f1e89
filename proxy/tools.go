package proxy

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"sort"

	"github.com/mcpmux/mcpmux/internal/jsonrpc"
)

// listTools answers tools/list from the merged catalogue.
func (sess *session) listTools(ctx context.Context, p *params) (json.RawMessage, error) {
	defer sess.srv.releaseStart()
	sess.awaitFirst(ctx, "tools/list")
	sess.answeredList("notifications/tools/list_changed")
	return listPage("tools", sess.view().tools, p, sess.srv.opts.PageSize)
}

// callTool routes tools/call to the tool's upstream under its original
// name. Arguments, _meta and the result pass through unchanged.
func (sess *session) callTool(ctx context.Context, p *params) (json.RawMessage, error) {
	if state, ok := sess.resumed(p.raw); ok {
		return sess.resume(ctx, state, p.raw)
	}
	if name, _ := p.str(keyRoute); sess.serveMeta(name) {
		return sess.srv.serveMetaCall(sess.view(), name, p.get(keyOther))
	}
	e, params, err := sess.renamed(ctx, toolsOf, "tool", p.raw, p.spans[keyRoute])
	if err != nil {
		return nil, err
	}
	if !sess.has(e) {
		return nil, &jsonrpc.Error{Code: jsonrpc.CodeInvalidParams, Message: unknownTool(sess.view().all, e.key)}
	}
	sess.srv.logger.Debug("tool call", "tool", e.key, "upstream", e.server)
	res, err := sess.forwardCall(ctx, e, "tools/call", params, p)
	if err != nil {
		return nil, sess.loginElicitation(err)
	}
	return res, nil
}

func toolsOf(c *catalogue) list   { return c.tools }
func promptsOf(c *catalogue) list { return c.prompts }

// renamed looks up the entry that obj names (see lookup; its name member
// is at span name) and returns obj with the upstream's own name in its
// place, every other byte unchanged. obj has been scanned, so no other
// member can name another entry to the upstream.
func (sess *session) renamed(ctx context.Context, of func(*catalogue) list, kind string, obj json.RawMessage, name jsonrpc.Span) (entry, json.RawMessage, error) {
	exposed, ok := jsonrpc.Unquote(name.In(obj))
	if !ok {
		return entry{}, nil, jsonrpc.Errorf(jsonrpc.CodeInvalidParams, "the request needs a %s name", kind)
	}
	e, err := sess.lookup(ctx, of, kind, string(exposed))
	if err != nil {
		return entry{}, nil, err
	}
	return e, jsonrpc.Replace(obj, name, jsonrpc.Quote(e.original)), nil
}

// listPage renders the page of l that the request's cursor asks for. The
// cursor is the key the previous page ended with, so it stays valid when
// the catalogue changes between pages.
func listPage(field string, l list, p *params, size int) (json.RawMessage, error) {
	cursor, _ := p.str(keyRoute)
	if cursor == "" && (size <= 0 || l.t.Len() <= size) {
		return l.render(field), nil // rendered once per version of the list
	}
	entries := l.entries()
	start := 0
	if cursor != "" {
		last, err := base64.RawURLEncoding.DecodeString(cursor)
		if err != nil {
			return nil, jsonrpc.Errorf(jsonrpc.CodeInvalidParams, "invalid cursor %q", cursor)
		}
		start = sort.Search(len(entries), func(i int) bool { return entries[i].key > string(last) })
	}
	end, next := len(entries), ""
	if size > 0 && start+size < end {
		end = start + size
		next = base64.RawURLEncoding.EncodeToString([]byte(entries[end-1].key))
	}
	return listResult(field, entries[start:end], next), nil
}

// ToolInfo describes one tool of the merged catalogue.
type ToolInfo struct {
	// Name is the name the client sees.
	Name string `json:"name"`
	// Server is the upstream's name in the configuration.
	Server string `json:"server"`
	// Original is the upstream's own name for the tool.
	Original string `json:"original"`
	// Description is the tool's description as the upstream wrote it.
	Description string `json:"description,omitempty"`
}

// Tools returns the merged tool catalogue, sorted by exposed name.
func (s *Server) Tools() []ToolInfo {
	cat := s.cat.Load()
	out := make([]ToolInfo, 0, cat.tools.t.Len())
	for _, t := range cat.tools.entries() {
		desc, _ := jsonrpc.StringMember(t.raw, "description")
		out = append(out, ToolInfo{Name: t.key, Server: t.server, Original: t.original, Description: desc})
	}
	return out
}
