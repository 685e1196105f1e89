package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"time"

	"github.com/mark3labs/mcp-go/mcp"

	"github.com/mcpmux/mcpmux/internal/redact"
	"github.com/mcpmux/mcpmux/proxy"
	"github.com/mcpmux/mcpmux/registry"
	"github.com/mcpmux/mcpmux/registry/store"
	"github.com/mcpmux/mcpmux/upstream"
)

// runServe serves the merged MCP server on stdin/stdout until the client
// closes stdin or a signal arrives; it returns once every upstream has
// been stopped.
func runServe(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	var c commonFlags
	var dir dataDirFlag
	fs := newFlagSet("serve", stderr, &c)
	dir.register(fs)
	noRegistry := fs.Bool("no-registry", false, "run without the registry: no cached catalogues, no history, no statistics")
	pageSize := fs.Int("page-size", 0, "entries per page of the lists mcpmux serves (0: everything in one page, which every client understands)")
	nameLength := fs.Int("name-length", 0, fmt.Sprintf("longest exposed tool or prompt name, %d to %d (default: the config's \"nameLength\", else %d)",
		registry.MinNameLength, registry.MaxNameLength, registry.DefaultNameLength))
	var maxSize registry.Size
	fs.Var(&maxSize, "max-message-size", fmt.Sprintf("largest message from the client or an upstream, such as 64MB (default: the config's \"maxMessageSize\", else %s)", registry.DefaultMessageSize))
	if err := fs.Parse(args); err != nil {
		return err
	}
	cfg, logger, err := setup(c, stderr)
	if err != nil {
		return err
	}
	if *nameLength != 0 {
		cfg.NameLength = *nameLength
		if err := cfg.Validate(); err != nil {
			return fmt.Errorf("--name-length: %w", err)
		}
	}
	if maxSize != 0 {
		cfg.MaxMessageSize = maxSize
		if err := cfg.Validate(); err != nil {
			return fmt.Errorf("--max-message-size: %w", err)
		}
	}
	var rec *store.Recorder
	var cached map[string]*registry.Catalogue
	if !*noRegistry {
		rec, cached = openRecorder(ctx, dir, cfg.Enabled(), logger)
	}
	srv, sups := build(cfg, logger, wiring{rec: rec, cached: cached, pageSize: *pageSize, client: true})
	logger.Info("mcpmux serving", "version", version(), "upstreams", len(sups), "cached", len(cached))

	stopRecorder := runRecorder(ctx, rec, logger)
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	for _, s := range sups {
		wg.Go(func() {
			if cached[s.Name()] != nil {
				waitListed(ctx, srv)
			}
			_ = s.Run(ctx)
		})
	}
	err = srv.Serve(ctx, stdin, stdout)
	cancel()
	wg.Wait()
	stopRecorder()
	logger.Info("mcpmux stopped")
	return err
}

// cachedStartDelay bounds how long an upstream whose catalogue is cached
// waits for the client's first tool list before starting.
const cachedStartDelay = 150 * time.Millisecond

// waitListed waits until the client has its first tool list, or at most
// cachedStartDelay: the cached catalogue answers that list, and the
// upstreams' start-up would only compete with the answer for the CPU.
func waitListed(ctx context.Context, srv *proxy.Server) {
	t := time.NewTimer(cachedStartDelay)
	defer t.Stop()
	select {
	case <-srv.Listed():
	case <-t.C:
	case <-ctx.Done():
	}
}

// setup loads the configuration and makes the logger, which masks its
// secrets.
func setup(c commonFlags, stderr io.Writer) (*registry.Config, *slog.Logger, error) {
	lvl, err := parseLevel(c.logLevel)
	if err != nil {
		return nil, nil, err
	}
	cfg, err := loadConfig(c)
	if err != nil {
		return nil, nil, err
	}
	return cfg, newLogger(stderr, lvl, masker(cfg)), nil
}

