package proxy

import (
	"context"
	"encoding/json"
	"strconv"
	"time"

	"github.com/mcpmux/mcpmux/upstream"
)

// watchProgress routes progress with token from server to the client
// until unwatchProgress.
func (sess *session) watchProgress(token, server string) {
	sess.mu.Lock()
	defer sess.mu.Unlock()
	sess.progress[token] = server
}

func (sess *session) unwatchProgress(token string) {
	sess.mu.Lock()
	defer sess.mu.Unlock()
	delete(sess.progress, token)
}

// progressFor reports whether server may send progress for token now.
func (sess *session) progressFor(token, server string) bool {
	sess.mu.Lock()
	defer sess.mu.Unlock()
	return sess.progress[token] == server
}

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

// clientRequest sends a request to the client on behalf of an upstream and
// waits for the answer, or for ctx to end, in which case the client is told
// the request is cancelled.
func (sess *session) clientRequest(ctx context.Context, server, method string, params json.RawMessage) (json.RawMessage, error) {
	id := json.RawMessage(strconv.Quote("mcpmux-" + strconv.FormatInt(sess.nextID.Add(1), 10)))
	o := &outgoing{server: server, answer: make(chan json.RawMessage, 1)}
	sess.mu.Lock()
	sess.outgoing[string(id)] = o
	sess.mu.Unlock()
	defer func() {
		sess.mu.Lock()
		delete(sess.outgoing, string(id))
		sess.answeredAt[server] = time.Now()
		sess.mu.Unlock()
	}()

	sess.send(requestMessage(id, method, params))
	select {
	case msg := <-o.answer:
		return clientAnswer(msg)
	case <-ctx.Done():
		cancelled, _ := json.Marshal(map[string]any{"requestId": id, "reason": "the upstream no longer needs the answer"})
		sess.send(notificationMessage("notifications/cancelled", cancelled))
		return nil, context.Cause(ctx)
	}
}

// answered hands the client's response to the request waiting for it.
func (sess *session) answered(id json.RawMessage, msg []byte) {
	sess.mu.Lock()
	o := sess.outgoing[string(id)]
	sess.mu.Unlock()
	if o == nil {
		sess.srv.logger.Debug("response to no request of ours", "id", string(id))
		return
	}
	select {
	case o.answer <- msg:
	default:
	}
}

// clientAnswer decodes the client's response into a result or an error
// for the upstream.
func clientAnswer(msg []byte) (json.RawMessage, error) {
	var r struct {
		Result json.RawMessage `json:"result"`
		Error  *rpcError       `json:"error"`
	}
	if err := json.Unmarshal(msg, &r); err != nil {
		return nil, &upstream.RPCError{Code: codeInternalError, Message: "the client's answer does not parse: " + err.Error()}
	}
	if r.Error != nil {
		return nil, &upstream.RPCError{Code: r.Error.Code, Message: r.Error.Message, Data: r.Error.Data}
	}
	return r.Result, nil
}

// requestMessage returns a request with a raw id and params.
func requestMessage(id json.RawMessage, method string, params json.RawMessage) []byte {
	msg := notificationMessage(method, params)
	return append(append([]byte(`{"jsonrpc":"2.0","id":`), id...), msg[len(`{"jsonrpc":"2.0"`):]...)
}
