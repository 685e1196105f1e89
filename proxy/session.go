package proxy

import (
	"bufio"
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
)

// session is the client's connection while Serve runs. It implements
// mcp-go's ClientSession so that mcp-go can serve the handshake.
type session struct {
	srv   *Server
	out   io.Writer
	outMu sync.Mutex // serialises whole messages on out

	initialized atomic.Bool
	notes       chan mcp.JSONRPCNotification // from mcp-go, to the client

	mu       sync.Mutex
	inflight map[string]*call // client requests being served, by raw id
	pending  map[string]bool  // list_changed methods waiting to be sent
	timer    *time.Timer
}

// call is one client request being served.
type call struct {
	cancel    context.CancelFunc
	cancelled atomic.Bool // by the client: no response is sent
}

var sessionIDs atomic.Int64

func (s *session) SessionID() string {
	return "stdio-" + strconv.FormatInt(sessionIDs.Load(), 10)
}
func (s *session) NotificationChannel() chan<- mcp.JSONRPCNotification { return s.notes }
func (s *session) Initialize()                                         { s.initialized.Store(true) }
func (s *session) Initialized() bool                                   { return s.initialized.Load() }

// Serve speaks MCP with one client over in and out (newline-delimited
// JSON-RPC, as on stdio) until in ends or ctx is done. When it returns,
// every request it started has ended, and the upstream requests of those
// still in flight have been cancelled.
func (s *Server) Serve(ctx context.Context, in io.Reader, out io.Writer) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	sessionIDs.Add(1)
	sess := &session{
		srv:      s,
		out:      out,
		notes:    make(chan mcp.JSONRPCNotification, 100),
		inflight: map[string]*call{},
		pending:  map[string]bool{},
	}
	if err := s.mcp.RegisterSession(ctx, sess); err != nil {
		return err
	}
	defer s.mcp.UnregisterSession(context.WithoutCancel(ctx), sess.SessionID())
	ctx = s.mcp.WithContext(ctx, sess)
	s.setSession(sess)
	defer s.setSession(nil)

	var wg sync.WaitGroup
	wg.Go(func() { sess.pumpNotes(ctx) })
	err := s.readLoop(ctx, sess, in, &wg)
	cancel()
	wg.Wait()
	return err
}

func (s *Server) setSession(sess *session) {
	s.mu.Lock()
	s.session = sess
	s.mu.Unlock()
}

// readLoop reads messages until in ends or ctx is done. Requests are
// served concurrently; notifications and responses are handled in order.
func (s *Server) readLoop(ctx context.Context, sess *session, in io.Reader, wg *sync.WaitGroup) error {
	lines := make(chan []byte)
	readErr := make(chan error, 1)
	go func() {
		br := bufio.NewReaderSize(in, 64<<10)
		for {
			line, err := br.ReadBytes('\n')
			if line = bytes.TrimSpace(line); len(line) > 0 {
				select {
				case lines <- line:
				case <-ctx.Done():
					return
				}
			}
			if err != nil {
				readErr <- err
				return
			}
		}
	}()
	for {
		select {
		case <-ctx.Done():
			return nil
		case err := <-readErr:
			if errors.Is(err, io.EOF) {
				return nil
			}
			return err
		case line := <-lines:
			s.dispatch(ctx, sess, line, wg)
		}
	}
}

// dispatch routes one message from the client.
func (s *Server) dispatch(ctx context.Context, sess *session, line []byte, wg *sync.WaitGroup) {
	var m envelope
	if err := json.Unmarshal(line, &m); err != nil {
		sess.send(errorMessage(nil, errorf(codeParseError, "parse error: %s", err)))
		return
	}
	switch {
	case m.Method == "":
		// A response to a request of ours; none are sent yet.
	case isNull(m.ID):
		s.notification(ctx, sess, m, line)
	default:
		c := sess.track(ctx, m.ID)
		wg.Go(func() {
			defer sess.untrack(m.ID)
			s.request(c.ctx, sess, c.call, m, line)
		})
	}
}

// notification handles one notification from the client.
func (s *Server) notification(ctx context.Context, sess *session, m envelope, line []byte) {
	if m.Method == "notifications/cancelled" {
		var p struct {
			RequestID json.RawMessage `json:"requestId"`
		}
		if json.Unmarshal(m.Params, &p) == nil {
			sess.cancel(p.RequestID)
		}
	}
	s.mcp.HandleMessage(ctx, line)
}

// trackedCall is a call with its context.
type trackedCall struct {
	ctx  context.Context
	call *call
}

// track registers a request so that the client can cancel it.
func (s *session) track(ctx context.Context, id json.RawMessage) trackedCall {
	ctx, cancel := context.WithCancel(ctx)
	c := &call{cancel: cancel}
	s.mu.Lock()
	s.inflight[string(id)] = c
	s.mu.Unlock()
	return trackedCall{ctx, c}
}

func (s *session) untrack(id json.RawMessage) {
	s.mu.Lock()
	c := s.inflight[string(id)]
	delete(s.inflight, string(id))
	s.mu.Unlock()
	if c != nil {
		c.cancel()
	}
}

// cancel cancels the request with the given id, as the client asked.
func (s *session) cancel(id json.RawMessage) {
	s.mu.Lock()
	c := s.inflight[string(bytes.TrimSpace(id))]
	s.mu.Unlock()
	if c != nil {
		c.cancelled.Store(true)
		c.cancel()
	}
}

// send writes one message to the client.
func (s *session) send(msg []byte) {
	s.outMu.Lock()
	defer s.outMu.Unlock()
	if _, err := s.out.Write(append(msg, '\n')); err != nil {
		s.srv.logger.Debug("writing to client", "err", err)
	}
}

// pumpNotes sends mcp-go's notifications to the client.
func (s *session) pumpNotes(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case n := <-s.notes:
			if b, err := json.Marshal(n); err == nil {
				s.send(b)
			}
		}
	}
}

// listChanged tells the client that a list changed, once per burst.
func (s *session) listChanged(method string) {
	if !s.Initialized() {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.pending[method] = true
	if s.timer == nil {
		delay := s.srv.opts.ListChangedDelay
		if delay <= 0 {
			delay = 50 * time.Millisecond
		}
		s.timer = time.AfterFunc(delay, s.flushListChanged)
	}
}

func (s *session) flushListChanged() {
	s.mu.Lock()
	methods := s.pending
	s.pending = map[string]bool{}
	s.timer = nil
	s.mu.Unlock()
	for m := range methods {
		s.send(notificationMessage(m, nil))
	}
}
