package upstream

import (
	"github.com/mcpmux/mcpmux/upstream/oauth"

	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cenkalti/backoff/v4"
	"github.com/mark3labs/mcp-go/mcp"

	"github.com/mcpmux/mcpmux/internal/clock"
	"github.com/mcpmux/mcpmux/registry"
)

// Options configures a Supervisor. The zero value means defaults.
type Options struct {
	// Logger receives the supervisor's log lines, already tagged with the
	// server's name by the caller if wanted. Nil discards them.
	Logger *slog.Logger
	// ClientInfo is sent to the upstream in initialize. Zero means mcpmux.
	ClientInfo mcp.Implementation
	// ClientCapabilities are declared to the upstream. Nil means what
	// OnRequest can answer: sampling, elicitation and roots if it is set,
	// none otherwise.
	ClientCapabilities json.RawMessage
	// AwaitClientCapabilities, if set, returns the capabilities to declare
	// in each handshake, and takes precedence over ClientCapabilities. It
	// may wait until they are known (mcpmux's own client has not finished
	// its handshake yet), within ctx; the child is already starting
	// meanwhile. A nil result means ClientCapabilities.
	AwaitClientCapabilities func(ctx context.Context) json.RawMessage

	// OnHandshake receives what the upstream said about itself in each
	// handshake, before its catalogue is read: a client's initialize can
	// relay its instructions without waiting for its lists. It is called
	// from the supervisor's goroutine and may block it only briefly. Nil
	// ignores.
	OnHandshake func(server string, h Handshake)
	// OnCatalogue receives every catalogue read from the upstream: after
	// each connect and after each list change. It is called from the
	// supervisor's goroutine and may block it only briefly. Nil ignores.
	OnCatalogue func(server string, c *registry.Catalogue)
	// OnNotification receives the upstream's notifications, raw and in
	// order, from one goroutine per connection. Nil ignores.
	OnNotification func(server, method string, params json.RawMessage)
	// OnState receives every change of state. Nil ignores.
	OnState func(Status)
	// OnRequest answers the upstream's requests to its client (sampling,
	// elicitation, roots), over every transport, each on a goroutine of its
	// own; ctx ends when the upstream cancels the request, the connection
	// dies, or the request has waited as long as it may: the server's
	// timeout, and for sampling and elicitation, which a person may be
	// answering, at least PersonWait. A request that arrives on the
	// response stream of one of mcpmux's requests (streamable HTTP) is
	// part of it: ctx then holds the values of that request's context,
	// which tell the caller whose request it is. Nil answers them with an
	// error. Ping is answered by mcpmux itself.
	OnRequest func(ctx context.Context, server, method string, params json.RawMessage) (json.RawMessage, error)

	// StartTimeout bounds starting, initialising and listing. Zero means
	// the server's StartBound() (its "startTimeout", default 30s).
	StartTimeout time.Duration
	// StableAfter is how long a connection must live for the backoff to
	// start again from its initial delay. Zero means 30s.
	StableAfter time.Duration
	// StopGrace is how long a child has to exit after its stdin is closed,
	// and again after SIGTERM, before it is killed. Zero means
	// DefaultStopAfterStdin and DefaultStopAfterTerm.
	StopGrace time.Duration

	// MaxMessageSize bounds a message from an upstream, in bytes: a line
	// of a stdio upstream, a response body or the data of one event of a
	// remote one. A larger one is dropped, and the request it answers
	// fails. Zero means
	// jsonrpc.DefaultMaxMessageSize (64 MB).
	MaxMessageSize int
	// MaxIncoming bounds the upstream's requests to its client that may
	// wait for an answer at once; one beyond it gets an error at once.
	// Each waits at most the server's timeout. Zero means
	// DefaultMaxIncoming.
	MaxIncoming int

	// OAuth logs in to remote upstreams that challenge with a Bearer 401
	// and holds their tokens (see package oauth). Nil: a challenge is an
	// error, as any 401.
	OAuth *oauth.Manager

	// Env is set in every child's environment, over mcpmux's own and the
	// server's "env", as NAME=value entries.
	Env []string
	// Groups, if set, is told of the process group of every child as it
	// starts, and once it is gone, so that the children of a killed mcpmux
	// can be ended (see internal/keeper). Nil tells nobody.
	Groups Groups

	// Lazy: Run does not start the upstream until the first Request; it is
	// started on demand.
	Lazy bool
	// IdleTimeout: with Lazy, a connection that has served no request for
	// this long is stopped until the next Request. Zero means the server's
	// IdleAfter().
	IdleTimeout time.Duration

	// Clock times the backoff between attempts, the health checks and the
	// idle stop, and stamps the Status. Nil means the system clock.
	Clock clock.Clock

	// dial, if set, connects remote upstreams instead of a net.Dialer:
	// tests give an in-memory network, which testing/synctest needs.
	dial dialFunc
}

