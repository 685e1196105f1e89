package proxy

import (
	"encoding/json"
	"fmt"

	"github.com/mark3labs/mcp-go/mcp"
	"github.com/mcpmux/mcpmux/internal/jsonrpc"
)

// capabilitiesFromMeta keeps the client capabilities that the first request
// of a 2026-07-28 client declares in its _meta.
func (sess *session) capabilitiesFromMeta(params json.RawMessage) {
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
	if !p.stateless() {
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

// statelessResult adds to a result what 2026-07-28 requires of it and what an
// upstream that predates that revision does not send: resultType
// "complete", and, for a list or a read, the caching hints. mcpmux speaks
// the handshake revisions to its upstreams, which carry no hints, so a
// merged list is "private" with a TTL of 0 (to be re-fetched whenever the
// client wants it fresh); a read keeps hints the upstream sent.
func statelessResult(method string, result json.RawMessage) json.RawMessage {
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
