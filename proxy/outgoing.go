package proxy

import (
	"context"
	"encoding/json"
	"strconv"
	"time"

	"github.com/mcpmux/mcpmux/internal/jsonrpc"
)

// sinceAsking returns how much longer a call to server may run when its
// timeout is counted from the last answer the client gave it: all of
// timeout while the server is still waiting for an answer.
func (sess *session) sinceAsking(server string, timeout time.Duration) time.Duration {
	sess.mu.Lock()
	defer sess.mu.Unlock()
	for _, o := range sess.outgoing {
		if o.server == server {
			return timeout
		}
	}
	return timeout - time.Since(sess.answeredAt[server])
}

// clientRequest sends a request to the client on behalf of an upstream,
// as part of the client's request related (nil for none), and waits for
// the answer, or for ctx to end, in which case the client is told
// the request is cancelled.
func (sess *session) clientRequest(ctx context.Context, related json.RawMessage, server, method string, params json.RawMessage) (json.RawMessage, error) {
	id := jsonrpc.Quote("mcpmux-" + strconv.FormatInt(sess.nextID.Add(1), 10))
	o := &outgoing{server: server, answer: make(chan *jsonrpc.Message, 1)}
	sess.mu.Lock()
	sess.outgoing[string(id)] = o
	sess.mu.Unlock()
	defer func() {
		sess.mu.Lock()
		delete(sess.outgoing, string(id))
		sess.answeredAt[server] = time.Now()
		sess.mu.Unlock()
	}()

	sess.sendFor(related, jsonrpc.AppendRequest(nil, id, method, params))
	select {
	case m := <-o.answer:
		if m.Error != nil {
			return nil, m.Error
		}
		return m.Result, nil
	case <-ctx.Done():
		cancelled := jsonrpc.Insert([]byte(`{"reason":"the upstream no longer needs the answer"}`), "requestId", id)
		sess.sendFor(related, jsonrpc.AppendNotification(nil, "notifications/cancelled", cancelled))
		return nil, context.Cause(ctx)
	}
}

// answered hands the client's response to the request waiting for it.
func (sess *session) answered(m *jsonrpc.Message) {
	sess.mu.Lock()
	o := sess.outgoing[string(m.ID)]
	sess.mu.Unlock()
	if o == nil {
		sess.srv.logger.Debug("response to no request of ours", "id", string(m.ID))
		return
	}
	select {
	case o.answer <- m:
	default:
	}
}

// outgoing is one request of ours to the client, on behalf of an upstream.
type outgoing struct {
	server string                // the upstream that asked
	answer chan *jsonrpc.Message // the client's response
}
