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

// handsOff is set by main: the process exits once serve returns, so serve
// hands the slow part of its upstreams' stop to the keeper and exits at
// once (see mux.Options.HandOff). A test that runs serve in process waits
// for its children, as before.
var handsOff bool

// startKeeper starts the process keeper, before any upstream, and reaps
// orphans re-parented to mcpmux until stop. stop ends the keeper, once
// every upstream has stopped or, if handOff, hands it what is left of
// them to stop, without waiting. Without a keeper (it could not start),
// mcpmux relies on the parent-death signal alone, and says so.
func startKeeper(ctx context.Context, stderr io.Writer, logger *slog.Logger) (k *keeper.Keeper, stop func(handOff bool)) {
	if !keeperNeeded {
		return nil, func(bool) {}
	}
	k, err := keeper.Start(keeper.Options{Path: self(), Args: []string{keeperCommand}, Stderr: stderr, Logger: logger})
	if err != nil {
		logger.Warn("running without a process keeper; upstreams may outlive mcpmux if it is killed", "err", err)
		return nil, func(bool) {}
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
	return k, func(handOff bool) {
		cancel()
		<-reaped
		if handOff {
			k.HandOff(upstream.DefaultStopAfterStdin, upstream.DefaultStopAfterTerm)
			return
		}
		if err := k.Close(); err != nil {
			logger.Warn("stopping the process keeper", "err", err)
		}
	}
}

// handOff reports whether serve may hand its upstreams to k as it exits
// (see mux.Options.HandOff).
func handOff(k *keeper.Keeper) func() bool {
	return func() bool { return handsOff && k.Alive() }
}

// runKeeper is the keeper process. It lives as long as its pipe from
// mcpmux, and then as long as what is left to stop: a host that ends
// mcpmux's whole process tree signals the keeper too, and mcpmux,
// stopping, still needs it (and would warn that it is lost); a mcpmux
// that exits hands the keeper the rest of its upstreams' stop. Its
// session of its own keeps it from the signals to mcpmux's group or
// terminal.
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