func (o *Options) logger() *slog.Logger {
	if o.Logger == nil {
		return slog.New(slog.DiscardHandler)
	}
	return o.Logger
}

// request binds OnRequest to one server, or returns nil.
func (o *Options) request(server string) func(context.Context, string, json.RawMessage) (json.RawMessage, error) {
	if o.OnRequest == nil {
		return nil
	}
	return func(ctx context.Context, method string, params json.RawMessage) (json.RawMessage, error) {
		return o.OnRequest(ctx, server, method, params)
	}
}

func (o *Options) maxIncoming() int {
	if o.MaxIncoming <= 0 {
		return DefaultMaxIncoming
	}
	return o.MaxIncoming
}
func (o *Options) stableAfter() time.Duration { return orDefault(o.StableAfter, 30*time.Second) }

// Default waits of a child's stop (see Options.StopGrace): after its
// stdin is closed, and after SIGTERM.
const (
	DefaultStopAfterStdin = time.Second
	DefaultStopAfterTerm  = 2 * time.Second
)

func (o *Options) stopTimeouts() stopTimeouts {
	if o.StopGrace > 0 {
		return stopTimeouts{afterStdin: o.StopGrace, afterTerm: o.StopGrace}
	}
	return stopTimeouts{afterStdin: DefaultStopAfterStdin, afterTerm: DefaultStopAfterTerm}
}

func (o *Options) clientCapabilities(ctx context.Context) json.RawMessage {
	if o.AwaitClientCapabilities != nil {
		if caps := o.AwaitClientCapabilities(ctx); caps != nil {
			return caps
		}
	}
	switch {
	case o.ClientCapabilities != nil:
		return o.ClientCapabilities
	case o.OnRequest != nil:
		return json.RawMessage(`{"sampling":{},"elicitation":{"form":{},"url":{}},"roots":{"listChanged":true}}`)
	}
	return json.RawMessage(`{}`)
}

func (o *Options) clientInfo() mcp.Implementation {
	if o.ClientInfo.Name == "" {
		return mcp.Implementation{Name: "mcpmux", Version: "dev"}
	}
	return o.ClientInfo
}

func orDefault(d, def time.Duration) time.Duration {
	if d <= 0 {
		return def
	}
	return d
}

// Supervisor keeps one upstream server connected: it connects, serves,
// notices death, backs off and connects again, until its context ends.
// Its methods are safe for concurrent use.
type Supervisor struct {
	srv    *registry.Server
	opts   Options
	logger *slog.Logger
	clock  clock.Clock
	wake   chan struct{}   // a request wants a connection now; buffered
	caps   json.RawMessage // declared in the live connection's handshake; Run's goroutine only

	refreshFailures int // re-reads of the catalogue that failed in a row; Run's goroutine only
	// signalled is when the last connection ended because its child got
	// a signal to stop that mcpmux did not send; zero if it did not. Run's
	// goroutine only.
	signalled time.Time

	handOff  atomic.Bool  // at the end, leave the child to Groups (see HandOff)
	inflight atomic.Int64 // requests inside Request
	gate     *gate        // bounds the requests in flight ("maxConcurrency"); nil for no bound
	lastUse  atomic.Int64 // when a request last started or ended; Unix ns

	mu      sync.Mutex
	status  Status
	conn    *conn         // the live connection in StateReady, else nil
	lastErr error         // why the last attempt failed, in StateBackoff; nil once ready
	changed chan struct{} // closed and replaced on every change of state
}

// New returns a Supervisor for srv. Nothing starts until Run.
func New(srv *registry.Server, opts Options) *Supervisor {
	state := StateStarting
	if opts.Lazy {
		state = StateIdle
	}
	c := clock.Or(opts.Clock)
	return &Supervisor{
		srv:     srv,
		opts:    opts,
		logger:  opts.logger(),
		clock:   c,
		wake:    make(chan struct{}, 1),
		gate:    newGate(srv.MaxConcurrency),
		status:  Status{Server: srv.Name, State: state, Since: c.Now()},
		changed: make(chan struct{}),
	}
}

// Name returns the server's name in the configuration.
func (s *Supervisor) Name() string { return s.srv.Name }

// Status returns a snapshot of the supervisor's state.
func (s *Supervisor) Status() Status {
	s.mu.Lock()
	st := s.status
	s.mu.Unlock()
	st.Queued = s.gate.waiting()
	return st
}

