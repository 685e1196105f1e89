package proxy

import (
	"encoding/json"

	"github.com/mark3labs/mcp-go/mcp"

	"github.com/mcpmux/mcpmux/internal/jsonrpc"
)

// capabilities narrows what mcpmux declares to the client to the union of
// what its upstreams offer. Capabilities cannot change after the
// handshake, so while any upstream's catalogue is still unknown (it is
// starting and nothing is cached), everything mcpmux can relay is declared:
// declaring too much costs an empty list, declaring too little hides an
// upstream's prompts or resources for the whole session. Resources are
// always declared, for mcpmux://status.
func (s *Server) capabilities(all mcp.ServerCapabilities) mcp.ServerCapabilities {
	cat := s.cat.Load()
	for _, r := range s.routes() {
		if cat.upstream(r.cfg.Name) == nil {
			return all
		}
	}
	out := mcp.ServerCapabilities{Resources: all.Resources, Experimental: all.Experimental}
	subscribe := false
	for _, c := range cat.upstreamCatalogues() {
		if offers(c.Capabilities, "tools") {
			out.Tools = all.Tools
		}
		if offers(c.Capabilities, "prompts") {
			out.Prompts = all.Prompts
		}
		if offers(c.Capabilities, "logging") {
			out.Logging = all.Logging
		}
		if offers(c.Capabilities, "completions") {
			out.Completions = all.Completions
		}
		var caps struct {
			Resources struct{ Subscribe bool }
		}
		_ = json.Unmarshal(c.Capabilities, &caps)
		subscribe = subscribe || caps.Resources.Subscribe
	}
	if out.Resources != nil {
		r := *out.Resources
		r.Subscribe = subscribe
		out.Resources = &r
	}
	return out
}

// offers reports whether raw capabilities declare key.
func offers(caps json.RawMessage, key string) bool {
	var m map[string]json.RawMessage
	if json.Unmarshal(caps, &m) != nil {
		return false
	}
	return !jsonrpc.IsNull(m[key])
}
