package proxy

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/mark3labs/mcp-go/mcp"

	"github.com/mcpmux/mcpmux/internal/jsonrpc"
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
	modern      atomic.Bool   // the client speaks 2026-07-28
	notes       chan mcp.JSONRPCNotification
	nextID      atomic.Int64

	mu         sync.Mutex
	inflight   map[string]*call       // client requests being served, by raw id
	progress   map[string]string      // progress token → upstream, while its call runs
	outgoing   map[string]*outgoing   // our requests to the client, by id
	answeredAt map[string]time.Time   // when each upstream last got an answer from the client
	pending    map[string]bool        // list_changed methods waiting to be sent
	timer      *time.Timer            // sends pending when it fires
	clientInfo mcp.Implementation     // from initialize
	capsSet    bool                   // SetClientCapabilities has run
	clientCaps mcp.ClientCapabilities // from initialize, or a modern client's first request
	listen     listenState            // a modern client's notification stream
	subscribed map[string]string      // resource URI → the upstream its subscription went to

	life    context.Context // Serve's: ends with the session
	calls   *group          // runs the session's requests and flights
	flights flights         // a modern client's calls that may need its input
	listed  map[string]bool // list methods asked for at least once
	shown   map[string]bool // list_changed methods of the lists answered at least once
}

// call is one client request being served.
type call struct {
	id        json.RawMessage // as the client wrote it
	cancel    context.CancelFunc
	cancelled atomic.Bool // by the client: no response is sent
	huge      bool        // its response was a huge message (see hugeMessage)
}

// outgoing is one request of ours to the client, on behalf of an upstream.
type outgoing struct {
	server string                // the upstream that asked
	answer chan *jsonrpc.Message // the client's response
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
	ready := s.capsSet || s.modern.Load()
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
	var calls group
	sess.life, sess.calls = ctx, &calls
	err := sess.readLoop(ctx, in, &calls)
	cancel()
	sess.endFlights()
	calls.close()
	notes.Wait()
	return err
}

// group runs the goroutines of one session's requests. Once closed, it
// starts no more and waits for those it started.
type group struct {
	mu     sync.Mutex
	closed bool
	wg     sync.WaitGroup
}

// Go runs f unless the group is closed, and reports whether it does.
func (g *group) Go(f func()) bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.closed {
		return false
	}
	g.wg.Go(f)
	return true
}

