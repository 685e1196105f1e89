package upstream

import (
	"encoding/json"
	"log/slog"
	"strings"
	"sync"
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
	queue       chan note
	listChanged chan struct{}
	quit        chan struct{}
	wg          sync.WaitGroup

	mu      sync.Mutex
	dropped int
}

type note struct {
	method string
	params json.RawMessage
}

func newNoteQueue(server string, deliver func(string, string, json.RawMessage), logger *slog.Logger) *noteQueue {
	q := &noteQueue{
		server:      server,
		deliver:     deliver,
		logger:      logger,
		queue:       make(chan note, noteQueueSize),
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
	select {
	case q.queue <- note{method, params}:
	default:
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
			if q.deliver != nil {
				q.deliver(q.server, n.method, n.params)
			}
		}
	}
}

// stop ends delivery and waits for the goroutine. Notifications still
// queued belong to a connection that is gone and are dropped.
func (q *noteQueue) stop() {
	close(q.quit)
	q.wg.Wait()
}
