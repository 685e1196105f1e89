package upstream

import (
	"encoding/json"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
)

// noteQueueSize bounds the notifications buffered per connection. A client
// that cannot keep up loses the overflow (logged) rather than stalling the
// upstream's reader, which would stall every response too.
const noteQueueSize = 1024

// noteQueue hands an upstream's notifications from the connection's reader
// to the OnNotification callback on a goroutine of its own, in order, so
// that the reader never blocks and never runs caller code. List changes are
// signalled on listChanged instead, coalesced, for the supervisor to re-read
// the catalogue: however many arrive, one re-read is in flight and one more
// pending at most, and a flood of them takes no room from the others.
type noteQueue struct {
	server      string
	deliver     func(server, method string, params json.RawMessage)
	logger      *slog.Logger
	queue       chan queued
	listChanged chan struct{}
	quit        chan struct{}
	wg          sync.WaitGroup
	waiting     atomic.Int64 // notes queued and not handed on yet

	mu      sync.Mutex
	dropped int
}

type note struct {
	method string
	params json.RawMessage
}

// queued is what the queue holds: a note, or, with then set, what to run
// in its place (see after).
type queued struct {
	note
	then func()
}

func newNoteQueue(server string, deliver func(string, string, json.RawMessage), logger *slog.Logger) *noteQueue {
	q := &noteQueue{
		server:      server,
		deliver:     deliver,
		logger:      logger,
		queue:       make(chan queued, noteQueueSize),
		listChanged: make(chan struct{}, 1),
		quit:        make(chan struct{}),
	}
	q.wg.Add(1)
	go q.run()
	return q
}

// push queues one notification. It never blocks.
func (q *noteQueue) push(method string, params json.RawMessage) {
	if strings.HasSuffix(method, "/list_changed") && strings.HasPrefix(method, "notifications/") {
		select {
		case q.listChanged <- struct{}{}:
		default:
		}
		return
	}
	q.waiting.Add(1)
	select {
	case q.queue <- queued{note: note{method, params}}:
	default:
		q.waiting.Add(-1)
		q.mu.Lock()
		q.dropped++
		n := q.dropped
		q.mu.Unlock()
		if n == 1 || n%1000 == 0 {
			q.logger.Warn("dropping upstream notifications: client too slow", "method", method, "dropped", n)
		}
	}
}

func (q *noteQueue) run() {
	defer q.wg.Done()
	for {
		select {
		case <-q.quit:
			return
		case n := <-q.queue:
			switch {
			case n.then != nil:
				n.then()
			case q.deliver != nil:
				q.deliver(q.server, n.method, n.params)
			}
			q.waiting.Add(-1)
		}
	}
}

// idle reports whether every notification pushed so far has been handed
// on (the deliver callback has returned).
func (q *noteQueue) idle() bool { return q.waiting.Load() == 0 }

// after runs f once the notifications pushed so far have been handed on:
// on the queue's goroutine, behind them, or at once on the caller's if
// none waits, or if the queue is full (f is never dropped). The reader
// hands a response on so, after the progress the upstream sent before
// it: the call it answers ends with it, and the progress of a call that
// has ended no longer reaches the client. It never blocks.
func (q *noteQueue) after(f func()) {
	if q.idle() {
		f()
		return
	}
	q.waiting.Add(1)
	select {
	case q.queue <- queued{then: f}:
	default:
		q.waiting.Add(-1)
		f()
	}
}

// stop ends delivery and waits for the goroutine. Notifications still
// queued belong to a connection that is gone and are dropped; the
// responses queued behind them (see after) are handed on.
func (q *noteQueue) stop() {
	close(q.quit)
	q.wg.Wait()
	for {
		select {
		case n := <-q.queue:
			if n.then != nil {
				n.then()
			}
		default:
			return
		}
	}
}
