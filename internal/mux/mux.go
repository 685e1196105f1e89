// Package mux builds the running mcpmux from a configuration: the
// [proxy.Server] that the client sees, one [upstream.Supervisor] per
// enabled server wired to it, and, if one is given, the registry's
// [store.Recorder], told of every state, catalogue and call. [Mux.Run]
// runs them all for one client; [Mux.Start] runs the upstreams alone, for
// the commands that need no client. [Mux.Reload] serves a new
// configuration while they run, restarting only the upstreams whose
// entries changed.
//
// cmd/mcpmux's commands and the tests build the system here, the same
// way, so that what the tests exercise is the wiring that ships.
package mux

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"maps"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/mark3labs/mcp-go/mcp"

	"github.com/mcpmux/mcpmux/internal/footprint"
	"github.com/mcpmux/mcpmux/internal/redact"
	"github.com/mcpmux/mcpmux/internal/statuspage"
	"github.com/mcpmux/mcpmux/proxy"
	"github.com/mcpmux/mcpmux/registry"
	"github.com/mcpmux/mcpmux/registry/store"
	"github.com/mcpmux/mcpmux/upstream"
	"github.com/mcpmux/mcpmux/upstream/oauth"
)

// Options configures a Mux. The zero value means defaults: a client will
// connect, nothing is recorded and nothing is cached.
type Options struct {
	// Logger receives every log line; each upstream's are tagged with its
	// name. Nil discards them.
	Logger *slog.Logger
	// Version is mcpmux's version, told to the client and to the
	// upstreams. Empty means "dev".
	Version string
	// Recorder, if set, records states, catalogues and calls. Run and
	// Start run it, and stop it once every upstream has stopped. Nil
	// records nothing.
	Recorder *store.Recorder
	// Cached are catalogues from the registry, served until the live ones
	// arrive. An upstream with one starts once the client has its first
	// tool list (see CachedStartDelay); a lazy one, on its first request.
	Cached map[string]*registry.Catalogue
	// Profile is the profile (see registry.Profile) Run's client has; ""
	// means the whole catalogue.
	Profile string
	// PageSize is proxy.Options.PageSize: zero sends each list in one page.
	PageSize int
	// Headless: no client will connect (mcpmux tools), so the upstreams
	// are told everything mcpmux can relay rather than waiting for the
	// client's capabilities.
	Headless bool
	// Shared: many clients connect at once (mcpmux serve --http), each
	// through a session of its own (see proxy.Server.Open), so the
	// upstreams are told everything mcpmux can relay rather than waiting
	// for one client's capabilities, and each session's decide what it
	// gets.
	Shared bool
	// CachedStartDelay bounds how long an upstream whose catalogue is
	// cached waits for the client's first tool list. Zero means 150ms.
	CachedStartDelay time.Duration
	// Proxy, if set, adjusts the proxy's options before it is made: tests
	// shorten the list-changed delay or give a clock. Nil changes nothing.
	Proxy func(*proxy.Options)
	// Env is set in every upstream child's environment, as NAME=value
	// entries (mcpmux marks its children; see cmd/mcpmux).
	Env []string
	// Groups, if set, is told of the process group of every upstream
	// child, so that they are ended should mcpmux die (see
	// internal/keeper). Nil tells nobody.
	Groups upstream.Groups
	// HandOff, if set, is asked as the stop begins (see Start) whether
	// the process is about to exit with Groups alive to finish stopping
	// for it: mcpmux serve with its keeper. If it says so, the stop does
	// not wait for the upstreams' children (their stdin is closed; Groups
	// gives them the rest of the stop, see upstream.Supervisor.HandOff),
	// nor for a store write still running once the recorder's last flush
	// has spilled what it holds (see store.Recorder.Run). Nil waits for
	// everything.
	HandOff func() bool
	// StopAsked, if set, tells when the process was asked to exit (a
	// signal's arrival), the zero time if it was not: with a hand-off, the
	// stop has ExitFlushBy from then, or from the moment the client went
	// away, to flush the recorder (see store.Recorder.FinishBy), so that
	// what a loaded machine spent before the stop began is not spent
	// again waiting for the store. Nil counts from the stop's start.
	StopAsked func() time.Time
	// Upstream, if set, adjusts the options of each server's supervisor
	// before it is made. Nil changes nothing.
	Upstream func(*registry.Server, *upstream.Options)
	// Reloads, if set, makes Run read the configuration again with Load
	// and serve it (see Reload) each time a reason arrives on it: the file
	// changed, a SIGHUP. Nil never reloads.
	Reloads <-chan string
	// Load reads the configuration for Reloads. Like registry.Load, it
	// returns a configuration with an error when only some of it is
	// wrong, and none when the file cannot be read.
	Load func() (*registry.Config, error)
	// PinsDir, if set, is the data directory whose pins (tool and prompt
	// definitions seen and approved; see registry/pin) the proxy judges
	// by: Run reads them at once, writes what it sees at once, and judges
	// anew when mcpmux trust changes them. Empty keeps pins in memory for
	// the run. The configuration's "toolPinning": "off" pins nothing.
	PinsDir string
	// Masker, if set, masks secrets wherever the Mux writes, and is given
	// the secrets of every configuration Reload applies: main makes it
	// for its logger (see Masker). Nil means Masker(cfg).
	Masker *redact.Masker
	// OAuth logs in to the remote upstreams that ask for it and holds
	// their tokens (upstream.Options.OAuth). Nil: a challenge is an error.
	OAuth *oauth.Manager
}

