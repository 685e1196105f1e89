package proxy

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/mark3labs/mcp-go/mcp"

	"github.com/mcpmux/mcpmux/internal/clock"
	"github.com/mcpmux/mcpmux/internal/jsonrpc"
)

// session is one client's connection: Serve's over a stream, or one that
// Open made for a transport of the caller's. It implements mcp-go's
// ClientSession so that mcp-go can serve the handshake.
type session struct {
	srv  *Server
	id   string
	seq  int64   // order of opening
	out  *outbox // writes to Serve's stream; nil for a session with a sink
	sink Sink    // where the messages of an opened session go
	// remap: the session shares the upstreams with others, so its
	// progress tokens are replaced by ones of mcpmux's (see progress.go).
	remap bool
	// profile names the part of the catalogue the session has (see
	// ToolMode.Profiles); "" for the whole.
	profile string

	initialized atomic.Bool
	initOnce    sync.Once
	initDone    chan struct{} // closed by Initialize
	stateless   atomic.Bool   // the client speaks 2026-07-28: no handshake, its version and capabilities in each request's _meta
	notes       chan mcp.JSONRPCNotification
	nextID      atomic.Int64

	mu         sync.Mutex
	inflight   map[string]*call       // client requests being served, by raw id (see admit.go)
	perServer  map[string]int         // how many of inflight wait on each upstream, of those that named one
	refused    int                    // requests refused for being past a bound
	upCalls    map[string][]upCall    // the client's requests in flight at each upstream, oldest first
	asks       map[string]int         // by upstream, its requests sent here that wait (see requester)
	outgoing   map[string]*outgoing   // our requests to the client, by id
	answeredAt map[string]time.Time   // when each upstream last got an answer from the client
	pending    map[string]bool        // list_changed methods waiting to be sent
	timer      clock.Timer            // sends pending when it fires
	clientInfo mcp.Implementation     // from initialize
	protocol   string                 // the revision initialize negotiated (see portable.go)
	level      string                 // the client's last logging/setLevel level
	capsSet    bool                   // SetClientCapabilities has run
	clientCaps mcp.ClientCapabilities // from initialize, or a 2026-07-28 client's first request
	listen     listenState            // a 2026-07-28 client's notification stream
	subscribed map[string]string      // resource URI → the upstream its subscription went to

	life    context.Context    // ends with the session
	end     context.CancelFunc // ends life
	notesWG sync.WaitGroup     // pumpNotes
	closed  sync.Once
	calls   *callGroup      // runs the session's requests and flights
	flights flights         // a 2026-07-28 client's calls that may need its input
	listed  map[string]bool // list methods asked for at least once
	shown   map[string]bool // list_changed methods of the lists answered at least once

	info sessionInfo // what the status page shows (see SessionInfos)
}

// call is one client request being served.
type call struct {
	id        json.RawMessage    // as the client wrote it
	server    string             // the upstream it named when it came, if the catalogue knew the name; counted in perServer
	cancel    context.CancelFunc // ends it; nil for a fast call
	fast      *fastCall          // the request, if serveFast sent it
	cancelled atomic.Bool        // by the client: no response is sent
}

var sessionIDs, sessionSeq atomic.Int64

// ErrUnknownProfile is returned for a session of a profile that is not
// configured.
var ErrUnknownProfile = errors.New("no such profile")

func (s *session) SessionID() string                                   { return s.id }
func (s *session) NotificationChannel() chan<- mcp.JSONRPCNotification { return s.notes }

// Initialize marks the handshake done. mcp-go calls it before it stores
// the client's capabilities, so for a legacy client initDone closes only
// once SetClientCapabilities has run; a 2026-07-28 client has no handshake.
func (s *session) Initialize() {
	s.initialized.Store(true)
	s.mu.Lock()
	ready := s.capsSet || s.stateless.Load()
	s.mu.Unlock()
	if ready {
		s.initOnce.Do(func() { close(s.initDone) })
	}
}
func (s *session) Initialized() bool { return s.initialized.Load() }

func (s *session) SetClientInfo(info mcp.Implementation) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.clientInfo = info
}

func (s *session) GetClientInfo() mcp.Implementation {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.clientInfo
}

func (s *session) SetClientCapabilities(caps mcp.ClientCapabilities) {
	s.mu.Lock()
	s.clientCaps = caps
	s.capsSet = true
	s.mu.Unlock()
	if s.initialized.Load() {
		s.initOnce.Do(func() { close(s.initDone) })
	}
}

