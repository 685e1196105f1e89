package httpserve

import (
	"context"
	"encoding/json"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/mcpmux/mcpmux/internal/jsonrpc"
	"github.com/mcpmux/mcpmux/internal/sessiontoken"
	"github.com/mcpmux/mcpmux/proxy"
)

// session is one client's session over HTTP, and the proxy session it
// feeds: the [proxy.Sink] that puts each message on its stream.
//
// Over streamable HTTP, a request's response, and what is sent while it
// runs (progress, an upstream's request to the client), go on the stream
// of the POST that carried the request; the rest on the listening
// stream, which holds what comes while no GET is open. Over HTTP+SSE
// (legacy), everything goes on the one event stream.
type session struct {
	id      string
	profile string // the profile of the URL it was opened at; "" for none
	ps      *proxy.Session
	// state is what its token holds, for a portable session (see
	// portable.go); zero for one that stays on this replica.
	state sessiontoken.State
	// adopted: another replica opened it; this one resumed it from its
	// token. tookOver: its listening stream has been opened here.
	adopted  bool
	tookOver bool
	prefix   string   // of its streams' ids (see newSession)
	tokens   []string // the latest ids that named it here, in Server.tokens (under Server.mu)
	legacy   *stream  // the HTTP+SSE transport's one stream; nil for streamable HTTP
	// turn serialises the reading and dispatching of the session's
	// messages, which take microseconds each: one session's many
	// connections get no more CPU than one has, so that a flood of them
	// does not crowd the other sessions' requests out.
	turn sync.Mutex
	pace pacer // slows the session while it floods past its bounds (see pace.go); under turn

	mu         sync.Mutex
	requests   map[string]*stream // by the raw id of the request whose response they carry
	streams    map[string]*stream // by stream id, for resumption
	listening  *stream
	nextStream int
	lastSeen   time.Time
}

var _ proxy.Sink = (*session)(nil)

// listeningID is the stream id of the listening stream.
const listeningID = "0"

// maxHeld bounds what the listening stream holds while no GET is open:
// a client that never opens one loses the oldest first.
const maxHeld = 1000

// newSession makes a session whose stream ids start with prefix: "" for
// a process-local session; for a portable one, the replica's own, so that
// an event id that another replica numbered never names a stream here.
func newSession(id string, legacy bool, prefix string) *session {
	sess := &session{id: id, prefix: prefix, requests: map[string]*stream{}, streams: map[string]*stream{}, lastSeen: time.Now()}
	if legacy {
		sess.legacy = newStream(listeningID)
	} else {
		sess.listening = newStream(prefix + listeningID)
		sess.streams[sess.listening.id] = sess.listening
	}
	return sess
}

// isListening reports whether a stream id is that of a listening stream,
// of this replica's or another's.
func isListening(streamID string) bool {
	return streamID == listeningID || strings.HasSuffix(streamID, "."+listeningID)
}

// Send puts one message of the proxy's on its stream (see proxy.Sink).
func (sess *session) Send(related json.RawMessage, final bool, msg []byte) {
	if sess.legacy != nil {
		sess.legacy.add(msg, false)
		return
	}
	var st *stream
	if related != nil {
		sess.mu.Lock()
		st = sess.requests[string(related)]
		if st != nil && final {
			delete(sess.requests, string(related))
		}
		sess.mu.Unlock()
	}
	if st != nil && (final || !st.json) && st.add(msg, final) {
		return
	}
	sess.listening.addBounded(msg, maxHeld)
}

// handle dispatches one message of the client's, in its turn (see turn);
// a request at the session's pace too (see pace.go). It reports false if
// ctx ended while the request waited: it was not dispatched.
// traceparent is the W3C trace context header of the HTTP request that
// carried it, "" for none.
func (sess *session) handle(ctx context.Context, msg []byte, request bool, traceparent string) bool {
	sess.turn.Lock()
	defer sess.turn.Unlock()
	if request && !sess.pace.wait(ctx) {
		return false
	}
	sess.dispatch(msg, request, traceparent)
	return true
}

