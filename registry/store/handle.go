package store

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"sync"
	"time"

	"github.com/mcpmux/mcpmux/registry"
)

// errBusy is returned (wrapped) by a use of the store that could not wait
// for this process's other use of it to end.
var errBusy = fmt.Errorf("%w: this process is still using it", ErrLocked)

// HandleOptions configures a [Handle]. The zero value means defaults.
type HandleOptions struct {
	// Logger receives the handle's warnings, and the store's messages.
	// Nil means discard.
	Logger *slog.Logger
	// Store sets the history limits of every opening of the store; its
	// Logger and ReadOnly are ignored.
	Store Options
	// Child, if set, runs each use of the store in a child process, so that
	// damaged files that make Badger crash or hang cost nothing but that
	// use. Nil runs them in this process, where such a crash ends it.
	Child *Child
	// LockWait bounds how long each use waits for other processes to let
	// go of the store. Zero means DefaultLockWait.
	LockWait time.Duration
}

// Handle reaches the store of one data directory: every use of Badger goes
// through it, one at a time. A store that Badger cannot open, crashes on or
// hangs on is moved aside, once per Handle, with one warning that names it,
// and the next use starts a fresh one. A Handle's methods are safe for
// concurrent use.
type Handle struct {
	dataDir string
	opts    HandleOptions // defaults applied
	logger  *slog.Logger
	turn    chan struct{} // holds a token while a use runs
	jobs    sync.WaitGroup

	mu       sync.Mutex
	repaired bool // the store was moved aside once
}

// NewHandle returns a Handle on the data directory dataDir (see [Dir]).
// Nothing is read or written until it is used.
func NewHandle(dataDir string, opts HandleOptions) *Handle {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	opts.LockWait = cmp.Or(max(opts.LockWait, 0), DefaultLockWait)
	return &Handle{dataDir: dataDir, opts: opts, logger: opts.Logger, turn: make(chan struct{}, 1)}
}

// DataDir returns the data directory.
func (h *Handle) DataDir() string { return h.dataDir }

// Wait waits until every use of the store started by this handle has
// ended, those whose callers stopped waiting for them included.
func (h *Handle) Wait() { h.jobs.Wait() }

// LoadCatalogues returns the cached catalogues of servers, keyed by name,
// leaving out those read with another configuration than the server's
// current one (see [registry.Server.Fingerprint]). A store that does not
// exist yet holds none; a damaged one is moved aside.
func (h *Handle) LoadCatalogues(ctx context.Context, servers []*registry.Server) (map[string]*registry.Catalogue, error) {
	res, err := h.do(ctx, &job{Op: opLoad, Servers: refs(servers)}, false)
	out := make(map[string]*registry.Catalogue)
	if res != nil {
		for name, c := range res.Catalogues {
			out[name] = &c
		}
	}
	if errors.Is(err, fs.ErrNotExist) {
		err = nil
	}
	return out, err
}

// Write writes b to the store. What is written is removed from b: after an
// error, b holds what is left to write.
func (h *Handle) Write(ctx context.Context, b *Batch) error {
	_, err := h.write(ctx, b, true)
	return err
}

// write writes b, and first what was spilled beside the store (see
// absorbSpills). Unless wait, it returns when ctx ends, reporting left:
// the write goes on by itself (see Child), b is the write's own from then
// on, and what it cannot write is spilled once it ends (see spill.go).
func (h *Handle) write(ctx context.Context, b *Batch, wait bool) (left bool, err error) {
	done, err := h.start(ctx, &job{Op: opWrite, Batch: b})
	if err != nil {
		return false, err
	}
	var o outcome
	if wait {
		o = <-done
	} else {
		select {
		case o = <-done:
		case <-ctx.Done():
			h.jobs.Go(func() { h.spillLeft(b, <-done) })
			return true, context.Cause(ctx)
		}
	}
	if o.res != nil && o.res.Unwritten != nil && o.res.Unwritten != b {
		*b = *o.res.Unwritten
	}
	return false, o.err
}

// busy reports whether a use of the store is running.
func (h *Handle) busy() bool { return len(h.turn) > 0 }

// spillLeft spills what a write of b that nobody waited for did not
// write: what its result says, or all of b without one.
func (h *Handle) spillLeft(b *Batch, o outcome) {
	if o.res != nil && o.res.Unwritten != nil {
		b = o.res.Unwritten
	}
	if b.Empty() {
		return
	}
	if _, err := writeSpill(h.dataDir, b, time.Now()); err != nil {
		// The store failed too: the recorder's last flush warns of that.
		h.logger.Debug("spilling what a write left; lost", "dir", h.dataDir, "err", err)
	}
}

