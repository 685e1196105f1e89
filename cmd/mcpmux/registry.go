package main

import (
	"context"
	"flag"
	"log/slog"
	"os"
	"time"

	"github.com/mcpmux/mcpmux/registry"
	"github.com/mcpmux/mcpmux/registry/store"
)

// dataDirFlag is --data-dir, which serve, status and history take.
type dataDirFlag string

func (d *dataDirFlag) register(fs *flag.FlagSet) {
	fs.StringVar((*string)(d), "data-dir", "", "registry directory `DIR` (default: mcpmux in the user state directory)")
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
	// A data directory that cannot be made (a file stands in its place,
	// say) is reported once, not at every flush.
	if err := os.MkdirAll(path, 0o700); err != nil {
		logger.Warn("running without the registry", "dir", path, "err", err)
		return nil, nil
	}
	rec := store.NewRecorder(path, store.RecorderOptions{Logger: logger.With("component", "registry"), Child: storeChild(), FinalWait: lastFlushWait()})
	cached, _ := rec.LoadCatalogues(ctx, servers) // the recorder logs a failure
	logger.Debug("registry opened", "dir", path, "cached_catalogues", len(cached))
	return rec, cached
}

// lastFlushWait bounds the recorder's last flush: the mcpmux binary has a
// fraction of a second to exit, and spills what it cannot write; serve
// run in a test process waits for the store as long as a use may take.
func lastFlushWait() time.Duration {
	if handsOff {
		return store.ExitFinalWait
	}
	return 0
}

// storeCommand is the hidden command that runs one use of the store in a
// child process (see store.Child).
const storeCommand = "__store"

// storeChild returns how to run uses of the store in a child process:
// mcpmux itself, running storeCommand.
func storeChild() *store.Child {
	return &store.Child{Path: self(), Args: []string{storeCommand}}
}

// openStore returns a handle on the store of the data directory dir, for
// the commands that read it.
func openStore(dir string, logger *slog.Logger) *store.Handle {
	return store.NewHandle(dir, store.HandleOptions{Logger: logger, Child: storeChild(), LockWait: readTimeout})
}
