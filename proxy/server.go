package proxy

import (
	"context"
	"encoding/json"
	"log/slog"
	"slices"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/mark3labs/mcp-go/server"

	"github.com/mcpmux/mcpmux/internal/clock"
	"github.com/mcpmux/mcpmux/internal/redact"
	"github.com/mcpmux/mcpmux/proxy/search"
	"github.com/mcpmux/mcpmux/registry"
	"github.com/mcpmux/mcpmux/registry/pin"
)

// Upstream is what the proxy needs of one upstream server. Its methods are
// called concurrently. [upstream.Supervisor] implements it.
type Upstream interface {
	// Request sends a request by the upstream's own names and returns its
	// raw result. It honours ctx, and tells the upstream when ctx ends first.
	Request(ctx context.Context, method string, params json.RawMessage) (json.RawMessage, error)
	// Notify sends a notification, best effort.
	Notify(ctx context.Context, method string, params json.RawMessage) error
}

// Options configures a Server. The zero value means defaults.
type Options struct {
	// Logger receives the proxy's log lines. Nil discards them.
	Logger *slog.Logger
	// Name and Version identify mcpmux to the client. Zero means "mcpmux"
	// and "dev".
	Name, Version string
	// PageSize is how many entries one page of a list holds. Zero means a
	// single page with everything, which every client understands.
	PageSize int
	// NameLength bounds every exposed tool and prompt name (see
	// [AssignNames]). Zero means DefaultNameLength.
	NameLength int
	// Clock tells the time for the waits of the first lists and times the
	// list-changed debounce (ListChangedDelay). Nil means the system clock.
	Clock clock.Clock
	// ListChangedDelay coalesces bursts of catalogue changes into one
	// list_changed notification. Zero means 50ms.
	ListChangedDelay time.Duration
	// OnCall, if set, is told the outcome of every tools/call that reached
	// (or was on its way to) an upstream, once: the upstream's own tool
	// name, from its catalogue, never from the client; err is the error
	// the client is answered with, nil for a result (isError or not).
	OnCall func(server, tool string, took time.Duration, outcome CallOutcome, err error)
	// Tracer, if set, makes a span of every client's request and of every
	// upstream request that serves one. Without it a trace context that
	// comes in still goes out to the upstream (see reqTrace).
	Tracer Tracer
	// Status, if set, returns the live state of every upstream as JSON; it
	// is served to clients as the resource mcpmux://status.
	Status func() json.RawMessage
	// MaxMessageSize bounds a message from the client, in bytes; a larger
	// one is refused. Zero means jsonrpc.DefaultMaxMessageSize (64 MB).
	MaxMessageSize int
	// InstructionsWait bounds how long a client's initialize waits for
	// the handshakes of upstreams whose instructions are not known yet,
	// neither live nor cached; server/discover waits at most 1s of it.
	// Zero means DefaultInstructionsWait; a negative value means no wait.
	InstructionsWait time.Duration
	// MaxInFlight bounds the requests of one session in flight: one more
	// is refused at once (see admit.go). Zero means
	// registry.DefaultMaxInFlight (4096).
	MaxInFlight int
	// MaxInFlightTotal bounds the requests in flight of all sessions
	// together, and each session's to its equal share of it among the
	// open sessions if that is smaller than MaxInFlight. Zero means no
	// bound but MaxInFlight.
	MaxInFlightTotal int
	// Masker masks secrets in the errors the client receives and in
	// mcpmux://status. Results and notifications are the upstreams' data
	// and pass unchanged. Nil masks nothing.
	Masker *redact.Masker
	// Pins, if set, pins the upstreams' tool and prompt definitions: the
	// proxy records each at first sight, and withholds those that changed
	// since, or that the scanner flags, until they are approved (see
	// registry/pin, SetPins). Nil pins nothing.
	Pins *pin.Book
	// ToolPinning is the configuration's "toolPinning", which a server's
	// own overrides; empty means "withhold".
	ToolPinning string
	// OnPinned, if set, is called when the book of pins changed (see
	// Pins), after the merge that changed it, never with a lock held.
	OnPinned func()
}

