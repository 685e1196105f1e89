package httpserve

import (
	"bytes"
	"context"
	"net/http"
	"strconv"
	"sync"
	"time"
)

// stream is one event stream of a session: the response stream of one
// request, the listening (GET) stream, or a legacy SSE connection. Its
// messages are numbered from 1 as they come and kept until a connection
// has written them, so that a client that lost the connection can resume
// it with Last-Event-ID; at most one connection writes it at a time.
type stream struct {
	id   string // unique within its session; event ids are id + "-" + seq
	json bool   // the response goes out as a JSON body, alone

	mu       sync.Mutex
	events   [][]byte      // messages not yet written, the first numbered base+1
	base     int           // messages written and dropped
	done     bool          // no message follows the last one
	wake     chan struct{} // closed and replaced when events or done change
	writer   chan struct{} // the connection writing it now, closed to make it stop; nil if none
	detached time.Time     // when the last connection stopped writing it
}

func newStream(id string) *stream {
	return &stream{id: id, wake: make(chan struct{})}
}

// add appends one message; final ends the stream after it. A message for
// a stream already done is dropped.
func (st *stream) add(msg []byte, final bool) bool {
	st.mu.Lock()
	defer st.mu.Unlock()
	if st.done {
		return false
	}
	st.events = append(st.events, msg)
	st.done = final
	st.wakeLocked()
	return true
}

// addBounded appends one message to a stream that never ends (the
// listening one), dropping the oldest while no connection writes it and
// it holds more than max.
func (st *stream) addBounded(msg []byte, max int) {
	st.mu.Lock()
	defer st.mu.Unlock()
	if st.done {
		return
	}
	st.events = append(st.events, msg)
	if st.writer == nil && len(st.events) > max {
		st.events[0] = nil
		st.events = st.events[1:]
		st.base++
	}
	st.wakeLocked()
}

// backlog returns how many messages the stream holds that no connection
// has written yet.
func (st *stream) backlog() int {
	st.mu.Lock()
	defer st.mu.Unlock()
	return len(st.events)
}

// end ends the stream after what it holds.
func (st *stream) end() {
	st.mu.Lock()
	defer st.mu.Unlock()
	if !st.done {
		st.done = true
		st.wakeLocked()
	}
}

func (st *stream) wakeLocked() {
	close(st.wake)
	st.wake = make(chan struct{})
}

// finished reports whether the stream is done and written to the end.
func (st *stream) finished() bool {
	st.mu.Lock()
	defer st.mu.Unlock()
	return st.done && len(st.events) == 0
}

// attach makes the caller the stream's writer, from after the event
// numbered after (0: from the first one still held), and stops a writer
// already attached. It reports false if events after that number have
// been dropped already.
func (st *stream) attach(after int) (stop chan struct{}, ok bool) {
	st.mu.Lock()
	defer st.mu.Unlock()
	if after > st.base {
		// Written before: the client has them; drop them.
		n := min(after-st.base, len(st.events))
		st.events = st.events[n:]
		st.base += n
	}
	if after < st.base && after != 0 {
		return nil, false
	}
	if st.writer != nil {
		close(st.writer)
	}
	st.writer = make(chan struct{})
	return st.writer, true
}

// resumes reports whether the stream can be written from after the event
// numbered after: it has numbered that event and still holds the ones
// after it. A number it never reached comes from another stream's
// numbering (another replica's, or a client's invention).
func (st *stream) resumes(after int) bool {
	st.mu.Lock()
	defer st.mu.Unlock()
	return after == 0 || (after >= st.base && after <= st.base+len(st.events))
}

// detach stops the writer stop, if it still is the stream's.
func (st *stream) detach(stop chan struct{}) {
	st.mu.Lock()
	defer st.mu.Unlock()
	if st.writer == stop {
		st.writer = nil
		st.detached = time.Now()
	}
}

// idleSince returns when the stream last had a writer (the zero time if
// it never had one), and whether it has one now.
func (st *stream) idleSince() (since time.Time, writing bool) {
	st.mu.Lock()
	defer st.mu.Unlock()
	return st.detached, st.writer != nil
}

