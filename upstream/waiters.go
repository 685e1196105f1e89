package upstream

import (
	"encoding/json"
	"fmt"
	"sync"

	"github.com/mark3labs/mcp-go/client/transport"

	"github.com/mcpmux/mcpmux/internal/jsonrpc"
)

// waiters matches responses to the requests of mcpmux's waiting for them,
// by id. The ids of mcpmux's requests are strings.
type waiters struct {
	mu      sync.Mutex
	pending map[string]chan *transport.JSONRPCResponse
}

// add registers a request under id; remove must be called once it no
// longer waits.
func (w *waiters) add(id string) (answer <-chan *transport.JSONRPCResponse, remove func()) {
	ch := make(chan *transport.JSONRPCResponse, 1)
	w.mu.Lock()
	if w.pending == nil {
		w.pending = map[string]chan *transport.JSONRPCResponse{}
	}
	w.pending[id] = ch
	w.mu.Unlock()
	return ch, func() {
		w.mu.Lock()
		delete(w.pending, id)
		w.mu.Unlock()
	}
}

// deliver hands the response to request id (raw, as the upstream sent it)
// to the request waiting for it; a response nobody waits for (its request
// was cancelled) is dropped, as is a duplicate.
func (w *waiters) deliver(id json.RawMessage, resp *transport.JSONRPCResponse) {
	key, ok := jsonrpc.Unquote(id)
	if !ok {
		return // not one of ours: they are strings
	}
	w.mu.Lock()
	answer := w.pending[string(key)]
	w.mu.Unlock()
	if answer != nil {
		select {
		case answer <- resp:
		default:
		}
	}
}

// start encodes req, one of mcpmux's requests, whose id is a string, and
// registers it to wait for its response; remove must be called once it no
// longer waits.
func (w *waiters) start(req transport.JSONRPCRequest) (msg []byte, answer <-chan *transport.JSONRPCResponse, remove func(), err error) {
	id, ok := req.ID.Value().(string)
	if !ok {
		return nil, nil, nil, fmt.Errorf("request id %v is not a string", req.ID.Value())
	}
	if msg, err = requestLine(id, req); err != nil {
		return nil, nil, nil, err
	}
	answer, remove = w.add(id)
	return msg, answer, remove, nil
}

// requestLine encodes a request with the string id as one line. Raw
// params are written as they are, so that a client's arguments reach the
// upstream byte for byte.
func requestLine(id string, req transport.JSONRPCRequest) ([]byte, error) {
	var params json.RawMessage
	switch p := req.Params.(type) {
	case nil:
	case json.RawMessage:
		params = p
	default:
		var err error
		if params, err = json.Marshal(p); err != nil {
			return nil, err
		}
	}
	var idBuf [40]byte
	return jsonrpc.AppendRequest(nil, jsonrpc.AppendQuote(idBuf[:0], id), req.Method, params), nil
}