// Login returns the OAuth login of a remote upstream that has one or
// waits for one, read from the token store; nil for any other.
func (s *Supervisor) Login() *oauth.Status {
	c := s.opts.OAuth.Client(s.srv)
	if c == nil {
		return nil
	}
	return c.Known()
}

// Run keeps the upstream connected until ctx is done, then stops it and
// waits until its process is gone. It returns ctx's error. A lazy upstream
// is connected only while it is being used.
func (s *Supervisor) Run(ctx context.Context) error {
	defer s.stopped()
	if s.opts.Lazy && !s.idle(ctx) {
		return ctx.Err()
	}
	b := s.newBackOff()
	restart := false
	for {
		readyAt, err := s.serve(ctx, restart)
		if ctx.Err() != nil {
			return ctx.Err()
		}
		s.signalled = time.Time{}
		if stopSignal(err) {
			s.signalled = s.clock.Now()
		}
		if reason, ok := refusal(err); ok {
			s.refused(reason)
			<-ctx.Done()
			return ctx.Err()
		}
		if !readyAt.IsZero() && s.clock.Now().Sub(readyAt) >= s.opts.stableAfter() {
			b.Reset()
		}
		if errors.Is(err, errIdle) {
			restart = false
			if !s.idle(ctx) {
				return ctx.Err()
			}
			continue
		}
		restart = true
		if !s.retry(ctx, b, err) {
			return ctx.Err()
		}
	}
}

// retry records a failure and waits for the next attempt, or gives up
// after maxAttempts failures in a row. It reports false if ctx ended or
// there will be no next attempt.
func (s *Supervisor) retry(ctx context.Context, b backoff.BackOff, err error) bool {
	_, _, maxAttempts := s.srv.BackoffPolicy()
	attempt := s.Status().Attempt + 1
	var login *oauth.NeedsLoginError
	if maxAttempts > 0 && attempt >= maxAttempts && !errors.As(err, &login) {
		// A login to come (see Wake) is no failure of the upstream's.
		s.giveUp(err, attempt)
		<-ctx.Done()
		return false
	}
	wait := b.NextBackOff()
	s.backOff(err, attempt, wait)
	return s.sleep(ctx, wait)
}

// Wake asks for an attempt now if the upstream is waiting to try again:
// its login has just completed.
func (s *Supervisor) Wake() { s.wakeUp(StateBackoff) }

// newBackOff returns the server's reconnect policy: exponential with
// jitter, capped at the maximum, never giving up by itself.
func (s *Supervisor) newBackOff() backoff.BackOff {
	initial, max, _ := s.srv.BackoffPolicy()
	b := backoff.NewExponentialBackOff()
	b.InitialInterval = initial
	b.MaxInterval = max
	b.MaxElapsedTime = 0
	b.Reset()
	return cappedBackOff{b, max}
}

// cappedBackOff keeps the jitter from pushing a delay above the maximum.
type cappedBackOff struct {
	backoff.BackOff
	max time.Duration
}

func (b cappedBackOff) NextBackOff() time.Duration {
	return min(b.BackOff.NextBackOff(), b.max)
}

// sleep waits d, or less if a request wants a connection now. It reports
// false if ctx ended.
func (s *Supervisor) sleep(ctx context.Context, d time.Duration) bool {
	t, fired := s.clock.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-fired:
	case <-s.wake:
		s.logger.Info("reconnecting on use")
	}
	return true
}

// serve makes one connection and serves it until it ends. It returns when
// the connection became ready (zero if it never did) and why it ended.
func (s *Supervisor) serve(ctx context.Context, restart bool) (readyAt time.Time, err error) {
	s.starting()
	notes := newNoteQueue(s.srv.Name, s.opts.OnNotification, s.logger)
	defer notes.stop()

	c, cat, err := s.connect(ctx, notes)
	if err != nil {
		return time.Time{}, err
	}
	defer s.disconnect(c)

	s.ready(c, restart)
	readyAt = s.clock.Now()
	if s.opts.OnCatalogue != nil {
		s.opts.OnCatalogue(s.srv.Name, cat)
	}
	return readyAt, s.watch(ctx, c, notes, readyAt)
}

func (s *Supervisor) startTimeout() time.Duration {
	return orDefault(s.opts.StartTimeout, s.srv.StartBound())
}