// Server is the one MCP server the client sees. Upstreams are added with
// AddUpstream before Serve; their catalogues may arrive at any time through
// SetCatalogue, and their notifications and requests through
// UpstreamNotification and UpstreamRequest.
type Server struct {
	opts   Options
	logger *slog.Logger
	mcp    *server.MCPServer
	clock  clock.Clock

	mu        sync.Mutex
	upstreams map[string]*route
	sources   map[string]*source    // each upstream's parsed catalogue
	sessions  map[*session]struct{} // the open sessions
	logLevel  json.RawMessage       // the client's last logging/setLevel params
	changed   chan struct{}         // closed and replaced when a catalogue or an upstream's state changes

	// routing is a copy of upstreams that requests read without a lock.
	routing atomic.Pointer[map[string]*route]

	// mergeMu serialises merges, which readers of cat never wait for.
	mergeMu   sync.Mutex
	merge     *merge
	conflicts map[string]bool // URIs two upstreams list, logged once
	renamed   map[string]bool // exposed names that differ from prefix__name, logged once
	unmatched map[string]bool // overrides of entries an upstream does not list, logged once
	pins      pinning

	// held indexes the withheld tools and prompts by kind and exposed
	// name, for the error of a request for one (see withheldError).
	held atomic.Pointer[map[string]Withheld]

	cat atomic.Pointer[catalogue]

	// index holds the merged catalogue's tools for search mode, once
	// indexing is set (a mode other than full was set); s.mergeMu guards
	// its updates.
	index    *search.Index
	indexing bool
	toolMode atomic.Pointer[ToolMode]
	shown    atomic.Pointer[view] // the view of the last catalogue and mode
	// profileViews are the profiles' views, by name (string → *view).
	profileViews sync.Map

	askMu sync.Mutex // makes requester's choice and count one step

	progressMu sync.Mutex
	progress   map[string]progressRoute // by the token (see tokenKey) the upstream got
	nextToken  atomic.Int64

	inflight     atomic.Int64 // requests in flight of every session, counted with MaxInFlightTotal
	sessionCount atomic.Int64 // len(sessions)

	listed     chan struct{} // closed once a client has received a tool list
	listedOnce sync.Once
	served     chan struct{} // closed once a session is open
	servedOnce sync.Once
}

// route is how requests reach one upstream.
type route struct {
	cfg   *registry.Server
	up    Upstream
	state catalogueState // guarded by Server.mu
}

func (o *Options) maxInFlight() int {
	if o.MaxInFlight <= 0 {
		return registry.DefaultMaxInFlight
	}
	return o.MaxInFlight
}

// New returns a Server with no upstreams.
func New(opts Options) *Server {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Name == "" {
		opts.Name = "mcpmux"
	}
	if opts.Version == "" {
		opts.Version = "dev"
	}
	s := &Server{
		opts:      opts,
		logger:    opts.Logger,
		upstreams: map[string]*route{},
		sources:   map[string]*source{},
		sessions:  map[*session]struct{}{},
		progress:  map[string]progressRoute{},
		conflicts: map[string]bool{},
		renamed:   map[string]bool{},
		unmatched: map[string]bool{},
		changed:   make(chan struct{}),
		clock:     clock.Or(opts.Clock),
		listed:    make(chan struct{}),
		served:    make(chan struct{}),
	}
	// Everything mcpmux can relay is declared here; initialize narrows it
	// to what the upstreams offer (see capabilities).
	s.mcp = server.NewMCPServer(opts.Name, opts.Version,
		server.WithToolCapabilities(true),
		server.WithPromptCapabilities(true),
		server.WithResourceCapabilities(true, true),
		server.WithLogging(),
		server.WithCompletions(),
		server.WithInstructions(ownInstructions), // replaced by Instructions (see delegate)
	)
	s.pins = pinning{book: opts.Pins, policy: opts.ToolPinning, logged: map[string]bool{}}
	s.merge = newMerge(s.merger())
	s.cat.Store(s.merge.cur)
	s.index = search.New()
	s.toolMode.Store(&ToolMode{Mode: registry.ToolModeFull})
	s.shown.Store(s.makeView(s.merge.cur, s.toolMode.Load(), nil))
	s.routing.Store(&map[string]*route{})
	return s
}

