package proxy

import (
	"context"
	"encoding/json"
	"io"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/mark3labs/mcp-go/mcp"

	"github.com/mcpmux/mcpmux/internal/clock"
)

// session is the client's connection while Serve runs. It implements
// mcp-go's ClientSession so that mcp-go can serve the handshake.
type session struct {
	srv   *Server
	id    string
	out   io.Writer
	outMu sync.Mutex // serialises whole messages on out

	initialized atomic.Bool
	initOnce    sync.Once
	initDone    chan struct{} // closed by Initialize
	stateless   atomic.Bool   // the client speaks 2026-07-28: no handshake, its version and capabilities in each request's _meta
	notes       chan mcp.JSONRPCNotification
	nextID      atomic.Int64

	mu         sync.Mutex
	inflight   map[string]*call       // client requests being served, by raw id
	progress   map[string]string      // progress token → upstream, while its call runs
	outgoing   map[string]*outgoing   // our requests to the client, by id
	answeredAt map[string]time.Time   // when each upstream last got an answer from the client
	pending    map[string]bool        // list_changed methods waiting to be sent
	timer      clock.Timer            // sends pending when it fires
	clientInfo mcp.Implementation     // from initialize
	capsSet    bool                   // SetClientCapabilities has run
	clientCaps mcp.ClientCapabilities // from initialize, or a 2026-07-28 client's first request
	listen     listenState            // a 2026-07-28 client's notification stream
	subscribed map[string]string      // resource URI → the upstream its subscription went to

	life    context.Context // Serve's: ends with the session
	calls   *callGroup      // runs the session's requests and flights
	flights flights         // a 2026-07-28 client's calls that may need its input
	listed  map[string]bool // list methods asked for at least once
	shown   map[string]bool // list_changed methods of the lists answered at least once
}

// call is one client request being served.
type call struct {
	id        json.RawMessage    // as the client wrote it
	cancel    context.CancelFunc // ends it; nil for a fast call
	fast      *fastCall          // the request, if serveFast sent it
	cancelled atomic.Bool        // by the client: no response is sent
	huge      bool               // its response was a huge message (see hugeMessage)
}

var sessionIDs atomic.Int64

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
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	sess := &session{
		srv:        s,
		id:         "stdio-" + strconv.FormatInt(sessionIDs.Add(1), 10),
		out:        out,
		notes:      make(chan mcp.JSONRPCNotification, 100),
		initDone:   make(chan struct{}),
		inflight:   map[string]*call{},
		progress:   map[string]string{},
		outgoing:   map[string]*outgoing{},
		answeredAt: map[string]time.Time{},
		pending:    map[string]bool{},
		subscribed: map[string]string{},
		listed:     map[string]bool{},
		flights:    flights{running: map[string][]*flight{}, waiting: map[string]*flight{}},
		shown:      map[string]bool{},
	}
	if err := s.mcp.RegisterSession(ctx, sess); err != nil {
		return err
	}
	defer s.mcp.UnregisterSession(context.WithoutCancel(ctx), sess.id)
	ctx = s.mcp.WithContext(ctx, sess)
	s.setSession(sess)
	defer s.setSession(nil)
	defer sess.stopTimer()

	var notes sync.WaitGroup
	notes.Go(func() { sess.pumpNotes(ctx) })
	var calls callGroup
	sess.life, sess.calls = ctx, &calls
	err := sess.readLoop(ctx, in, &calls)
	cancel()
	sess.cancelAll()
	sess.endFlights()
	calls.close()
	notes.Wait()
	return err
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

func (s *Server) setSession(sess *session) {
	s.mu.Lock()
	s.session = sess
	s.mu.Unlock()
	if sess != nil {
		s.servedOnce.Do(func() { close(s.served) })
	}
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
