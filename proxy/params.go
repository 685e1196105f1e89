package proxy

import (
	"encoding/json"
	"errors"

	"github.com/mark3labs/mcp-go/mcp"

	"github.com/mcpmux/mcpmux/internal/jsonrpc"
)

// params is the params object of a client's message, checked and indexed
// in one pass (see readParams) before anything acts on it.
type params struct {
	raw   json.RawMessage
	spans [4]jsonrpc.Span // the members of routedKeys(method), in order
	meta  [3]jsonrpc.Span // metaKeys in the value of _meta
}

// Indexes into params.spans: _meta comes first for every method, then the
// member the method is routed by, then the others it reads.
const (
	keyMeta  = 0
	keyRoute = 1 // name, uri, ref, cursor, level or requestId
	keyOther = 2
)

// routed lists, by method, the members of params that mcpmux reads.
// These are the keys a member may not differ from only in case.
var routed = map[string][]string{
	"tools/call":               {"_meta", "name", "arguments"},
	"prompts/get":              {"_meta", "name", "arguments"},
	"completion/complete":      {"_meta", "ref", "argument", "context"},
	"resources/read":           {"_meta", "uri"},
	"resources/subscribe":      {"_meta", "uri"},
	"resources/unsubscribe":    {"_meta", "uri"},
	"tools/list":               {"_meta", "cursor"},
	"prompts/list":             {"_meta", "cursor"},
	"resources/list":           {"_meta", "cursor"},
	"resources/templates/list": {"_meta", "cursor"},
	"logging/setLevel":         {"_meta", "level"},
	"notifications/cancelled":  {"_meta", "requestId", "reason"},
}

var metaOnly = []string{"_meta"}

// metaKeys are the members of _meta that mcpmux reads.
var metaKeys = []string{"progressToken", mcp.MetaKeyProtocolVersion, "traceparent"}

// Indexes into metaKeys.
const (
	metaProgressToken = iota
	metaProtocolVersion
	metaTraceparent
)

// refKeys are the members of a completion reference that mcpmux reads.
var refKeys = []string{"type", "name", "uri"}

// readParams checks and indexes the params of a message with method. An
// object whose members could be read two ways (see [jsonrpc.Scan]), at
// the params level or in _meta, is an invalid request: the upstream might
// read it otherwise than mcpmux. Params that are not an object (JSON-RPC
// allows an array) are left for the method to refuse.
func readParams(method string, raw json.RawMessage) (params, *jsonrpc.Error) {
	p := params{raw: raw}
	if raw == nil {
		return p, nil
	}
	keys, ok := routed[method]
	if !ok {
		keys = metaOnly
	}
	if err := jsonrpc.Scan(raw, keys, p.spans[:]); err != nil {
		if errors.Is(err, jsonrpc.ErrNotObject) {
			return p, nil
		}
		return p, invalidParams("params", err)
	}
	if meta := p.get(keyMeta); meta != nil {
		if err := jsonrpc.Scan(meta, metaKeys, p.meta[:]); err != nil && !errors.Is(err, jsonrpc.ErrNotObject) {
			return p, invalidParams("params._meta", err)
		}
	}
	return p, nil
}

// invalidParams is the error for params whose members could be read two
// ways.
func invalidParams(where string, err error) *jsonrpc.Error {
	return jsonrpc.Errorf(jsonrpc.CodeInvalidRequest, "invalid request: %s: %s; mcpmux refuses what an upstream could read otherwise", where, err)
}

// get returns the raw value of the member at index i, or nil.
func (p *params) get(i int) json.RawMessage { return p.spans[i].In(p.raw) }

// str returns the string value of the member at index i.
func (p *params) str(i int) (string, bool) { return jsonrpc.String(p.get(i)) }

// meta returns the raw value of _meta's member at index i of metaKeys.
func (p *params) metaValue(i int) json.RawMessage { return p.meta[i].In(p.get(keyMeta)) }

// progressToken returns the call's progress token in a form that compares
// equal however the upstream re-encodes it.
func (p *params) progressToken() (string, bool) {
	if p == nil {
		return "", false
	}
	return tokenKey(p.metaValue(metaProgressToken))
}

// stateless reports whether the request follows protocol revision
// 2026-07-28, the stateless one, whose requests carry their protocol
// version in _meta.
func (p *params) stateless() bool { return p.metaValue(metaProtocolVersion) != nil }