// AddUpstream makes cfg's server reachable through up. Its start timeout
// runs from now: the first lists wait at most that long for its catalogue.
func (s *Server) AddUpstream(cfg *registry.Server, up Upstream) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.upstreams[cfg.Name] = &route{cfg: cfg, up: up, state: catalogueState{added: s.clock.Now()}}
	routes := make(map[string]*route, len(s.upstreams))
	for name, r := range s.upstreams {
		routes[name] = r
	}
	s.routing.Store(&routes)
}

// SetCatalogue replaces the catalogue of one upstream with the one it has
// just sent (nil removes it) and, for every list whose merged view
// changed, tells the client.
func (s *Server) SetCatalogue(name string, c *registry.Catalogue) {
	s.setCatalogues(map[string]*registry.Catalogue{name: c}, nil, true)
}

// SetCached sets the catalogues the registry cached for several upstreams
// at once, at start-up. They answer the client's lists until the live ones
// arrive, if they were read under the capabilities this client has.
func (s *Server) SetCached(cats map[string]*registry.Catalogue) {
	s.setCatalogues(cats, nil, false)
}

// setCatalogues replaces the catalogues of several upstreams at once (a
// nil value removes one), merges those of keep again under their routes'
// configurations, and tells the client once of each list whose merged
// view changed. Each upstream's catalogue costs what it changes (see
// merge); requests meanwhile route on the catalogue before it. live says
// that cats came from the upstreams themselves.
func (s *Server) setCatalogues(cats map[string]*registry.Catalogue, keep []string, live bool) {
	names := make([]string, 0, len(cats)+len(keep))
	for name := range cats {
		names = append(names, name)
	}
	names = append(names, keep...)
	sort.Strings(names)
	sources := make(map[string]*source, len(names))
	changed := map[string]bool{}
	s.mergeMu.Lock()
	for _, name := range keep {
		if src := s.merge.sources[name]; src != nil {
			cats[name] = src.cat // the latest, whoever set it
		} else {
			names = slices.DeleteFunc(names, func(n string) bool { return n == name })
		}
	}
	for _, name := range names {
		r := s.route(name)
		if c := cats[name]; c != nil && r != nil {
			sources[name] = newSource(r.cfg, c, s.merge.maxLen, s.logger)
			s.logUnmatched(name, sources[name].unmatched)
		}
	}
	rejudged := s.judgeAll(sources, names)
	for _, name := range slices.Concat(names, rejudged) {
		_, methods := s.merge.apply(name, sources[name])
		for _, m := range methods {
			changed[m] = true
		}
		s.indexTools(s.merge.tools.touched)
	}
	if s.pins.book != nil {
		s.indexHeld()
	}
	s.cat.Store(s.merge.cur)
	profiles := s.refreshProfiles()
	viewChanged, search := s.refreshView()
	if search {
		// The client lists search mode's tools, which the catalogue's
		// change leaves as they are unless an always-listed one changed.
		changed[toolsChanged] = viewChanged
	} else if viewChanged {
		changed[toolsChanged] = true
	}
	pinned := s.pins.dirty
	s.mergeMu.Unlock()
	if pinned && s.opts.OnPinned != nil {
		s.opts.OnPinned()
	}

	s.mu.Lock()
	for _, name := range names {
		if r, src := s.upstreams[name], sources[name]; src != nil && r != nil {
			s.sources[name] = src
			r.state.live = r.state.live || live
		} else {
			delete(s.sources, name)
		}
	}
	for _, name := range rejudged {
		if _, ok := s.sources[name]; ok {
			s.sources[name] = sources[name]
		}
	}
	s.changedLocked()
	level := s.logLevel
	s.mu.Unlock()

	for name, c := range cats {
		if live && c != nil && level != nil && offers(c.Capabilities, "logging") {
			go s.passLevel(name, level)
		}
	}
	for _, sess := range s.openSessions() {
		for _, method := range []string{toolsChanged, promptsChanged, resourcesChanged} {
			switch {
			case method == toolsChanged && sess.profile != "":
				if profiles[sess.profile] {
					sess.listChanged(method)
				}
			case changed[method]:
				sess.listChanged(method)
			}
		}
	}
}

