package proxy

import (
	"io"
	"log/slog"
	"sync"
	"time"

	"github.com/mcpmux/mcpmux/internal/clock"
)

// outbox writes the messages of a session served on a stream (Serve's
// stdout) on a goroutine of its own, so that a client that stops reading
// holds no goroutine of mcpmux's that must end: not the requests' (which
// Close waits for), not an upstream's reader, not stdin's. What the
// client has not read waits in the outbox, up to maxOutbox bytes; past
// that, whoever sends waits for room (the backpressure a pipe gives),
// but never past the session's end. Once the session ends, the outbox
// has drainWait to write what it holds; a client that reads nothing
// more by then loses it, and the writing goroutine, stuck in a write
// that nobody will read, is left to end with the process.
type outbox struct {
	w    io.Writer
	clk  clock.Clock
	log  *slog.Logger
	kick chan struct{} // something was queued

	mu      sync.Mutex
	queue   [][][]byte    // messages, each in one or more parts, oldest first
	size    int           // bytes queued or being written
	room    chan struct{} // closed when size falls
	closing bool          // the session is ending: no more waiting for room
	ended   bool          // nothing more comes: the writer ends once it has written the rest
	broken  bool          // a write failed: the rest is dropped
	done    chan struct{} // closed when the writer has written everything queued, or broke
}

// maxOutbox bounds the bytes of the messages a client has not read yet
// that wait in the outbox (one message larger than that waits alone).
const maxOutbox = 1 << 20

// drainWait bounds how long a session's end waits for the client to read
// what the outbox still holds.
const drainWait = 100 * time.Millisecond

func newOutbox(w io.Writer, clk clock.Clock, log *slog.Logger) *outbox {
	ob := &outbox{w: w, clk: clk, log: log, kick: make(chan struct{}, 1), room: make(chan struct{}), done: make(chan struct{})}
	go ob.run()
	return ob
}

// put queues one message, in parts written one after the other. It waits
// while the outbox is full, until the session ends; it reports false if
// the message was dropped.
func (ob *outbox) put(parts ...[]byte) bool {
	n := 0
	for _, p := range parts {
		n += len(p)
	}
	ob.mu.Lock()
	for ob.size > 0 && ob.size+n > maxOutbox && !ob.closing && !ob.broken {
		room := ob.room
		ob.mu.Unlock()
		<-room
		ob.mu.Lock()
	}
	if ob.broken || (ob.size > 0 && ob.size+n > maxOutbox) {
		ob.mu.Unlock()
		return false
	}
	ob.queue = append(ob.queue, parts)
	ob.size += n
	ob.mu.Unlock()
	select {
	case ob.kick <- struct{}{}:
	default:
	}
	return true
}

// run writes what is queued until the session has ended and everything
// is written, or a write fails.
func (ob *outbox) run() {
	defer close(ob.done)
	var batch [][][]byte
	for {
		ob.mu.Lock()
		batch, ob.queue = ob.queue, batch[:0]
		ended := ob.ended
		ob.mu.Unlock()
		if len(batch) == 0 {
			if ended {
				return
			}
			<-ob.kick
			continue
		}
		for i, msg := range batch {
			n := 0
			for _, p := range msg {
				n += len(p)
				if _, err := ob.w.Write(p); err != nil {
					ob.log.Debug("writing to client", "err", err)
					ob.fail()
					return
				}
			}
			batch[i] = nil
			ob.freed(n)
			if n >= hugeMessage {
				releaseMemory() // written: its memory goes back to the system
			}
		}
		clear(batch)
	}
}

// freed gives back n bytes written.
func (ob *outbox) freed(n int) {
	ob.mu.Lock()
	ob.size -= n
	close(ob.room)
	ob.room = make(chan struct{})
	ob.mu.Unlock()
}

// fail drops what is queued, and what comes, after a write failed.
func (ob *outbox) fail() {
	ob.mu.Lock()
	ob.broken = true
	ob.queue, ob.size = nil, 0
	close(ob.room)
	ob.room = make(chan struct{})
	ob.mu.Unlock()
}

// close tells the outbox that the session is ending: from now on, a
// message that finds it full is dropped rather than waiting for room.
func (ob *outbox) close() {
	ob.mu.Lock()
	defer ob.mu.Unlock()
	if !ob.closing {
		ob.closing = true
		close(ob.room)
		ob.room = make(chan struct{})
	}
}

// end tells the outbox that nothing more comes (close first): it writes
// what it holds for at most drainWait. It reports whether it has written
// everything.
func (ob *outbox) end() bool {
	ob.close()
	ob.mu.Lock()
	ob.ended = true
	ob.mu.Unlock()
	select {
	case ob.kick <- struct{}{}:
	default:
	}
	t, expired := ob.clk.NewTimer(drainWait)
	defer t.Stop()
	select {
	case <-ob.done:
		return true
	case <-expired:
		return false
	}
}
