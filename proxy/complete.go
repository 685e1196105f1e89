package proxy

import (
	"context"
	"encoding/json"
	"errors"

	"github.com/mcpmux/mcpmux/internal/jsonrpc"
)

// Indexes into refKeys.
const (
	refType = iota
	refName
	refURI
)

// complete routes completion/complete: a prompt reference by its exposed
// name (rewritten to the original), a resource reference by the upstream
// that lists the template. The reference is checked as the params are: a
// member that could be read two ways is refused.
func (sess *session) complete(ctx context.Context, p *params) (json.RawMessage, error) {
	ref := p.spans[keyRoute]
	raw := ref.In(p.raw)
	var sp [3]jsonrpc.Span
	switch err := jsonrpc.Scan(raw, refKeys, sp[:]); {
	case raw == nil || errors.Is(err, jsonrpc.ErrNotObject):
		return nil, jsonrpc.Errorf(jsonrpc.CodeInvalidParams, "completion/complete needs a ref")
	case err != nil:
		return nil, invalidParams("params.ref", err)
	}
	kind, _ := jsonrpc.String(sp[refType].In(raw))
	cat := sess.srv.cat.Load()
	var e entry
	params := p.raw
	switch kind {
	case "ref/prompt":
		var newRef json.RawMessage
		var err error
		if e, newRef, err = sess.renamed(ctx, promptsOf, "prompt", raw, sp[refName]); err != nil {
			return nil, err
		}
		params = jsonrpc.Replace(p.raw, ref, newRef)
	case "ref/resource":
		uri, _ := jsonrpc.String(sp[refURI].In(raw))
		var ok bool
		if e, ok = cat.templateOwner(uri); !ok {
			return nil, jsonrpc.Errorf(jsonrpc.CodeInvalidParams, "no upstream serves resource template %q", uri)
		}
	default:
		return nil, jsonrpc.Errorf(jsonrpc.CodeInvalidParams, "unknown completion reference type %q", kind)
	}
	return sess.forward(ctx, e, "completion/complete", params, p)
}
