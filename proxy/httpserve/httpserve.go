// Package httpserve serves the [proxy.Server] to MCP clients over HTTP:
// the streamable HTTP transport at /mcp and the older HTTP+SSE transport
// at /sse (with its /message endpoint), many clients at once, each in a
// session of its own (see [proxy.Server.Open]) that shares the upstreams
// with the others; and /healthz.
//
// The transports are mcpmux's own rather than mcp-go's: messages pass
// byte for byte, as on stdio, where mcp-go's would decode and re-encode
// them (key order lost, integers above 2^53 altered), and what belongs to
// one request of the client's (its progress, an upstream's sampling
// request) goes on that request's stream.
//
// Every request passes [Server.guard] first: DNS-rebinding protection
// (Host and Origin), and the bearer token if one is set.
package httpserve

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/mcpmux/mcpmux/internal/clock"
	"github.com/mcpmux/mcpmux/internal/jsonrpc"
	"github.com/mcpmux/mcpmux/internal/sessiontoken"
	"github.com/mcpmux/mcpmux/proxy"
	"github.com/mcpmux/mcpmux/registry"
)

// Options configures a Server. The zero value means defaults.
type Options struct {
	// Logger receives the server's log lines. Nil discards them.
	Logger *slog.Logger
	// Token, if set, is required of every request as "Authorization:
	// Bearer <Token>". Empty requires none, which Serve allows on a
	// loopback address only.
	Token string
	// MaxMessageSize bounds one message from a client, in bytes. Zero
	// means jsonrpc.DefaultMaxMessageSize.
	MaxMessageSize int
	// Ready returns how many upstreams are ready, of how many, for
	// /healthz. Nil reports none.
	Ready func() (ready, total int)
	// ShutdownGrace bounds how long Serve, once ctx ends, lets the
	// clients' requests in flight finish before it cancels them (the
	// drain: /readyz answers 503 and no new connection is accepted from
	// the start of it). Zero means 5s.
	ShutdownGrace time.Duration
	// Keys, if set, makes streamable HTTP sessions portable between the
	// replicas that share them: a session's id is its state sealed under
	// the first key, and any replica that holds a key it was sealed
	// under serves it (see portable.go). Nil keeps every session on the
	// replica that opened it.
	Keys *sessiontoken.Keys
	// MaxSessions bounds the sessions open at once, those of stateless
	// requests included; one more is refused with 503. Zero means
	// registry.DefaultMaxSessions (256).
	MaxSessions int
	// SessionIdle ends a streamable HTTP session that has had no request
	// and no open stream for this long (a client that left without
	// DELETE). Zero means 30 minutes.
	SessionIdle time.Duration
	// Page, if set, serves every path that is not MCP's or /healthz,
	// behind the guard: mcpmux's status page at / (internal/statuspage).
	// Nil: those paths are not found.
	Page http.Handler
	// Clock paces a session that floods past its bounds (see pace.go).
	// Nil means the real one; tests inject their own.
	Clock clock.Clock
	// Handlers are more routes (pattern → handler), behind the same
	// guard as the others: /metrics.
	Handlers map[string]http.Handler
}

// Server is the HTTP front of a proxy.Server. Serve runs it.
type Server struct {
	proxy    *proxy.Server
	opts     Options
	logger   *slog.Logger
	token    []byte // sha256 of Options.Token; nil for none
	maxSize  int
	loopback bool // bound to a loopback address (see hostAllowed)
	clk      clock.Clock

	life context.Context // Serve's; sessions live within it

	instance string      // starts the stream ids of portable sessions: this replica's, random
	draining atomic.Bool // ctx has ended: /readyz says 503
	adoptMu  sync.Mutex  // one session adopted at a time (see adopt)

	mu       sync.Mutex
	sessions map[string]*session
	tokens   map[string]*session // portable sessions by the ids that named them here (see known)
	closing  bool
	inflight sync.WaitGroup // requests of clients waiting for their answer
}

// ErrNeedsToken is returned by Serve for a listener on an address that is
// not loopback, without a token: anyone who can reach it could use every
// upstream's credentials.
var ErrNeedsToken = errors.New("serving HTTP on an address that is not loopback needs a token (--token or MCPMUX_TOKEN)")