// Mux is mcpmux, built: a proxy and its upstreams.
type Mux struct {
	opts   Options
	logger *slog.Logger
	srv    *proxy.Server
	masker *redact.Masker

	reloadMu sync.Mutex // serialises Reload

	pinsDirty chan struct{} // the proxy's pins changed; buffered, one

	calls *statuspage.Calls // the calls the status page lists (statuspage.go)

	mu      sync.Mutex
	cfg     *registry.Config    // the configuration being served
	ups     map[string]*running // the enabled servers' upstreams, by name
	invalid map[string]error    // cfg's entries that cannot be used (see registry.Config.Invalid)
	reload  reloadOutcome       // of the last reload
	runner  *runner             // where upstreams run; nil until Start
	// restarted: by server, the restarts of upstreams the status page's
	// Restart replaced (see statuspage.go).
	restarted map[string]int
}

// running is one enabled server's upstream.
type running struct {
	cfg     *registry.Server
	sup     *upstream.Supervisor
	stop    func()      // ends its Run and waits for it; nil while not started
	retired atomic.Bool // a reload replaced or removed it
}

// New builds mcpmux for cfg. Nothing starts until Run or Start.
func New(cfg *registry.Config, opts Options) *Mux {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Version == "" {
		opts.Version = "dev"
	}
	if opts.Masker == nil {
		opts.Masker = Masker(cfg)
	}
	m := &Mux{opts: opts, logger: opts.Logger, masker: opts.Masker, cfg: cfg, invalid: cfg.Invalid, ups: map[string]*running{}, pinsDirty: make(chan struct{}, 1), calls: &statuspage.Calls{}}
	if opts.OAuth != nil && opts.OAuth.OnLogin == nil {
		opts.OAuth.OnLogin = m.loggedIn
	}
	m.srv = proxy.New(m.proxyOptions(cfg))
	for _, s := range cfg.Enabled() {
		r := m.newRunning(cfg, s)
		m.srv.AddUpstream(s, r.sup)
		m.ups[s.Name] = r
	}
	m.recordInvalid(cfg.Invalid)
	m.srv.SetToolMode(ToolMode(cfg))
	m.srv.SetCached(opts.Cached) // one merge for all, before any client asks
	return m
}

// loggedIn connects the upstream server at once: its OAuth login has
// completed, here or in another mcpmux.
func (m *Mux) loggedIn(server string) {
	m.mu.Lock()
	r := m.ups[server]
	m.mu.Unlock()
	if r != nil {
		r.sup.Wake()
	}
}

// newRunning makes the supervisor of s, not started yet.
func (m *Mux) newRunning(cfg *registry.Config, s *registry.Server) *running {
	r := &running{cfg: s}
	r.sup = upstream.New(s, m.upstreamOptions(cfg, s, func() bool { return !r.retired.Load() }))
	if rec := m.opts.Recorder; rec != nil {
		rec.SetState(serverState(r.sup.Status(), m.masker)) // a lazy one starts idle, unannounced
	}
	return r
}

// recordInvalid tells the recorder of the entries that cannot be used.
func (m *Mux) recordInvalid(invalid map[string]error) {
	if rec := m.opts.Recorder; rec != nil {
		for _, name := range slices.Sorted(maps.Keys(invalid)) {
			rec.SetState(store.ServerState{Server: name, State: store.StateInvalid, Since: time.Now(), LastError: m.masker.String(invalid[name].Error())})
		}
	}
}

