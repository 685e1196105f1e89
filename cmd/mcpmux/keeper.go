package main

import (
	"context"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/mcpmux/mcpmux/internal/keeper"
	"github.com/mcpmux/mcpmux/upstream"
)

// keeperCommand is the hidden command that runs the process keeper (see
// internal/keeper).
const keeperCommand = "__keeper"

// asSubreaper is set by main: the mcpmux binary makes itself a child
// subreaper while it runs upstreams. A test binary that runs serve in
// process must not, or it would reap other tests' children.
var asSubreaper bool

// startKeeper starts the process keeper, before any upstream, and reaps
// orphans re-parented to mcpmux until stop. stop ends the keeper,
// once every upstream has stopped. Without a keeper (it could not start),
// mcpmux relies on the parent-death signal alone, and says so.
func startKeeper(ctx context.Context, stderr io.Writer, logger *slog.Logger) (k *keeper.Keeper, stop func()) {
	if !keeperNeeded {
		return nil, func() {}
	}
	k, err := keeper.Start(keeper.Options{Path: self(), Args: []string{keeperCommand}, Stderr: stderr, Logger: logger})
	if err != nil {
		logger.Warn("running without a process keeper; upstreams may outlive mcpmux if it is killed", "err", err)
		return nil, func() {}
	}
	ctx, cancel := context.WithCancel(context.WithoutCancel(ctx)) // reap until the upstreams are gone
	reaped := make(chan struct{})
	go func() {
		defer close(reaped)
		if asSubreaper {
			if err := keeper.BecomeSubreaper(); err != nil {
				logger.Debug("not a child subreaper", "err", err)
				return
			}
			k.Reap(ctx)
		}
	}()
	return k, func() {
		cancel()
		<-reaped
		if err := k.Close(); err != nil {
			logger.Warn("stopping the process keeper", "err", err)
		}
	}
}

// runKeeper is the keeper process. It lives as long as its pipe from
// mcpmux: a host that ends mcpmux's whole process tree signals the keeper
// too, and mcpmux, stopping, still needs it (and would warn that it is
// lost). Once mcpmux has exited, the keeper ends what is left.
func runKeeper(ctx context.Context, stdin io.Reader, stderr io.Writer) error {
	signal.Ignore(os.Interrupt, syscall.SIGTERM)
	keeper.Serve(context.WithoutCancel(ctx), stdin, stderr, keeper.ServeOptions{})
	return nil
}

// self returns the path of the running mcpmux, to re-execute it.
func self() string {
	exe, err := os.Executable()
	if err != nil {
		return os.Args[0]
	}
	return exe
}

// groups returns k as the upstreams' Groups, nil without a keeper.
func groups(k *keeper.Keeper) upstream.Groups {
	if k == nil {
		return nil
	}
	return k
}