// New returns a Server for p.
func New(p *proxy.Server, opts Options) *Server {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.ShutdownGrace <= 0 {
		opts.ShutdownGrace = 5 * time.Second
	}
	if opts.SessionIdle <= 0 {
		opts.SessionIdle = 30 * time.Minute
	}
	if opts.MaxSessions <= 0 {
		opts.MaxSessions = registry.DefaultMaxSessions
	}
	s := &Server{proxy: p, opts: opts, logger: opts.Logger, maxSize: opts.MaxMessageSize, sessions: map[string]*session{}, tokens: map[string]*session{}, loopback: true, clk: clock.Or(opts.Clock)}
	if s.maxSize <= 0 {
		s.maxSize = jsonrpc.DefaultMaxMessageSize
	}
	s.instance = "r" + newSessionID()[:8] + "."
	if opts.Token != "" {
		h := sha256.Sum256([]byte(opts.Token))
		s.token = h[:]
	}
	return s
}

// Handler returns the server's routes, each behind the guard.
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("/mcp", s.streamable)
	mux.HandleFunc("/sse", s.sseStream)
	mux.HandleFunc("/mcp/p/", s.profiled("/mcp/p/", s.streamable))
	mux.HandleFunc("/sse/p/", s.profiled("/sse/p/", s.sseStream))
	mux.HandleFunc("/message", s.sseMessage)
	if s.opts.Page != nil {
		mux.Handle("/", s.opts.Page)
	}
	for pattern, h := range s.opts.Handlers {
		mux.Handle(pattern, h)
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/healthz" || r.URL.Path == "/readyz" {
			s.health(w, r) // for probes, which send no token and maybe no Host
			return
		}
		if s.guard(w, r) {
			mux.ServeHTTP(w, r)
		}
	})
}

// Serve serves on ln until ctx ends; then the requests in flight have
// ShutdownGrace to finish before they are cancelled, every session is
// ended, and Serve returns. It refuses to serve a listener that is not on
// loopback without a token (ErrNeedsToken).
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	s.loopback = IsLoopback(ln.Addr().String())
	if !s.loopback && s.token == nil {
		ln.Close()
		return ErrNeedsToken
	}
	// Sessions and requests live on past ctx, through the grace of
	// shutdown; their life ends once shutdown is over.
	life, endLife := context.WithCancel(context.WithoutCancel(ctx))
	defer endLife()
	s.life = life
	hs := &http.Server{
		Handler:           s.Handler(),
		ReadHeaderTimeout: 10 * time.Second,
		BaseContext:       func(net.Listener) context.Context { return life },
		ErrorLog:          slog.NewLogLogger(s.logger.Handler(), slog.LevelDebug),
	}
	go s.expireIdle(life)
	errc := make(chan error, 1)
	go func() { errc <- hs.Serve(ln) }()
	select {
	case err := <-errc:
		s.closeSessions()
		return fmt.Errorf("serving HTTP: %w", err)
	case <-ctx.Done():
	}
	// Drain: not ready from now on, and no new connection: a load
	// balancer sends the next requests to another replica.
	s.draining.Store(true)
	ln.Close()
	s.shutdown(hs)
	<-errc
	return nil
}

// shutdown stops taking requests, lets those in flight finish for the
// grace period, then ends every session (cancelling what is left) and
// closes every connection.
func (s *Server) shutdown(hs *http.Server) {
	s.mu.Lock()
	s.closing = true
	s.mu.Unlock()
	hs.SetKeepAlivesEnabled(false) // and closes the idle connections
	s.endListening()
	deadline := time.Now().Add(s.opts.ShutdownGrace)
	done := make(chan struct{})
	go func() { s.inflight.Wait(); close(done) }()
	t := time.NewTimer(s.opts.ShutdownGrace)
	defer t.Stop()
	select {
	case <-done:
	case <-t.C:
	}
	// HTTP+SSE answers on the session's stream: wait for its requests too.
	for s.pending() > 0 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if n := s.pending(); n > 0 {
		s.logger.Info("cancelling requests still in flight", "grace", s.opts.ShutdownGrace, "requests", n)
	}
	s.closeSessions()
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	if err := hs.Shutdown(ctx); err != nil {
		hs.Close()
	}
}

