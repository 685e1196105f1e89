package upstream

import (
	"encoding/json"
	"sync"

	"github.com/mcpmux/mcpmux/internal/jsonrpc"
)

// waiters matches responses to the requests of mcpmux's waiting for them,
// by id. The ids of mcpmux's requests are strings.
type waiters struct {
	mu      sync.Mutex
	pending map[string]chan *jsonrpc.Message
}

// add registers a request under id; remove must be called once it no
// longer waits.
func (w *waiters) add(id string) (answer <-chan *jsonrpc.Message, remove func()) {
	ch := make(chan *jsonrpc.Message, 1)
	w.mu.Lock()
	if w.pending == nil {
		w.pending = map[string]chan *jsonrpc.Message{}
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
func (w *waiters) deliver(id json.RawMessage, resp *jsonrpc.Message) {
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
