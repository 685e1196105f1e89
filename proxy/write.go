package proxy

import (
	"bytes"
	"context"
	"encoding/json"

	"github.com/mcpmux/mcpmux/internal/jsonrpc"
)

// reply ends request c and sends its response. The request is no longer
// in flight when the client reads the response, which may reuse its id.
func (sess *session) reply(c *call, msg []byte) {
	sess.endCall(c)
	sess.deliver(c.id, true, msg)
}

// largeResult is the size above which a result is written to the client in
// pieces rather than copied into one message first.
const largeResult = 1 << 20

// replyResult ends request c and sends its raw result (see reply).
func (sess *session) replyResult(c *call, result json.RawMessage) {
	if sess.out == nil || len(result) < largeResult || bytes.IndexByte(result, '\n') >= 0 || bytes.IndexByte(result, '\r') >= 0 {
		sess.reply(c, jsonrpc.AppendResult(nil, c.id, result))
		return
	}
	sess.endCall(c)
	msg := jsonrpc.AppendResult(nil, c.id, json.RawMessage("0"))
	end := len(msg) - len("0}\n")
	sess.out.put(msg[:end], result, msg[end+1:])
}

// send writes one message, newline included, to the client, as part of
// no request of the client's.
func (sess *session) send(msg []byte) { sess.deliver(nil, false, msg) }

// sendFor sends one message that belongs to the client's request id (see
// Sink); nil for none.
func (sess *session) sendFor(id json.RawMessage, msg []byte) { sess.deliver(id, false, msg) }

// deliver hands one message to the session's stream or sink.
func (sess *session) deliver(related json.RawMessage, final bool, msg []byte) {
	if sess.sink != nil {
		sess.sink.Send(related, final, msg)
		return
	}
	sess.out.put(msg)
}

// pumpNotes sends mcp-go's notifications to the client.
func (sess *session) pumpNotes(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case n := <-sess.notes:
			if b, err := json.Marshal(n); err == nil {
				sess.send(append(b, '\n'))
			}
		}
	}
}