// proxyOptions returns the options of the proxy for cfg.
func (m *Mux) proxyOptions(cfg *registry.Config) proxy.Options {
	o := proxy.Options{
		PageSize:         m.opts.PageSize,
		NameLength:       cfg.ExposedNameLength(),
		MaxMessageSize:   int(cfg.MessageSize()),
		MaxInFlight:      cfg.InFlight(),
		Masker:           m.masker,
		InstructionsWait: cfg.InstructionsBound(),
		Logger:           m.logger,
		Version:          m.opts.Version,
		Status:           m.Status,
		Pins:             m.loadPins(),
		ToolPinning:      cfg.ToolPinning,
		OnPinned:         m.pinned,
	}
	if o.InstructionsWait == 0 {
		o.InstructionsWait = -1 // "0s" is no wait; the proxy's zero is its default
	}
	if m.opts.Shared {
		o.MaxInFlightTotal = cfg.InFlightTotal()
	}
	if rec := m.opts.Recorder; rec != nil {
		o.OnCall = func(server, tool string, took time.Duration, _ proxy.CallOutcome, err error) {
			rec.RecordCall(server, tool, took, err != nil)
		}
	}
	o.OnCall = m.onCall(o.OnCall) // --- statuspage (issue 21) ---
	if m.opts.Proxy != nil {
		m.opts.Proxy(&o)
	}
	return o
}

// upstreamOptions wires the supervisor of s to the proxy, as long as
// current says it is s's upstream (one that a reload replaced or removed
// tells the proxy nothing more), and, if there is one, to the recorder.
// A lazy server starts on first use only if a cached catalogue lists its
// tools meanwhile; without one it starts at once.
func (m *Mux) upstreamOptions(cfg *registry.Config, s *registry.Server, current func() bool) upstream.Options {
	srv, rec := m.srv, m.opts.Recorder
	o := upstream.Options{
		Logger:     m.logger.With("upstream", s.Name),
		ClientInfo: mcp.Implementation{Name: "mcpmux", Version: m.opts.Version},
		OnHandshake: func(name string, h upstream.Handshake) {
			if current() {
				srv.UpstreamHandshake(name, h)
			}
		},
		OnCatalogue: func(name string, c *registry.Catalogue) {
			// Saved first: a server's first catalogue of the run is in the
			// snapshot before any client can list it (see SaveCatalogue),
			// so that a host that ends mcpmux right after its first list
			// finds it cached the next time.
			if rec != nil {
				rec.SaveCatalogue(s, *c)
			}
			if current() {
				srv.SetCatalogue(name, c)
			}
		},
		OnNotification: func(server, method string, params json.RawMessage) {
			if current() {
				srv.UpstreamNotification(server, method, params)
			}
		},
		OnRequest: srv.UpstreamRequest,
		OnState: func(st upstream.Status) {
			if current() {
				srv.UpstreamState(st)
			}
			if rec != nil {
				rec.SetState(serverState(st, m.masker))
			}
		},
		MaxMessageSize: int(cfg.MessageSize()),
		Groups:         m.opts.Groups,
		Env:            m.opts.Env,
		OAuth:          m.opts.OAuth,
	}
	if !m.opts.Headless && !m.opts.Shared {
		o.AwaitClientCapabilities = srv.ClientCapabilities
	}
	if s.Lazy && m.opts.Cached[s.Name] != nil {
		o.Lazy, o.IdleTimeout = true, s.IdleAfter()
	}
	if m.opts.Upstream != nil {
		m.opts.Upstream(s, &o)
	}
	return o
}

// Proxy returns the proxy the client sees.
func (m *Mux) Proxy() *proxy.Server { return m.srv }

// Upstreams returns the supervisor of every enabled server, sorted by
// name.
func (m *Mux) Upstreams() []*upstream.Supervisor {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make([]*upstream.Supervisor, 0, len(m.ups))
	for _, name := range slices.Sorted(maps.Keys(m.ups)) {
		out = append(out, m.ups[name].sup)
	}
	return out
}

// Run serves one client over in and out until in ends or ctx is done,
// with every upstream and the recorder running meanwhile (see Start), and
// reloads the configuration as Options.Reloads asks. It
// returns once every upstream has stopped and the recorder has written
// what it holds.
func (m *Mux) Run(ctx context.Context, in io.Reader, out io.Writer) error {
	return m.RunWith(ctx, func(ctx context.Context) error { return m.srv.ServeProfile(ctx, m.opts.Profile, in, out) })
}

