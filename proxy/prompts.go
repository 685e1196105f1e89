package proxy

import (
	"context"
	"encoding/json"
)

// listPrompts answers prompts/list from the merged catalogue.
func (sess *session) listPrompts(ctx context.Context, params json.RawMessage) (json.RawMessage, error) {
	sess.awaitFirst(ctx, "prompts/list")
	sess.answeredList("notifications/prompts/list_changed")
	return listPage("prompts", sess.srv.cat.Load().prompts, params, sess.srv.opts.PageSize)
}

// getPrompt routes prompts/get to the prompt's upstream under its original
// name; the arguments and the result pass through unchanged.
func (sess *session) getPrompt(ctx context.Context, params json.RawMessage) (json.RawMessage, error) {
	if state, ok := sess.resumed(params); ok {
		return sess.resume(ctx, state, params)
	}
	e, params, err := sess.renamed(ctx, promptsOf, "prompt", params)
	if err != nil {
		return nil, err
	}
	return sess.forwardCall(ctx, e, "prompts/get", params)
}