// dispatch hands one message to the proxy session. A request is booked
// if the session floods (see pace.go): if it was refused for being past
// a bound, or if more than paceAbove wait for answers. The caller holds
// turn.
func (sess *session) dispatch(msg []byte, request bool, traceparent string) {
	if !request {
		sess.ps.HandleTraced(msg, traceparent)
		return
	}
	before := sess.ps.Refused()
	sess.ps.HandleTraced(msg, traceparent)
	if sess.ps.Refused() > before || sess.ps.Pending() > paceAbove {
		sess.pace.book()
	}
}

// abandon forgets the stream of request id, which the client gave up on
// before it was dispatched.
func (sess *session) abandon(id json.RawMessage, st *stream) {
	sess.mu.Lock()
	if sess.requests[string(id)] == st {
		delete(sess.requests, string(id))
	}
	sess.mu.Unlock()
	st.end()
}

// openRequest opens the stream that carries the response to request id;
// json: the client takes the response alone, as a JSON body. It reports
// false if a request with that id is in flight already.
func (sess *session) openRequest(id json.RawMessage, json bool) (*stream, bool) {
	sess.mu.Lock()
	defer sess.mu.Unlock()
	if sess.requests[string(id)] != nil {
		return nil, false
	}
	sess.nextStream++
	st := newStream(sess.prefix + strconv.Itoa(sess.nextStream))
	st.json = json
	sess.requests[string(id)] = st
	sess.streams[st.id] = st
	return st, true
}

// cancelled ends the stream of a request the client cancelled: it gets no
// response.
func (sess *session) cancelled(params json.RawMessage) {
	id, err := jsonrpc.Member(params, "requestId")
	if err != nil || id == nil {
		return
	}
	sess.mu.Lock()
	st := sess.requests[string(id)]
	delete(sess.requests, string(id))
	sess.mu.Unlock()
	if st != nil {
		st.end()
	}
}

// dropStream forgets a stream written to its end.
func (sess *session) dropStream(st *stream) {
	if st == sess.listening || !st.finished() {
		return
	}
	sess.mu.Lock()
	defer sess.mu.Unlock()
	if sess.streams[st.id] == st {
		delete(sess.streams, st.id)
	}
}

// resumable returns the stream a Last-Event-ID names and the number of
// its event, or nil if the session has no such stream (any more).
func (sess *session) resumable(lastID string) (*stream, int) {
	sid, seq, ok := strings.Cut(lastID, "-")
	n, err := strconv.Atoi(seq)
	if !ok || err != nil || n < 0 {
		return nil, 0
	}
	sess.mu.Lock()
	defer sess.mu.Unlock()
	return sess.streams[sid], n
}

// touch records that the client made a request.
func (sess *session) touch() {
	sess.mu.Lock()
	defer sess.mu.Unlock()
	sess.lastSeen = time.Now()
}

// idleFor returns how long the session has had neither a request nor an
// open stream; 0 while it has one.
func (sess *session) idleFor() time.Duration {
	sess.mu.Lock()
	last := sess.lastSeen
	streams := make([]*stream, 0, len(sess.streams))
	for _, st := range sess.streams {
		streams = append(streams, st)
	}
	sess.mu.Unlock()
	for _, st := range streams {
		since, writing := st.idleSince()
		if writing {
			return 0
		}
		if since.After(last) {
			last = since
		}
	}
	return time.Since(last)
}

// close ends the proxy session, whose requests in flight are cancelled
// and answered, then every stream, once it has been written.
func (sess *session) close() {
	if sess.ps != nil {
		sess.ps.Close()
	}
	if sess.legacy != nil {
		sess.legacy.end()
		return
	}
	sess.mu.Lock()
	streams := make([]*stream, 0, len(sess.streams))
	for _, st := range sess.streams {
		streams = append(streams, st)
	}
	sess.mu.Unlock()
	for _, st := range streams {
		st.end()
	}
}

// takeOver reports, once, whether a GET that opens the listening stream
// takes it over from another replica: the session was adopted here, and
// this is its first listening stream here.
func (sess *session) takeOver() bool {
	sess.mu.Lock()
	defer sess.mu.Unlock()
	if !sess.adopted || sess.tookOver {
		return false
	}
	sess.tookOver = true
	return true
}
