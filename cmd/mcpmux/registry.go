package main

import (
	"context"
	"flag"
	"log/slog"

	"github.com/mcpmux/mcpmux/registry"
	"github.com/mcpmux/mcpmux/registry/store"
	"github.com/mcpmux/mcpmux/upstream"
)

// dataDirFlag is --data-dir, which serve, status and history take.
type dataDirFlag string

func (d *dataDirFlag) register(fs *flag.FlagSet) {
	fs.StringVar((*string)(d), "data-dir", "", "registry directory (default: the user state dir's mcpmux)")
}

// path returns the data directory: the flag's, or the default.
func (d dataDirFlag) path() (string, error) {
	if d != "" {
		return string(d), nil
	}
	return store.DefaultDataDir()
}

// openRecorder returns the registry's recorder for serve, and the cached
// catalogues of servers that may be served at once; nil and nil without a
// registry. Problems are logged: mcpmux serves without a cache all the same.
func openRecorder(ctx context.Context, dir dataDirFlag, servers []*registry.Server, logger *slog.Logger) (*store.Recorder, map[string]*registry.Catalogue) {
	path, err := dir.path()
	if err != nil {
		logger.Warn("running without a registry", "err", err)
		return nil, nil
	}
	rec := store.NewRecorder(path, store.RecorderOptions{Logger: logger.With("component", "registry")})
	cached, err := rec.LoadCatalogues(ctx, servers)
	if err != nil {
		logger.Warn("reading cached catalogues; starting without them", "err", err)
	}
	logger.Debug("registry opened", "dir", path, "cached_catalogues", len(cached))
	return rec, cached
}

// runRecorder runs rec until stop is called; stop returns once rec has
// written what it holds. Without a recorder it does nothing.
func runRecorder(ctx context.Context, rec *store.Recorder, logger *slog.Logger) (stop func()) {
	if rec == nil {
		return func() {}
	}
	// Not ctx: the supervisors' last events come after ctx ends.
	ctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := rec.Run(ctx); err != nil {
			logger.Warn("saving the registry at exit", "err", err)
		}
	}()
	return func() { cancel(); <-done }
}

// serverState is st in the registry's terms.
func serverState(st upstream.Status) store.ServerState {
	return store.ServerState{
		Server:    st.Server,
		State:     st.State.String(),
		Since:     st.Since,
		LastError: st.LastError,
		Attempt:   st.Attempt,
		Restarts:  st.Restarts,
		PID:       st.PID,
	}
}
