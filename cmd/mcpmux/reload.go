package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"sync"
	"syscall"

	"github.com/mcpmux/mcpmux/internal/watch"
	"github.com/mcpmux/mcpmux/registry"
)

// reloads returns the reasons for serve to read its configuration at path
// again: the file changed (see internal/watch: saved in place, by rename,
// or behind a link), or a SIGHUP arrived, which would otherwise end
// mcpmux. A reason that comes while one is waiting is the same reload.
// They come until ctx ends; stop, called after that, waits for the
// watcher and gives SIGHUP its default back.
func reloads(ctx context.Context, path string, logger *slog.Logger) (_ <-chan string, stop func()) {
	out := make(chan string, 1)
	send := func(why string) {
		select {
		case out <- why:
		default: // one is waiting; it reads the file as it is then
		}
	}
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	var wg sync.WaitGroup
	wg.Go(func() {
		w := &watch.Watcher{Path: path, Logger: logger, OnChange: func() { send("the file changed") }}
		if err := w.Run(ctx); ctx.Err() == nil {
			logger.Warn("not watching the configuration for changes; "+reloadOtherwise, "path", path, "err", err)
		}
	})
	wg.Go(func() {
		for {
			select {
			case <-ctx.Done():
				return
			case <-hup:
				send("SIGHUP")
			}
		}
	})
	return out, func() {
		wg.Wait()
		signal.Stop(hup)
	}
}

// reloader returns how serve reads its configuration again: as at start,
// with the command line's settings over the file's.
func reloader(c commonFlags, nameLength int, maxSize registry.Size, toolMode string) func() (*registry.Config, error) {
	return func() (*registry.Config, error) {
		cfg, err := loadConfig(c)
		if cfg == nil {
			return nil, err
		}
		if toolMode != "" {
			cfg.ToolMode = toolMode
		}
		if nameLength != 0 {
			cfg.NameLength = nameLength
		}
		if maxSize != 0 {
			cfg.MaxMessageSize = maxSize
		}
		if nameLength != 0 || maxSize != 0 {
			if err := cfg.Validate(); err != nil {
				return nil, fmt.Errorf("with the command line's settings: %w", err)
			}
		}
		return cfg, nil
	}
}