// pending returns how many requests of clients are in flight.
func (s *Server) pending() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, sess := range s.sessions {
		if sess.ps != nil {
			n += sess.ps.Pending()
		}
	}
	return n
}

// closeSessions ends every session.
func (s *Server) closeSessions() {
	s.mu.Lock()
	all := make([]*session, 0, len(s.sessions))
	for _, sess := range s.sessions {
		all = append(all, sess)
	}
	s.mu.Unlock()
	for _, sess := range all {
		s.endSession(sess)
	}
}

// expireIdle ends the streamable HTTP sessions that have been idle for
// Options.SessionIdle.
func (s *Server) expireIdle(ctx context.Context) {
	t := time.NewTicker(max(s.opts.SessionIdle/10, time.Second))
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		s.mu.Lock()
		var idle []*session
		for _, sess := range s.sessions {
			if sess.idleFor() > s.opts.SessionIdle {
				idle = append(idle, sess)
			}
		}
		s.mu.Unlock()
		for _, sess := range idle {
			s.logger.Info("ending an idle session", "session", sess.id)
			s.endSession(sess)
		}
	}
}

// endListening ends the listening stream of every streamable HTTP
// session: its client opens it again, on another replica.
func (s *Server) endListening() {
	s.mu.Lock()
	var streams []*stream
	for _, sess := range s.sessions {
		if sess.listening != nil {
			streams = append(streams, sess.listening)
		}
	}
	s.mu.Unlock()
	for _, st := range streams {
		st.end()
	}
}

// newSessionID returns an unguessable session id of visible ASCII.
func newSessionID() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// addSession registers sess, unless the server is shutting down or has
// as many sessions as it may: it returns why.
func (s *Server) addSession(sess *session) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case s.closing:
		return errShuttingDown
	case len(s.sessions) >= s.opts.MaxSessions:
		return fmt.Errorf("%w: %d are open, the most this mcpmux serves (maxSessions); end one (DELETE) or try again later", errTooManySessions, len(s.sessions))
	}
	s.sessions[sess.id] = sess
	return nil
}

func (s *Server) lookupSession(id string) *session {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.sessions[id]
}

// lookupFor returns the session id names if it belongs to the profile of
// r's URL: a session is reached only through the URL it was opened at.
func (s *Server) lookupFor(r *http.Request, id string) *session {
	sess := s.lookupSession(id)
	if sess == nil || sess.profile != profileOf(r) {
		return nil
	}
	return sess
}

// profileKey keys the profile of a request's URL (/mcp/p/NAME) in its
// context.
type profileKey struct{}

// profileOf returns the profile of r's URL; "" for /mcp and /sse.
func profileOf(r *http.Request) string {
	p, _ := r.Context().Value(profileKey{}).(string)
	return p
}

// profiled serves the profile that the path after prefix names with h;
// an unknown profile is not found.
func (s *Server) profiled(prefix string, h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		name := strings.TrimPrefix(r.URL.Path, prefix)
		if name == "" || strings.Contains(name, "/") || !s.proxy.HasProfile(name) {
			http.Error(w, fmt.Sprintf("not found: no profile %q (see \"profiles\" in the configuration)", name), http.StatusNotFound)
			return
		}
		h(w, r.WithContext(context.WithValue(r.Context(), profileKey{}, name)))
	}
}

// endSession ends sess: its requests in flight are cancelled and its
// streams end.
func (s *Server) endSession(sess *session) {
	s.mu.Lock()
	if s.sessions[sess.id] == sess {
		delete(s.sessions, sess.id)
	}
	for _, token := range sess.tokens {
		delete(s.tokens, token)
	}
	s.mu.Unlock()
	sess.close()
}

// begin counts a request waiting for its answer, unless the server is
// shutting down; end must follow.
func (s *Server) begin() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closing {
		return false
	}
	s.inflight.Add(1)
	return true
}

// writeError answers an HTTP request with a JSON-RPC error and status.
func writeError(w http.ResponseWriter, status int, id json.RawMessage, e *jsonrpc.Error) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(jsonrpc.AppendError(nil, id, e))
}