func (s *session) GetClientCapabilities() mcp.ClientCapabilities {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.clientCaps
}

// Serve speaks MCP with one client over in and out (newline-delimited
// JSON-RPC, as on stdio) until in ends or ctx is done. When it returns,
// every request it started has ended, and the upstream requests of those
// still in flight have been cancelled.
func (s *Server) Serve(ctx context.Context, in io.Reader, out io.Writer) error {
	return s.ServeProfile(ctx, "", in, out)
}

// ServeProfile is Serve for a client of the named profile ("" for the
// whole catalogue): it lists, searches and calls the profile's tools only.
func (s *Server) ServeProfile(ctx context.Context, profile string, in io.Reader, out io.Writer) error {
	if err := s.checkProfile(profile); err != nil {
		return err
	}
	sess, err := s.open(ctx, "stdio-"+strconv.FormatInt(sessionIDs.Add(1), 10), profile, out, nil)
	if err != nil {
		return err
	}
	err = sess.readLoop(sess.life, in, sess.calls)
	sess.close()
	return err
}

// A Sink carries the messages of a session that [Server.Open] made to its
// client. Send is called concurrently, once for each message, and must
// not block for long. msg is one JSON-RPC message, newline included, which
// Send may keep. related is the raw id of the client's request that msg
// belongs to: msg is its response if final is true, else a request or a
// notification sent while it runs (progress, an upstream's sampling
// request). related is nil for what belongs to no request of the
// client's: list changes, log messages, resource updates.
type Sink interface {
	Send(related json.RawMessage, final bool, msg []byte)
}

// Session is one client's session, opened with [Server.Open], over a
// transport of the caller's: many may be open at once, sharing the
// upstreams. What belongs to a session stays in it: the responses to its
// requests, the progress of its calls, the requests upstreams send while
// its calls run; list changes reach every session.
type Session struct{ s *session }

// Open starts a session whose messages to the client go to sink; the
// client's reach it through Handle. id names it to mcp-go and in logs,
// and must be unique among open sessions. The session lives until Close,
// or until ctx ends.
func (s *Server) Open(ctx context.Context, id string, sink Sink) (*Session, error) {
	return s.OpenProfile(ctx, id, "", sink)
}

// OpenProfile is Open for a client of the named profile ("" for the
// whole catalogue).
func (s *Server) OpenProfile(ctx context.Context, id, profile string, sink Sink) (*Session, error) {
	if err := s.checkProfile(profile); err != nil {
		return nil, err
	}
	sess, err := s.open(ctx, id, profile, nil, sink)
	if err != nil {
		return nil, err
	}
	return &Session{sess}, nil
}

// checkProfile refuses a profile that is not configured.
func (s *Server) checkProfile(profile string) error {
	if profile == "" || s.HasProfile(profile) {
		return nil
	}
	return fmt.Errorf("%w %q", ErrUnknownProfile, profile)
}

// ID returns the session's id.
func (c *Session) ID() string { return c.s.id }

// Handle serves one message from the client: a request, a notification,
// or a response to a request of mcpmux's. It returns once the message is
// dispatched; a request's response goes to the sink.
func (c *Session) Handle(msg []byte) { c.HandleTraced(msg, "") }

// HandleTraced is Handle for a message that came in an HTTP request with
// a W3C traceparent header: a request without a _meta.traceparent of its
// own is served in that trace, and its upstream request carries it.
func (c *Session) HandleTraced(msg []byte, traceparent string) {
	if c.s.life.Err() == nil {
		c.s.dispatch(c.s.life, msg, c.s.calls, traceparent)
	}
}

// SkipHandshake serves a client that has no handshake: one request of a
// stateless HTTP client, without a session. It is treated as initialized,
// with no capabilities unless its request declares some in _meta.
func (c *Session) SkipHandshake() {
	c.s.initialized.Store(true)
	c.s.initOnce.Do(func() { close(c.s.initDone) })
}

// Pending returns how many of the client's requests are in flight.
func (c *Session) Pending() int {
	c.s.mu.Lock()
	defer c.s.mu.Unlock()
	return len(c.s.inflight)
}