// RunWith runs serve, which serves the clients through the proxy (see
// Proxy) until ctx is done, with every upstream and the recorder running
// meanwhile, as Run does; mcpmux serve --http serves its HTTP listener
// here.
func (m *Mux) RunWith(ctx context.Context, serve func(ctx context.Context) error) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	footprint.DropCode() // what initialisation ran, before start-up maps more
	// Not ctx: the upstreams serve until serve has returned, which over
	// HTTP lets the requests in flight finish after ctx ends.
	stop := m.Start(context.WithoutCancel(ctx))
	var aside sync.WaitGroup
	aside.Go(func() { m.releaseAfterStart(ctx) })
	aside.Go(func() { m.logToolMode(ctx) })
	if m.opts.Reloads != nil && m.opts.Load != nil {
		aside.Go(func() { m.reloads(ctx, m.opts.Reloads, m.opts.Load) })
	}
	if m.opts.PinsDir != "" {
		aside.Go(func() { m.keepPins(ctx) })
	}
	err := serve(ctx)
	m.logger.Debug("stopping", "err", err)
	cancel()
	// The upstreams first: what runs aside (giving start-up's memory
	// back, a reload) may take a while on a loaded machine, and an
	// exiting mcpmux has 300 ms in all.
	stop()
	aside.Wait()
	return err
}

// Ready returns how many upstreams are ready, of how many are enabled.
func (m *Mux) Ready() (ready, enabled int) {
	ups := m.Upstreams()
	for _, s := range ups {
		if s.Status().State == upstream.StateReady {
			ready++
		}
	}
	return ready, len(ups)
}

// releaseAfterStart gives the memory that start-up took back to the
// system (see footprint.Release) once it is over: the client has its
// first tool list and every upstream has delivered its catalogue, failed
// or run out of its start timeout. ctx ending first skips it.
func (m *Mux) releaseAfterStart(ctx context.Context) {
	select {
	case <-m.srv.Listed():
	case <-ctx.Done():
		return
	}
	m.srv.WaitCatalogues(ctx)
	if ctx.Err() == nil {
		footprint.Release()
	}
}

// Start runs every upstream, and the recorder if there is one, until stop
// is called or ctx is done; stop returns once every upstream has stopped
// (those Reload started meanwhile too) and the recorder has written what
// it holds. With Options.HandOff, stop returns as soon as the children
// are handed over and the recorder's last flush is written or spilled.
func (m *Mux) Start(ctx context.Context) (stop func()) {
	stopRecorder := m.runRecorder(ctx)
	stopOAuth := func() {}
	if m.opts.OAuth != nil {
		stopOAuth = m.opts.OAuth.Start(ctx)
	}
	ctx, cancel := context.WithCancel(ctx)
	rn := &runner{ctx: ctx}
	m.mu.Lock()
	m.runner = rn
	for _, r := range m.ups {
		m.launchLocked(r, m.opts.Cached[r.cfg.Name] != nil)
	}
	m.mu.Unlock()
	var once sync.Once
	return func() {
		once.Do(func() {
			began := time.Now()
			handOff := m.opts.HandOff != nil && m.opts.Groups != nil && m.opts.HandOff()
			if rec := m.opts.Recorder; rec != nil && handOff {
				rec.FinishBy(m.exitBy(began))
			}
			m.mu.Lock()
			rn.closed = true // Reload starts nothing more
			if handOff {
				for _, r := range m.ups {
					r.sup.HandOff()
				}
			}
			m.mu.Unlock()
			cancel()
			stopOAuth()
			rn.wg.Wait()
			m.logger.Debug("upstreams stopped", "handed_off", handOff, "took", time.Since(began))
			stopRecorder(handOff)
			m.logger.Debug("recorder stopped", "took", time.Since(began))
		})
	}
}

// ExitFlushBy bounds, from the moment mcpmux serve is asked to exit, when
// its last flush ends once it hands its upstreams off (see
// Options.StopAsked): a host gives 300 ms in all, and what follows the
// flush (the "stopped" line, the keeper's hand-off, the exit itself)
// takes its share on a loaded machine. Waiting is only for tidiness: the
// flush spills what it holds first, and the store's child, which goes on
// after mcpmux exits, takes the spill file in (or the next start does).
const ExitFlushBy = 50 * time.Millisecond

// exitBy returns when a stop that began at began and hands off must have
// flushed.
func (m *Mux) exitBy(began time.Time) time.Time {
	if m.opts.StopAsked != nil {
		if asked := m.opts.StopAsked(); !asked.IsZero() && asked.Before(began) {
			began = asked
		}
	}
	return began.Add(ExitFlushBy)
}

