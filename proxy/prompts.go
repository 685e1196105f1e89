package proxy

import (
	"context"
	"encoding/json"
)

// listPrompts answers prompts/list from the merged catalogue.
func (sess *session) listPrompts(ctx context.Context, p *params) (json.RawMessage, error) {
	sess.awaitFirst(ctx, "prompts/list")
	sess.answeredList("notifications/prompts/list_changed")
	return listPage("prompts", sess.srv.cat.Load().prompts, p, sess.srv.opts.PageSize)
}

// getPrompt routes prompts/get to the prompt's upstream under its original
// name; the arguments and the result pass through unchanged.
func (sess *session) getPrompt(ctx context.Context, p *params) (json.RawMessage, error) {
	if state, ok := sess.resumed(p.raw); ok {
		return sess.resume(ctx, state, p.raw)
	}
	e, params, err := sess.renamed(ctx, promptsOf, "prompt", p.raw, p.spans[keyRoute])
	if err != nil {
		return nil, err
	}
	return sess.forwardCall(ctx, e, "prompts/get", params, p)
}