// connect starts the upstream, initialises it and reads its catalogue,
// all within the start timeout.
func (s *Supervisor) connect(ctx context.Context, notes *noteQueue) (*conn, *registry.Catalogue, error) {
	c, err := s.dial(notes)
	if err != nil {
		return nil, nil, err
	}
	s.setPID(c.pid())
	startCtx, cancel := context.WithTimeout(ctx, s.startTimeout())
	defer cancel()
	caps := s.opts.clientCapabilities(startCtx)
	err = c.handshake(startCtx, s.opts.clientInfo(), caps)
	if err == nil && s.opts.OnHandshake != nil {
		s.opts.OnHandshake(s.srv.Name, c.init.handshake())
	}
	var cat *registry.Catalogue
	if err == nil {
		cat, err = s.firstCatalogue(startCtx, c, notes)
	}
	if err == nil {
		s.caps = caps
		cat.ClientCapabilities = caps
		return c, cat, nil
	}
	if startCtx.Err() != nil && ctx.Err() == nil {
		err = fmt.Errorf("no answer within %s while starting (see \"startTimeout\")", s.startTimeout())
	}
	s.disconnect(c)
	return nil, nil, err
}

// maxEarlyRereads bounds how often the first catalogue is read again
// because the upstream changed a list while it was being read.
const maxEarlyRereads = 3

// firstCatalogue reads the catalogue of a new connection. Servers that add
// tools once they know the client (server-everything adds some when it is
// told initialized) announce them with a list change; one that arrives
// while the catalogue is read makes it be read again, so that the first
// catalogue published is the one a direct client would list.
func (s *Supervisor) firstCatalogue(ctx context.Context, c *conn, notes *noteQueue) (*registry.Catalogue, error) {
	for i := 0; ; i++ {
		cat, err := c.catalogue(ctx)
		if err != nil || i == maxEarlyRereads {
			return cat, err
		}
		select {
		case <-notes.listChanged:
			s.logger.Debug("list changed while reading the first catalogue; reading it again")
		default:
			return cat, nil
		}
	}
}

// dial makes a connection to the upstream, which is not initialised yet.
func (s *Supervisor) dial(notes *noteQueue) (*conn, error) {
	switch s.srv.Transport() {
	case registry.TransportStdio:
		return dialStdio(s.srv, &s.opts, notes)
	case registry.TransportHTTP, registry.TransportSSE:
		return dialRemote(s.srv, &s.opts, notes)
	default:
		return nil, fmt.Errorf("unknown transport %q", s.srv.Type)
	}
}

// disconnect closes c and waits until its child is gone, or, once
// HandOff was called, leaves the child to Groups.
func (s *Supervisor) disconnect(c *conn) {
	if s.handOff.Load() && s.opts.Groups != nil {
		c.handOff()
	} else {
		c.close(context.Background())
	}
	s.setPID(0)
}

// HandOff makes Run, once its context ends, close its child's stdin and
// return without waiting for the child to exit: the child's process group
// stays with Options.Groups (mcpmux's keeper), which gives it the rest of
// the stop, stdin's grace, SIGTERM and SIGKILL, on its own. mcpmux calls
// it when it is about to exit, and has a fraction of a second to do so; a
// reload's stop waits for the child as usual. Without Groups it does
// nothing.
func (s *Supervisor) HandOff() { s.handOff.Store(true) }

// watch serves a ready connection until it dies or ctx ends, re-reading
// the catalogue whenever the upstream says a list changed. Health checks
// run meanwhile; a lazy upstream's connection ends when it falls idle.
func (s *Supervisor) watch(ctx context.Context, c *conn, notes *noteQueue, readyAt time.Time) error {
	defer s.checkHealth(ctx, c)()
	idle, idleFired := s.idleTimer(readyAt)
	defer idle.Stop()
	for {
		select {
		case <-ctx.Done():
			c.die(errShutdown)
			return ctx.Err()
		case <-c.done:
			return c.deathErr
		case <-idleFired:
			if s.releaseIdle(readyAt) {
				s.logger.Info("stopping idle upstream", "idle_after", s.idleAfter())
				c.die(errIdle)
				return errIdle
			}
			idle.Reset(s.idleLeft(readyAt))
		case <-notes.listChanged:
			s.refresh(ctx, c)
		}
	}
}

// refresh re-reads the catalogue after a list change. A failure is logged;
// if the connection died meanwhile, watch sees it next.
func (s *Supervisor) refresh(ctx context.Context, c *conn) {
	ctx, cancel := context.WithTimeout(ctx, s.startTimeout())
	defer cancel()
	cat, err := c.catalogue(ctx)
	if err != nil {
		if !c.dead() {
			s.refreshFailures++
			n := s.refreshFailures
			level := slog.LevelDebug
			if n&(n-1) == 0 { // the first failure in a row, then at powers of two
				level = slog.LevelWarn
			}
			s.logger.Log(ctx, level, "re-reading catalogue after list change", "err", err, "failures", n)
		}
		return
	}
	s.refreshFailures = 0
	cat.ClientCapabilities = s.caps
	if s.opts.OnCatalogue != nil {
		s.opts.OnCatalogue(s.srv.Name, cat)
	}
}
