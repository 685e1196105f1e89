package store

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"time"
)

// Waits between attempts of [Use] to open a store another process
// holds: random, so that processes retrying together spread out.
const (
	minLockWait = 5 * time.Millisecond
	maxLockWait = 40 * time.Millisecond
)

// Use opens the store in dir, calls fn with it, and closes it again,
// so that other processes can open it in between: several mcpmux processes
// can share one store this way, each holding it only for a moment.
//
// While another process holds the store, Use tries again after a short
// random wait, until ctx ends; then it returns an error wrapping
// [ErrLocked]. Errors of fn and of closing are returned joined.
func Use(ctx context.Context, dir string, opts Options, fn func(*DB) error) error {
	s, err := openWaiting(ctx, dir, opts)
	if err != nil {
		return err
	}
	err = fn(s)
	return errors.Join(err, s.Close())
}

// openWaiting opens the store in dir, waiting while it is locked.
func openWaiting(ctx context.Context, dir string, opts Options) (*DB, error) {
	for tries := 1; ; tries++ {
		s, err := Open(dir, opts)
		if !errors.Is(err, ErrLocked) {
			return s, err
		}
		wait := minLockWait + rand.N(maxLockWait-minLockWait)
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil, fmt.Errorf("%w (after %d attempts)", err, tries)
		case <-t.C:
		}
	}
}