// Refused returns how many of the client's requests have been refused
// for being past a bound on requests in flight (see admit.go).
func (c *Session) Refused() int {
	c.s.mu.Lock()
	defer c.s.mu.Unlock()
	return c.s.refused
}

// TooLarge answers a message from the client that was larger than the
// limit, as Serve does.
func (c *Session) TooLarge(e *jsonrpc.TooLargeError) { c.s.tooLarge(e) }

// Close ends the session: its requests in flight are cancelled, at their
// upstreams too, and Close returns once all have ended. Calling it again
// does nothing.
func (c *Session) Close() { c.s.close() }

// Done is closed once the session is ending.
func (c *Session) Done() <-chan struct{} { return c.s.life.Done() }

// open starts a session on out (a stream) or sink.
func (s *Server) open(ctx context.Context, id, profile string, out io.Writer, sink Sink) (*session, error) {
	ctx, cancel := context.WithCancel(ctx)
	sess := &session{
		srv:        s,
		id:         id,
		seq:        sessionSeq.Add(1),
		sink:       sink,
		remap:      sink != nil,
		profile:    profile,
		notes:      make(chan mcp.JSONRPCNotification, 100),
		initDone:   make(chan struct{}),
		inflight:   map[string]*call{},
		perServer:  map[string]int{},
		upCalls:    map[string][]upCall{},
		asks:       map[string]int{},
		outgoing:   map[string]*outgoing{},
		answeredAt: map[string]time.Time{},
		pending:    map[string]bool{},
		subscribed: map[string]string{},
		listed:     map[string]bool{},
		flights:    flights{running: map[string][]*flight{}, waiting: map[string]*flight{}},
		shown:      map[string]bool{},
		calls:      &callGroup{},
		end:        cancel,
	}
	if err := s.mcp.RegisterSession(ctx, sess); err != nil {
		cancel()
		return nil, err
	}
	sess.life = s.mcp.WithContext(ctx, sess)
	sess.info.opened = time.Now()
	if out != nil {
		sess.out = newOutbox(out, s.clock, s.logger)
	}
	s.addSession(sess)
	sess.notesWG.Go(func() { sess.pumpNotes(sess.life) })
	return sess, nil
}

// close ends the session (see Session.Close).
func (sess *session) close() {
	sess.closed.Do(func() {
		sess.end()
		if sess.out != nil {
			sess.out.close() // a client that does not read holds up nothing of what follows
		}
		sess.cancelAll()
		sess.endFlights()
		sess.calls.close()
		sess.notesWG.Wait()
		if sess.out != nil && !sess.out.end() {
			sess.srv.logger.Warn("the client has not read its last messages; leaving them unwritten", "session", sess.id, "waited", drainWait)
		}
		sess.stopTimer()
		sess.srv.removeSession(sess)
		sess.srv.mcp.UnregisterSession(context.WithoutCancel(sess.life), sess.id)
	})
}

// callGroup runs the goroutines of one session's requests. Once closed, it
// starts no more and waits for those it started.
type callGroup struct {
	mu     sync.Mutex
	closed bool
	wg     sync.WaitGroup
}

// Go runs f unless the group is closed, and reports whether it does.
func (g *callGroup) Go(f func()) bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.closed {
		return false
	}
	g.wg.Go(f)
	return true
}

// add counts one request served without a goroutine of the group's, until
// done, unless the group is closed; it reports whether it does.
func (g *callGroup) add() bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.closed {
		return false
	}
	g.wg.Add(1)
	return true
}

func (g *callGroup) done() { g.wg.Done() }

func (g *callGroup) close() {
	g.mu.Lock()
	g.closed = true
	g.mu.Unlock()
	g.wg.Wait()
}

// addSession makes sess one of the sessions that the upstreams' events
// reach.
func (s *Server) addSession(sess *session) {
	s.mu.Lock()
	s.sessions[sess] = struct{}{}
	s.sessionCount.Store(int64(len(s.sessions)))
	s.mu.Unlock()
	s.servedOnce.Do(func() { close(s.served) })
}

func (s *Server) removeSession(sess *session) {
	s.mu.Lock()
	delete(s.sessions, sess)
	s.sessionCount.Store(int64(len(s.sessions)))
	s.mu.Unlock()
}

// end cancels the request: its context ends, or a fast call is aborted.
// Calling it again does nothing.
func (c *call) end() {
	if c.fast != nil {
		c.fast.clientCancel()
		return
	}
	c.cancel()
}
