package upstream

import (
	"context"
	"sync"
)

// gate bounds the requests in flight to one upstream (the server's
// "maxConcurrency") and queues the rest. Each caller (a client session,
// named by the key that [WithQueueKey] puts in a request's context) has a
// queue of its own, first in first out; a freed slot goes to the callers
// in turn, so that one caller's burst does not hold the others' requests
// behind all of its own. A nil gate lets everything through.
type gate struct {
	max int

	mu     sync.Mutex
	held   int                   // slots taken
	queues map[any][]*gateWaiter // waiting, by caller, oldest first
	turn   []any                 // callers with a queue, the next to be served first
	queued int                   // waiters in queues
}

// gateWaiter is one request waiting for a slot.
type gateWaiter struct {
	ready   chan struct{} // closed when the slot is granted
	granted bool          // guarded by gate.mu
}

func newGate(max int) *gate {
	if max <= 0 {
		return nil
	}
	return &gate{max: max, queues: map[any][]*gateWaiter{}}
}

// queueKey keys the caller a request's context belongs to.
type queueKey struct{}

// WithQueueKey returns ctx naming the caller its requests belong to: an
// upstream with a "maxConcurrency" serves the queues of its callers in
// turn, each in order. Requests without one share the caller nil.
func WithQueueKey(ctx context.Context, key any) context.Context {
	return context.WithValue(ctx, queueKey{}, key)
}

// tryAcquire takes a slot if one is free and nobody waits; it reports
// whether it did.
func (g *gate) tryAcquire() bool {
	if g == nil {
		return true
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.held < g.max && g.queued == 0 {
		g.held++
		return true
	}
	return false
}

// acquire takes a slot, waiting in the caller's queue if none is free,
// until ctx ends: then it returns ctx's cause, holding nothing.
func (g *gate) acquire(ctx context.Context) error {
	if g.tryAcquire() {
		return nil
	}
	key := ctx.Value(queueKey{})
	w := &gateWaiter{ready: make(chan struct{})}
	g.mu.Lock()
	if g.held < g.max && g.queued == 0 {
		g.held++
		g.mu.Unlock()
		return nil
	}
	if len(g.queues[key]) == 0 {
		g.turn = append(g.turn, key)
	}
	g.queues[key] = append(g.queues[key], w)
	g.queued++
	g.mu.Unlock()

	select {
	case <-w.ready:
		return nil
	case <-ctx.Done():
	}
	g.mu.Lock()
	if w.granted {
		g.mu.Unlock()
		g.release() // granted as ctx ended: pass it on, unused
	} else {
		g.remove(key, w)
		g.mu.Unlock()
	}
	return context.Cause(ctx)
}

// remove takes w out of key's queue. g.mu is held.
func (g *gate) remove(key any, w *gateWaiter) {
	q := g.queues[key]
	for i, x := range q {
		if x == w {
			q = append(q[:i:i], q[i+1:]...)
			g.queued--
			break
		}
	}
	if len(q) > 0 {
		g.queues[key] = q
		return
	}
	delete(g.queues, key)
	for i, k := range g.turn {
		if k == key {
			g.turn = append(g.turn[:i:i], g.turn[i+1:]...)
			break
		}
	}
}

// release gives a slot back: to the first waiter of the caller whose
// turn it is, else to the pool.
func (g *gate) release() {
	if g == nil {
		return
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	if len(g.turn) == 0 {
		g.held--
		return
	}
	key := g.turn[0]
	q := g.queues[key]
	w := q[0]
	g.queued--
	if len(q) == 1 {
		delete(g.queues, key)
		g.turn = g.turn[1:]
	} else {
		g.queues[key] = q[1:]
		g.turn = append(g.turn[1:], key) // the next caller's turn
	}
	w.granted = true
	close(w.ready)
}

// waiting returns how many requests wait for a slot.
func (g *gate) waiting() int {
	if g == nil {
		return 0
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.queued
}
