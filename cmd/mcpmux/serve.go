package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"sync"

	"github.com/mark3labs/mcp-go/mcp"

	"github.com/mcpmux/mcpmux/proxy"
	"github.com/mcpmux/mcpmux/registry"
	"github.com/mcpmux/mcpmux/upstream"
)

// runServe serves the merged MCP server on stdin/stdout until the client
// closes stdin or a signal arrives; it returns once every upstream has
// been stopped.
func runServe(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	var c commonFlags
	fs := newFlagSet("serve", stderr, &c)
	if err := fs.Parse(args); err != nil {
		return err
	}
	cfg, logger, err := setup(c, stderr)
	if err != nil {
		return err
	}
	srv, sups := build(cfg, logger)
	logger.Info("mcpmux serving", "version", version(), "upstreams", len(sups))

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	for _, s := range sups {
		wg.Go(func() { _ = s.Run(ctx) })
	}
	err = srv.Serve(ctx, stdin, stdout)
	cancel()
	wg.Wait()
	logger.Info("mcpmux stopped")
	return err
}

// setup loads the configuration and makes the logger.
func setup(c commonFlags, stderr io.Writer) (*registry.Config, *slog.Logger, error) {
	logger, err := newLogger(stderr, c.logLevel)
	if err != nil {
		return nil, nil, err
	}
	path := c.config
	if path == "" {
		if path, err = registry.DefaultPath(); err != nil {
			return nil, nil, fmt.Errorf("finding the default config: %w", err)
		}
	}
	cfg, err := registry.Load(path)
	if err != nil {
		return nil, nil, err
	}
	return cfg, logger, nil
}

// build makes the proxy and one supervisor per enabled upstream.
func build(cfg *registry.Config, logger *slog.Logger) (*proxy.Server, []*upstream.Supervisor) {
	var sups []*upstream.Supervisor
	srv := proxy.New(proxy.Options{
		Logger:  logger,
		Version: version(),
		Status:  func() json.RawMessage { return statusJSON(sups) },
	})
	for _, s := range cfg.Enabled() {
		sup := upstream.New(s, upstream.Options{
			Logger:         logger.With("upstream", s.Name),
			ClientInfo:     mcp.Implementation{Name: "mcpmux", Version: version()},
			OnCatalogue:    srv.SetCatalogue,
			OnNotification: srv.UpstreamNotification,
			OnRequest:      srv.UpstreamRequest,
		})
		srv.AddUpstream(s, sup)
		sups = append(sups, sup)
	}
	return srv, sups
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
