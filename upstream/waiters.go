package upstream

import (
	"encoding/json"
	"sync"

	"github.com/mcpmux/mcpmux/internal/jsonrpc"
)

// waiters matches responses to the requests of mcpmux's waiting for them,
// by id. The ids of mcpmux's requests are strings. A request waits on a
// channel (add), or has its answer handed to a function on the goroutine
// that reads the upstream (addFunc), which spares it a goroutine and a
// hand-off.
type waiters struct {
	mu      sync.Mutex
	pending map[string]waiter
}

// waiter is one request waiting for its response: on ch, or through done.
type waiter struct {
	ch   chan *jsonrpc.Message
	done answerer // told once, of the response or why there is none
}

// answerer is told the response to a request, or why there is none.
type answerer interface {
	answered(resp *jsonrpc.Message, err error)
}

// add registers a request under id; remove must be called once it no
// longer waits.
func (w *waiters) add(id string) (answer <-chan *jsonrpc.Message, remove func()) {
	ch := make(chan *jsonrpc.Message, 1)
	w.put(id, waiter{ch: ch})
	return ch, func() { w.take(id) }
}

// addFunc registers a request under id whose response goes to done, once.
// done must not block for long: it runs on the upstream's reader.
func (w *waiters) addFunc(id string, done answerer) {
	w.put(id, waiter{done: done})
}

func (w *waiters) put(id string, wt waiter) {
	w.mu.Lock()
	if w.pending == nil {
		w.pending = map[string]waiter{}
	}
	w.pending[id] = wt
	w.mu.Unlock()
}

// take removes the request id and returns it, if it still waits.
func (w *waiters) take(id string) (waiter, bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	wt, ok := w.pending[id]
	delete(w.pending, id)
	return wt, ok
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
	wt, ok := w.pending[string(key)]
	if ok && wt.done != nil {
		delete(w.pending, string(key))
	}
	w.mu.Unlock()
	switch {
	case !ok:
	case wt.done != nil:
		wt.done.answered(resp, nil)
	default:
		select {
		case wt.ch <- resp:
		default:
		}
	}
}

// failFuncs fails every request registered with addFunc with err: the
// transport is closed. Those waiting on a channel see the close themselves.
func (w *waiters) failFuncs(err error) {
	w.mu.Lock()
	var failed []waiter
	for id, wt := range w.pending {
		if wt.done != nil {
			failed = append(failed, wt)
			delete(w.pending, id)
		}
	}
	w.mu.Unlock()
	for _, wt := range failed {
		wt.done.answered(nil, err)
	}
}
