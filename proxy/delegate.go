package proxy

import (
	"context"
	"encoding/json"
	"strconv"
	"strings"
	"sync/atomic"

	"github.com/mark3labs/mcp-go/mcp"
	"github.com/mcpmux/mcpmux/internal/jsonrpc"
)

// delegate lets mcp-go serve a protocol method: the handshake, discovery,
// ping. The capabilities it reports are narrowed to what upstreams offer,
// and its instructions are the upstreams' (see Instructions), once their
// handshakes are in (see awaitHandshakes).
// mcp-go decodes the request's id, and would answer an integer above 2^53
// with another (or fail to decode 1e400): the answer goes out under the id
// as the client wrote it, and mcp-go sees a stand-in for an id it cannot
// hold. (A stand-in cannot serve throughout: mcp-go tags the notifications
// of a subscriptions/listen stream with the listen request's id.)
func (sess *session) delegate(ctx context.Context, c *call, m *jsonrpc.Message, line []byte) {
	if !exactInMCPGo(m.ID) {
		line = jsonrpc.AppendRequest(nil, standIn(), m.Method, m.Params)
	}
	resp := sess.srv.mcp.HandleMessage(ctx, line)
	if resp == nil || c.cancelled.Load() {
		return
	}
	if r, ok := resp.(mcp.JSONRPCResponse); ok {
		switch res := r.Result.(type) {
		case mcp.InitializeResult:
			sess.info.setProtocol(res.ProtocolVersion)
			sess.srv.awaitHandshakes(ctx, sess.srv.instructionsWait())
			res.Capabilities = sess.srv.capabilities(res.Capabilities)
			res.Instructions = sess.srv.instructionsFor(sess.view())
			r.Result = res
		case mcp.DiscoverResult: // a value: the pointer case never matched
			sess.srv.awaitHandshakes(ctx, min(sess.srv.instructionsWait(), maxDiscoverWait))
			res.Capabilities = sess.srv.capabilities(res.Capabilities)
			res.Instructions = sess.srv.instructionsFor(sess.view())
			r.Result = res
		}
		if c.cancelled.Load() {
			return
		}
		resp = r
	}
	out, err := reframe(resp)
	switch {
	case err != nil:
		sess.reply(c, jsonrpc.AppendError(nil, m.ID, sess.srv.clientError(err)))
	case out.Error != nil:
		sess.reply(c, jsonrpc.AppendError(nil, m.ID, sess.srv.clientError(out.Error)))
	default:
		sess.reply(c, jsonrpc.AppendResult(nil, m.ID, out.Result))
	}
}

// exactInMCPGo reports whether mcp-go's RequestId holds id exactly: a
// string, or an integer of at most 15 digits (float64 holds those).
func exactInMCPGo(id json.RawMessage) bool {
	if id[0] == '"' {
		return true
	}
	digits := strings.TrimPrefix(string(id), "-")
	return len(digits) <= 15 && strings.Trim(digits, "0123456789") == ""
}

var standIns atomic.Int64

// standIn returns a fresh id for a request mcp-go serves under another.
func standIn() json.RawMessage {
	return jsonrpc.Quote("mcpmux-stand-in-" + strconv.FormatInt(standIns.Add(1), 10))
}

// reframe encodes mcp-go's response and decodes it again in the wire's
// terms.
func reframe(resp mcp.JSONRPCMessage) (jsonrpc.Message, *jsonrpc.Error) {
	b, err := json.Marshal(resp)
	if err != nil {
		return jsonrpc.Message{}, jsonrpc.Errorf(jsonrpc.CodeInternalError, "encoding response: %s", err)
	}
	return jsonrpc.Decode(b)
}