// loadConfig loads the configuration file that --config names, or the
// default one.
func loadConfig(c commonFlags) (*registry.Config, error) {
	path := c.config
	if path == "" {
		var err error
		if path, err = registry.DefaultPath(); err != nil {
			return nil, fmt.Errorf("finding the default config: %w", err)
		}
	}
	return registry.Load(path)
}

// wiring says how build connects the pieces. The zero value serves no
// client and records nothing, as `mcpmux tools` needs.
type wiring struct {
	// rec records states, catalogues and calls; nil records nothing.
	rec *store.Recorder
	// cached are the catalogues the proxy serves until the live ones
	// arrive; a lazy upstream with one starts on first use.
	cached map[string]*registry.Catalogue
	// pageSize is proxy.Options.PageSize.
	pageSize int
	// client: a client will connect, and upstreams are told its
	// capabilities rather than everything mcpmux can relay.
	client bool
}

// build makes the proxy and one supervisor per enabled upstream, wired as
// w says.
func build(cfg *registry.Config, logger *slog.Logger, w wiring) (*proxy.Server, []*upstream.Supervisor) {
	rec, cached := w.rec, w.cached
	m := masker(cfg)
	var sups []*upstream.Supervisor
	popts := proxy.Options{
		PageSize:       w.pageSize,
		NameLength:     cfg.ExposedNameLength(),
		MaxMessageSize: int(cfg.MessageSize()),
		Masker:         m,
		Logger:         logger,
		Version:        version(),
		Status:         func() json.RawMessage { return statusJSON(sups) },
	}
	if rec != nil {
		popts.OnCall = func(server, tool string, took time.Duration, err error) {
			rec.RecordCall(server, tool, took, err != nil)
		}
	}
	srv := proxy.New(popts)
	for _, s := range cfg.Enabled() {
		cat := cached[s.Name]
		opts := upstreamOptions(s, srv, rec, cat != nil, logger, m)
		opts.MaxMessageSize = int(cfg.MessageSize())
		if w.client {
			opts.AwaitClientCapabilities = srv.ClientCapabilities
		}
		sup := upstream.New(s, opts)
		srv.AddUpstream(s, sup)
		if rec != nil {
			rec.SetState(serverState(sup.Status(), m)) // a lazy one starts idle, unannounced
		}
		sups = append(sups, sup)
	}
	srv.SetCached(cached) // one merge for all, before any client asks
	return srv, sups
}

// upstreamOptions wires the supervisor of s to the proxy and, if not nil,
// to the recorder. A lazy server starts on first use only if a cached
// catalogue lists it meanwhile; without one it starts at once.
func upstreamOptions(s *registry.Server, srv *proxy.Server, rec *store.Recorder, cached bool, logger *slog.Logger, m *redact.Masker) upstream.Options {
	opts := upstream.Options{
		Logger:         logger.With("upstream", s.Name),
		ClientInfo:     mcp.Implementation{Name: "mcpmux", Version: version()},
		OnCatalogue:    srv.SetCatalogue,
		OnNotification: srv.UpstreamNotification,
		OnRequest:      srv.UpstreamRequest,
		OnState:        srv.UpstreamState,
	}
	if rec != nil {
		opts.OnCatalogue = func(name string, c *registry.Catalogue) {
			srv.SetCatalogue(name, c)
			rec.SaveCatalogue(s, *c)
		}
		opts.OnState = func(st upstream.Status) {
			srv.UpstreamState(st)
			rec.SetState(serverState(st, m))
		}
	}
	if s.Lazy && cached {
		opts.Lazy, opts.IdleTimeout = true, s.IdleAfter()
	}
	return opts
}

// statusJSON renders the live state of every upstream for mcpmux://status.
func statusJSON(sups []*upstream.Supervisor) json.RawMessage {
	out := struct {
		Upstreams []upstream.Status `json:"upstreams"`
	}{Upstreams: make([]upstream.Status, 0, len(sups))}
	for _, s := range sups {
		out.Upstreams = append(out.Upstreams, s.Status())
	}
	b, _ := json.MarshalIndent(out, "", "  ")
	return b
}