func (g *group) close() {
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

// readLoop reads and dispatches messages until in ends or ctx is done.
// Requests are served concurrently; notifications and responses are
// handled in order, on the reading goroutine, which spares every message
// a hand-off. A message larger than the limit is refused and the next one
// read. A read blocked on in is left behind when ctx ends first; it ends
// with the input.
func (sess *session) readLoop(ctx context.Context, in io.Reader, calls *group) error {
	done := make(chan error, 1)
	go func() {
		r := jsonrpc.NewReader(in, sess.srv.opts.MaxMessageSize)
		for {
			line, err := r.Next()
			var tooLarge *jsonrpc.TooLargeError
			switch {
			case errors.As(err, &tooLarge):
				sess.tooLarge(tooLarge)
				continue
			case err != nil:
				done <- err
				return
			case ctx.Err() == nil:
				sess.dispatch(ctx, line, calls)
			}
		}
	}()
	select {
	case <-ctx.Done():
		return nil
	case err := <-done:
		if errors.Is(err, io.EOF) {
			return nil
		}
		return err
	}
}

// dispatch routes one message from the client. A message that is not
// JSON-RPC 2.0, or whose params could be read two ways, gets an error and
// goes no further; so does a request whose id is that of one in flight.
func (sess *session) dispatch(ctx context.Context, line []byte, calls *group) {
	m, err := jsonrpc.Decode(line)
	var p params
	if err == nil && !m.IsResponse() {
		p, err = readParams(m.Method, m.Params)
	}
	switch {
	case err != nil && (m.IsResponse() || m.IsNotification()):
		sess.srv.logger.Debug("invalid message from the client; dropped", "err", err)
	case err != nil:
		sess.send(jsonrpc.AppendError(nil, m.ID, sess.srv.clientError(err)))
	case m.IsResponse():
		sess.answered(&m)
	case m.IsNotification():
		sess.notification(ctx, &m, &p, line)
	default:
		ctx, c, ok := sess.track(ctx, m.ID)
		if !ok {
			sess.send(jsonrpc.AppendError(nil, m.ID, jsonrpc.Errorf(jsonrpc.CodeInvalidRequest,
				"invalid request: id %s is already in use by a request in flight", m.ID)))
			return
		}
		huge := len(line) >= hugeMessage
		if !calls.Go(func() {
			defer sess.untrack(c)
			sess.request(ctx, c, &m, &p, line)
			if huge || c.huge {
				releaseMemory()
			}
		}) {
			sess.untrack(c)
		}
	}
}

// notification handles one notification from the client.
func (sess *session) notification(ctx context.Context, m *jsonrpc.Message, p *params, line []byte) {
	switch m.Method {
	case "notifications/cancelled":
		if id := p.get(keyRoute); id != nil {
			sess.cancel(id)
		}
	case "notifications/roots/list_changed":
		for _, r := range sess.srv.routes() {
			if err := r.up.Notify(ctx, m.Method, m.Params); err != nil {
				sess.srv.logger.Debug("passing on roots change", "upstream", r.cfg.Name, "err", err)
			}
		}
	}
	sess.srv.mcp.HandleMessage(ctx, line)
}

// track registers a request so that the client can cancel it. It reports
// false if a request with the same id is in flight: ids must be unique
// among them, or a cancellation could not tell which is meant.
func (sess *session) track(ctx context.Context, id json.RawMessage) (context.Context, *call, bool) {
	sess.mu.Lock()
	defer sess.mu.Unlock()
	if sess.inflight[string(id)] != nil {
		return nil, nil, false
	}
	ctx, cancel := context.WithCancel(ctx)
	c := &call{id: id, cancel: cancel}
	sess.inflight[string(id)] = c
	return ctx, c, true
}

// untrack ends request c. Calling it again does nothing.
func (sess *session) untrack(c *call) {
	sess.mu.Lock()
	if sess.inflight[string(c.id)] == c {
		delete(sess.inflight, string(c.id))
	}
	sess.mu.Unlock()
	c.cancel()
}

// reply ends request c and sends its response. The request is no longer
// in flight when the client reads the response, which may reuse its id.
func (sess *session) reply(c *call, msg []byte) {
	sess.untrack(c)
	sess.send(msg)
}

// cancel cancels the request with the given id, as the client asked.
func (sess *session) cancel(id json.RawMessage) {
	sess.mu.Lock()
	c := sess.inflight[string(id)]
	sess.mu.Unlock()
	if c != nil {
		c.cancelled.Store(true)
		c.cancel()
	}
}

// tooLarge answers a message that was larger than the limit, if its id
// can be told: the client would wait for an answer in vain otherwise.
func (sess *session) tooLarge(e *jsonrpc.TooLargeError) {
	id := e.ID()
	sess.srv.logger.Warn("message from the client too large; dropped", "size", e.Size, "max_message_size", e.Max, "id", string(id))
	msg := "invalid request: the client sent " + e.Error()
	sess.send(jsonrpc.AppendError(nil, id, &jsonrpc.Error{Code: jsonrpc.CodeInvalidRequest, Message: msg}))
}

// largeResult is the size above which a result is written to the client in
// pieces rather than copied into one message first.
const largeResult = 1 << 20

// replyResult ends request c and sends its raw result (see reply).
func (sess *session) replyResult(c *call, result json.RawMessage) {
	if len(result) < largeResult || bytes.IndexByte(result, '\n') >= 0 || bytes.IndexByte(result, '\r') >= 0 {
		sess.reply(c, jsonrpc.AppendResult(nil, c.id, result))
		return
	}
	sess.untrack(c)
	c.huge = len(result) >= hugeMessage
	msg := jsonrpc.AppendResult(nil, c.id, json.RawMessage("0"))
	end := len(msg) - len("0}\n")
	sess.outMu.Lock()
	defer sess.outMu.Unlock()
	for _, part := range [][]byte{msg[:end], result, msg[end+1:]} {
		if _, err := sess.out.Write(part); err != nil {
			sess.srv.logger.Debug("writing to client", "err", err)
			return
		}
	}
}

// send writes one message, newline included, to the client.
func (sess *session) send(msg []byte) {
	sess.outMu.Lock()
	defer sess.outMu.Unlock()
	if _, err := sess.out.Write(msg); err != nil {
		sess.srv.logger.Debug("writing to client", "err", err)
	}
}

// pumpNotes sends mcp-go's notifications to the client.
func (sess *session) pumpNotes(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case n := <-sess.notes:
			if b, err := json.Marshal(n); err == nil {
				sess.send(append(b, '\n'))
			}
		}
	}
}

// listChanged tells the client that a list changed, once per burst; not
// before the client has been answered a list of that kind, which holds
// every change until then.
func (sess *session) listChanged(method string) {
	if !sess.Initialized() {
		return
	}
	sess.mu.Lock()
	defer sess.mu.Unlock()
	if !sess.shown[method] {
		return
	}
	sess.pending[method] = true
	if sess.timer == nil {
		delay := sess.srv.opts.ListChangedDelay
		if delay <= 0 {
			delay = 50 * time.Millisecond
		}
		sess.timer = time.AfterFunc(delay, sess.flushListChanged)
	}
}

func (sess *session) flushListChanged() {
	sess.mu.Lock()
	methods := sess.pending
	sess.pending = map[string]bool{}
	sess.timer = nil
	sess.mu.Unlock()
	for m := range methods {
		if params, ok := sess.listenParams(m, nil); ok {
			sess.send(jsonrpc.AppendNotification(nil, m, params))
		}
	}
}

func (sess *session) stopTimer() {
	sess.mu.Lock()
	defer sess.mu.Unlock()
	if sess.timer != nil {
		sess.timer.Stop()
	}
}