// next returns the events after the number seen, once there are any, the
// number of the last, and whether the stream is done after them. It
// returns nothing, with ping true, when tick fires first, and with ok
// false once stop or ctx ends.
func (st *stream) next(ctx context.Context, stop chan struct{}, tick <-chan time.Time, seen int) (events [][]byte, last int, done, ping, ok bool) {
	st.mu.Lock()
	// seen is within what the stream numbered (see resumes), never past
	// it: a slice out of range here would leave st.mu locked for good.
	seen = min(max(seen, st.base), st.base+len(st.events))
	events = st.events[seen-st.base:]
	done, wake := st.done, st.wake
	st.mu.Unlock()
	if len(events) > 0 || done {
		return events, seen + len(events), done, false, true
	}
	select {
	case <-wake:
		return nil, seen, false, false, true
	case <-tick:
		return nil, seen, false, true, true
	case <-stop:
	case <-ctx.Done():
	}
	return nil, seen, false, false, false
}

// written drops the events up to number last, which a connection wrote.
func (st *stream) written(last int) {
	st.mu.Lock()
	defer st.mu.Unlock()
	if n := min(last-st.base, len(st.events)); n > 0 {
		st.events[0] = nil
		st.events = st.events[n:]
		st.base += n
	}
}

// keepAlive is how often a stream with nothing to say sends a comment,
// so that proxies and NATs on the way keep the connection.
const keepAlive = 25 * time.Second

// serve writes the stream to w from after the event numbered after, until
// it is done (and all written), ctx ends, another connection takes the
// stream over, or writing fails. name is the SSE event name of messages;
// retry, if not zero, is sent first with a priming event (an id and no
// data), which tells a client it may resume the stream.
func (st *stream) serve(ctx context.Context, w http.ResponseWriter, after int, retry time.Duration) bool {
	stop, ok := st.attach(after)
	if !ok {
		return false
	}
	defer st.detach(stop)
	flusher, _ := w.(http.Flusher)
	flush := func() {
		if flusher != nil {
			flusher.Flush()
		}
	}
	if retry > 0 {
		st.mu.Lock()
		primed := "id: " + st.id + "-" + strconv.Itoa(max(after, st.base)) + "\nretry: " + strconv.FormatInt(retry.Milliseconds(), 10) + "\ndata: \n\n"
		st.mu.Unlock()
		if _, err := w.Write([]byte(primed)); err != nil {
			return true
		}
	}
	flush()
	seen := after
	ticker := time.NewTicker(keepAlive)
	defer ticker.Stop()
	var buf []byte
	for {
		events, last, done, ping, ok := st.next(ctx, stop, ticker.C, seen)
		switch {
		case !ok:
			return true
		case ping:
			if _, err := w.Write([]byte(": keep-alive\n\n")); err != nil {
				return true
			}
			flush()
			continue
		}
		for i, msg := range events {
			buf = appendEvent(buf[:0], st.id, seen+i+1, msg)
			if _, err := w.Write(buf); err != nil {
				st.written(seen + i)
				return true
			}
		}
		flush()
		seen = last
		st.written(seen)
		if done && st.finished() {
			return true
		}
	}
}

// appendEvent encodes one message as an SSE event. A message holds no
// line break outside its JSON strings, except as white space between
// tokens (a pretty-printed result): each line becomes a data line, which
// the client joins again with "\n".
func appendEvent(buf []byte, stream string, seq int, msg []byte) []byte {
	msg = bytes.TrimRight(msg, "\r\n")
	buf = append(buf, "id: "...)
	buf = append(buf, stream...)
	buf = append(buf, '-')
	buf = strconv.AppendInt(buf, int64(seq), 10)
	buf = append(buf, "\nevent: message\n"...)
	for {
		i := bytes.IndexAny(msg, "\r\n")
		if i < 0 {
			break
		}
		buf = append(append(append(buf, "data: "...), msg[:i]...), '\n')
		if msg[i] == '\r' && i+1 < len(msg) && msg[i+1] == '\n' {
			i++
		}
		msg = msg[i+1:]
	}
	buf = append(append(append(buf, "data: "...), msg...), "\n\n"...)
	return buf
}