// History returns the newest limit events of server (all servers if
// server is ""), newest first, as [DB.History] does. A missing store has
// no history.
func (h *Handle) History(ctx context.Context, server string, limit int) ([]Event, error) {
	res, err := h.do(ctx, &job{Op: opHistory, Server: server, Limit: limit}, false)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading history: %w", err)
	}
	return res.Events, nil
}

// do runs j, one job at a time, and returns its result. The job waits for
// its turn, and then for the store's lock, up to LockWait each, or until
// ctx ends. Once it runs, a caller that waits for it (wait) gets its end;
// another gets ctx's error when ctx ends, and the job ends by itself,
// within the child's time limit. Either way a damaged store is repaired.
func (h *Handle) do(ctx context.Context, j *job, wait bool) (*result, error) {
	if j.Op != opWrite && j.Op != opPutCache {
		// A store that does not exist yet holds nothing: a read finds so
		// without a child process, which a fresh start (every first run,
		// every test's data directory) would otherwise wait for, for up
		// to LockWait and a second on a loaded machine.
		if _, err := os.Stat(Dir(h.dataDir)); errors.Is(err, fs.ErrNotExist) {
			return nil, err
		}
	}
	done, err := h.start(ctx, j)
	if err != nil {
		return nil, err
	}
	if wait {
		o := <-done
		return o.res, o.err
	}
	select {
	case o := <-done:
		return o.res, o.err
	case <-ctx.Done():
		return nil, context.Cause(ctx)
	}
}

// outcome is how a job ended.
type outcome struct {
	res *result
	err error
}

// start starts j once it is its turn, waiting for the turn up to LockWait
// or until ctx ends; its outcome arrives on done.
func (h *Handle) start(ctx context.Context, j *job) (done <-chan outcome, err error) {
	turn, cancel := context.WithTimeout(ctx, h.opts.LockWait)
	defer cancel()
	select {
	case h.turn <- struct{}{}:
	case <-turn.Done():
		return nil, fmt.Errorf("%w: %w", errBusy, context.Cause(turn))
	}
	j.Dir = Dir(h.dataDir)
	j.LockWait, j.HistoryTTL, j.MaxHistory = h.opts.LockWait, h.opts.Store.HistoryTTL, h.opts.Store.MaxHistory
	j.LogLevel = logLevel(ctx, h.logger)
	out := make(chan outcome, 1)
	h.jobs.Add(1)
	go func() {
		defer h.jobs.Done()
		defer func() { <-h.turn }()
		res, err := h.runRepairing(ctx, j)
		out <- outcome{res, err}
	}()
	return out, nil
}

// logLevel returns the lowest level logger logs.
func logLevel(ctx context.Context, logger *slog.Logger) slog.Level {
	for _, l := range []slog.Level{slog.LevelDebug, slog.LevelInfo, slog.LevelWarn} {
		if logger.Enabled(ctx, l) {
			return l
		}
	}
	return slog.LevelError
}

// runRepairing runs j. If the store turns out to be damaged, it is moved
// aside, and a write is done again, to the fresh store; a read finds
// nothing, which is what the fresh store holds.
func (h *Handle) runRepairing(ctx context.Context, j *job) (*result, error) {
	before, _ := os.Stat(j.Dir)
	res, err := h.run(ctx, j)
	if !errors.Is(err, errDamaged) || before == nil {
		return res, err
	}
	if rerr := h.repair(j.Dir, before, err); rerr != nil {
		return res, rerr
	}
	if j.Op == opWrite {
		return h.run(ctx, j)
	}
	return new(result), nil
}

// run runs j once, in the child process or in this one.
func (h *Handle) run(ctx context.Context, j *job) (*result, error) {
	if h.opts.Child != nil {
		return h.opts.Child.run(ctx, j, h.logger)
	}
	return j.run(ctx, h.logger)
}

// repair moves the damaged store dir aside, unless another process has
// done so since before was taken of it, or this handle has done so once
// already (then the damage is not the files' fault, and moving the fresh
// store aside too would lose what it holds). It logs one warning naming
// the store and where it went.
func (h *Handle) repair(dir string, before os.FileInfo, cause error) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.repaired {
		return cause
	}
	return withRepairLock(dir, func() error {
		now, err := os.Stat(dir)
		if err != nil || !os.SameFile(before, now) {
			return nil // gone, or already replaced by a fresh one
		}
		if inUse(dir) {
			return fmt.Errorf("%w (another process has it open, so it is not moved aside)", cause)
		}
		aside, err := moveAside(dir, time.Now())
		if err != nil {
			return fmt.Errorf("%w (moving it aside: %w)", cause, err)
		}
		h.repaired = true
		h.logger.Warn("store unreadable, moved aside and started afresh", "dir", dir, "moved_to", aside, "err", cause)
		return nil
	})
}