// runner runs the upstreams between Start and its stop.
type runner struct {
	ctx    context.Context // Start's; ends with stop
	wg     sync.WaitGroup  // every upstream's Run
	closed bool            // stop has begun; guarded by Mux.mu
}

// launchLocked starts r's upstream, after the client's first tool list if
// afterListed (see waitListed). Before Start, and once stop has begun, it
// does nothing. m.mu is held.
func (m *Mux) launchLocked(r *running, afterListed bool) {
	rn := m.runner
	if rn == nil || rn.closed || r.stop != nil {
		return
	}
	ctx, cancel := context.WithCancel(rn.ctx)
	done := make(chan struct{})
	rn.wg.Go(func() {
		defer close(done)
		if afterListed {
			m.waitListed(ctx)
		}
		_ = r.sup.Run(ctx)
	})
	r.stop = func() { cancel(); <-done }
}

// waitListed waits until the client has its first tool list, or at most
// CachedStartDelay: the cached catalogue answers that list, and the
// upstreams' start-up would only compete with the answer for the CPU.
func (m *Mux) waitListed(ctx context.Context) {
	d := m.opts.CachedStartDelay
	if d <= 0 {
		d = 150 * time.Millisecond
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-m.srv.Listed():
	case <-t.C:
	case <-ctx.Done():
	}
}

// runRecorder runs the recorder until stop is called; stop returns once
// it has written what it holds, or, if exiting, once it has written or
// spilled it (see store.Recorder.Run). Without a recorder it does
// nothing.
func (m *Mux) runRecorder(ctx context.Context) (stop func(exiting bool)) {
	rec := m.opts.Recorder
	if rec == nil {
		return func(bool) {}
	}
	// Not ctx: the supervisors' last events come after ctx ends.
	ctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := rec.Run(ctx); err != nil {
			m.logger.Debug("saving the registry at exit", "err", err) // the recorder warned
		}
	}()
	return func(exiting bool) {
		cancel()
		<-done
		if !exiting {
			rec.Wait()
		}
	}
}

// Status renders the live state of every upstream, as mcpmux://status
// shows it, and the entries of the configuration that cannot be used, in
// state "invalid" with their problems as lastError.
func (m *Mux) Status() json.RawMessage {
	type invalidEntry struct {
		Server    string `json:"server"`
		State     string `json:"state"`
		LastError string `json:"lastError"`
	}
	sups := m.Upstreams()
	m.mu.Lock()
	invalid, reload := m.invalid, m.reload
	m.mu.Unlock()
	out := struct {
		ToolMode  toolModeStatus   `json:"toolMode"`
		Upstreams []any            `json:"upstreams"`
		Withheld  []proxy.Withheld `json:"withheld,omitempty"`
		Config    *reloadOutcome   `json:"config,omitempty"`
	}{ToolMode: m.toolModeStatus(), Upstreams: make([]any, 0, len(sups)+len(invalid)), Withheld: m.srv.Withheld()}
	for _, s := range sups {
		st := s.Status()
		st.Login = s.Login()
		out.Upstreams = append(out.Upstreams, st)
	}
	for _, name := range slices.Sorted(maps.Keys(invalid)) {
		out.Upstreams = append(out.Upstreams, invalidEntry{name, store.StateInvalid, m.masker.String(invalid[name].Error())})
	}
	if !reload.At.IsZero() {
		reload.Error = m.masker.String(reload.Error)
		out.Config = &reload
	}
	b, _ := json.MarshalIndent(out, "", "  ")
	return b
}

// serverState is an upstream's status as the registry records it, with
// the server's secrets masked in its error.
func serverState(st upstream.Status, m *redact.Masker) store.ServerState {
	return store.ServerState{
		Server:    st.Server,
		State:     st.State.String(),
		Since:     st.Since,
		LastError: m.String(st.LastError),
		Attempt:   st.Attempt,
		Restarts:  st.Restarts,
		PID:       st.PID,
	}
}

// Masker masks the secrets of every server in cfg, disabled and invalid
// ones too (see registry.Config.SecretValues), wherever mcpmux writes: its
// log, the errors the client gets, mcpmux://status, the registry, and the
// output of the commands. Nil for a nil cfg.
func Masker(cfg *registry.Config) *redact.Masker {
	if cfg == nil {
		return nil
	}
	return redact.Growable(cfg.SecretValues())
}
