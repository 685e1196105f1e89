package upstream

import (
	"context"

	"github.com/mcpmux/mcpmux/internal/jsonrpc"
)

// transport moves the messages of one conn, as raw JSON-RPC lines:
// mcpmux's requests go out through roundTrip, which returns the response
// that answers them, and its notifications and answers through send.
// Everything else the upstream sends reaches conn.dispatch from the
// reader that the transport (remote) or its peer (stdio) runs. The three
// transports are [stdioTransport], [streamableTransport] and
// [sseTransport]. Its methods are safe for concurrent use.
type transport interface {
	// start readies the transport for the connection's life, which ctx is:
	// what start opens (SSE's event stream) lives until ctx ends or the
	// transport closes.
	start(ctx context.Context) error
	// roundTrip sends req and waits for its response, for ctx to end, or
	// for the transport to close (errTransportClosed).
	roundTrip(ctx context.Context, req *wireRequest) (*jsonrpc.Message, error)
	// send sends a message that gets no response of its own: a
	// notification, or an answer to one of the upstream's requests.
	send(ctx context.Context, msg []byte) error
	// close fails the requests in flight and every later message, and
	// frees what the transport holds. Calling it again does nothing.
	close() error
}

// wireRequest is one of mcpmux's requests to the upstream, encoded.
type wireRequest struct {
	id     string // mcpmux's request ids are strings
	method string
	line   []byte // the whole message, newline included
}

// newWireRequest encodes a request with the string id. Raw params are
// written as they are, so that a client's arguments reach the upstream
// byte for byte; nil means none.
func newWireRequest(id, method string, params []byte) *wireRequest {
	return &wireRequest{id: id, method: method, line: wireLine(id, method, params)}
}

// wireLine encodes a request with the string id.
func wireLine(id, method string, params []byte) []byte {
	var idBuf [40]byte
	return jsonrpc.AppendRequest(nil, jsonrpc.AppendQuote(idBuf[:0], id), method, params)
}
