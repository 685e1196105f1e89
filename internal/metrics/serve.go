package metrics

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/mcpmux/mcpmux/proxy/httpserve"
)

// ServeOptions configures the side listener of serve --metrics.
type ServeOptions struct {
	// Token, if set, is required of every request as "Authorization:
	// Bearer <Token>", as serve --http requires it. Without one, Serve
	// refuses a listener that is not on loopback.
	Token string
	// Logger receives the listener's log lines. Nil discards them.
	Logger *slog.Logger
	// Root, if set, is served at "/" (the status page); nil answers 404
	// there.
	Root http.Handler
}

// Handler returns the side listener's routes (/metrics, and Root at /)
// behind the guard of serve --http: Host and Origin rules for addr, the
// address it listens on, and the token if one is set.
func (m *Metrics) SideHandler(addr string, opts ServeOptions) http.Handler {
	mux := http.NewServeMux()
	mux.Handle("/metrics", m.Handler())
	if opts.Root != nil {
		mux.Handle("/", opts.Root)
	}
	return httpserve.Guarded(mux, addr, opts.Token, opts.Logger)
}

// Serve serves the side listener on ln until ctx ends (see SideHandler).
// It refuses a listener that is not on loopback without a token
// (httpserve.ErrNeedsToken).
func (m *Metrics) Serve(ctx context.Context, ln net.Listener, opts ServeOptions) error {
	addr := ln.Addr().String()
	if opts.Token == "" && !httpserve.IsLoopback(addr) {
		ln.Close()
		return httpserve.ErrNeedsToken
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	hs := &http.Server{
		Handler:           m.SideHandler(addr, opts),
		ReadHeaderTimeout: 10 * time.Second,
		ErrorLog:          slog.NewLogLogger(opts.Logger.Handler(), slog.LevelDebug),
	}
	errc := make(chan error, 1)
	go func() { errc <- hs.Serve(ln) }()
	select {
	case err := <-errc:
		return fmt.Errorf("serving metrics: %w", err)
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Second)
	defer cancel()
	if err := hs.Shutdown(sctx); err != nil {
		hs.Close()
	}
	if err := <-errc; !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("serving metrics: %w", err)
	}
	return nil
}