// passLevel tells an upstream that has just (re)connected the log level the
// client set, which it would otherwise not know.
func (s *Server) passLevel(name string, params json.RawMessage) {
	r := s.route(name)
	if r == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), r.cfg.RequestTimeout())
	defer cancel()
	if _, err := r.up.Request(ctx, "logging/setLevel", params); err != nil {
		s.logger.Warn("passing on the log level", "upstream", name, "err", err)
	}
}

// merger returns how merges name entries and report what they find; its
// callbacks run with s.mergeMu held.
func (s *Server) merger() merger {
	return merger{logger: s.logger, nameLength: s.opts.NameLength, conflict: s.conflict, renamed: s.logRenamed}
}

// logRenamed logs, once per entry and name, that an entry is exposed under
// another name than its prefix and its own name. s.mergeMu is held.
func (s *Server) logRenamed(kind, server, original, exposed string) {
	key := kind + "\x00" + server + "\x00" + original + "\x00" + exposed
	if s.renamed[key] {
		return
	}
	s.renamed[key] = true
	s.logger.Info(kind+" exposed under a changed name", "upstream", server, "original", original, "exposed", exposed)
}

// logUnmatched logs, once per server and field, an override of an entry
// the upstream does not list: most likely a typo in its name, which would
// otherwise go unnoticed. s.mergeMu is held.
func (s *Server) logUnmatched(server string, unmatched [][2]string) {
	for _, u := range unmatched {
		key := server + "\x00" + u[0]
		if s.unmatched[key] {
			continue
		}
		s.unmatched[key] = true
		attrs := []any{"upstream", server, "field", u[0]}
		if u[1] != "" {
			attrs = append(attrs, "did_you_mean", u[1])
		}
		s.logger.Warn("override of an entry the upstream does not list; it changes nothing", attrs...)
	}
}

// conflict logs, once per URI, that two upstreams list it. s.mergeMu is
// held.
func (s *Server) conflict(uri, servedBy, ignored string) {
	if s.conflicts[uri] {
		return
	}
	s.conflicts[uri] = true
	s.logger.Warn("two upstreams list one resource URI; the first by name serves it", "uri", uri, "served_by", servedBy, "ignored", ignored)
}

// Listed is closed once a client has received its first tool list. Upstreams
// whose catalogue is cached can wait for it before starting, so that their
// start-up does not compete with the answer for the CPU.
func (s *Server) Listed() <-chan struct{} { return s.listed }

// route returns how to reach the named upstream, without waiting for
// anyone.
func (s *Server) route(name string) *route {
	return (*s.routing.Load())[name]
}

// routes returns every upstream, sorted by name.
func (s *Server) routes() []*route {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]*route, 0, len(s.upstreams))
	for _, r := range s.upstreams {
		out = append(out, r)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].cfg.Name < out[j].cfg.Name })
	return out
}

// openSessions returns the open sessions, oldest first.
func (s *Server) openSessions() []*session {
	s.mu.Lock()
	out := make([]*session, 0, len(s.sessions))
	for sess := range s.sessions {
		out = append(out, sess)
	}
	s.mu.Unlock()
	sort.Slice(out, func(i, j int) bool { return out[i].seq < out[j].seq })
	return out
}

// Sessions returns how many sessions are open.
func (s *Server) Sessions() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.sessions)
}
