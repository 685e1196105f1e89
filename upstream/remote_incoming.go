package upstream

import (
	"context"
	"encoding/json"

	"github.com/mark3labs/mcp-go/client/transport"
	"github.com/mark3labs/mcp-go/mcp"
)

// receiveRemote passes on a notification from a remote upstream, which
// mcp-go has decoded, as raw JSON like stdio's. It runs on the transport's
// reader.
func (c *conn) receiveRemote(n mcp.JSONRPCNotification) {
	c.receive(n.Method, rawParams(n.Params))
}

// rawParams encodes params again. Numbers survive up to float64
// precision; the order of keys does not.
func rawParams(p mcp.NotificationParams) json.RawMessage {
	if len(p.Meta) == 0 {
		p.Meta = nil // mcp-go decodes params without _meta to an empty one
	}
	if p.Meta == nil && len(p.AdditionalFields) == 0 {
		return nil
	}
	raw, err := json.Marshal(p)
	if err != nil {
		return nil
	}
	return raw
}

// serveRemote answers a request from a remote upstream, which mcp-go hands
// over on a goroutine of its own. Only streamable HTTP does: mcp-go's SSE
// transport drops the server's requests. mcp-go gives each a hard 30s
// timeout, after which the answer can no longer be sent: an elicitation
// that a person takes longer to answer fails.
func (c *conn) serveRemote(ctx context.Context, req transport.JSONRPCRequest) (*transport.JSONRPCResponse, error) {
	id, _ := json.Marshal(req.ID)
	var params json.RawMessage
	if req.Params != nil {
		params, _ = json.Marshal(req.Params)
	}
	ctx, done, err := c.track(ctx, id)
	var res json.RawMessage
	if err == nil {
		defer done()
		res, err = c.serveIncoming(ctx, req.Method, params)
	}
	switch {
	case err == nil:
		return transport.NewJSONRPCResultResponse(req.ID, res), nil
	case ctx != nil && ctx.Err() != nil:
		return nil, nil // cancelled, or the connection died: nobody wants the answer
	}
	e := errorObject(err)
	var data any
	if len(e.Data) > 0 {
		data = e.Data
	}
	return transport.NewJSONRPCErrorResponse(req.ID, e.Code, e.Message, data), nil
}
