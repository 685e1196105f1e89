package store

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"sync"
	"sync/atomic"
	"time"

	"github.com/dgraph-io/badger/v4"
)

var (
	// ErrLocked is returned (wrapped) by [Open] when another process,
	// or another DB in this one, has the directory open.
	ErrLocked = errors.New("store is in use by another mcpmux")
	// ErrReadOnly is returned (wrapped) by writes to a read-only [DB].
	ErrReadOnly = errors.New("store is read-only")
	// ErrClosed is returned (wrapped) by every method of a closed [DB]
	// but Close.
	ErrClosed = errors.New("store is closed")

	// errDamaged marks an error that means the store's files are unusable:
	// Badger cannot open them, crashed on them, or hung.
	errDamaged = errors.New("store is damaged")
)

// Defaults of [Options].
const (
	DefaultHistoryTTL = 30 * 24 * time.Hour // how long connection events are kept
	DefaultMaxHistory = 1000                // events kept per server at most
)

// flushInterval is how often buffered call statistics are written and
// histories trimmed. A variable so that tests can shorten it.
var flushInterval = 5 * time.Second

// Options configures [Open]. The zero value means defaults.
type Options struct {
	// Logger receives the store's messages and Badger's: its errors and
	// warnings at their level, the rest at debug. Nil means discard.
	Logger *slog.Logger
	// HistoryTTL is how long connection events are kept. Zero (or less)
	// means DefaultHistoryTTL. Badger expires entries to the second.
	HistoryTTL time.Duration
	// MaxHistory is how many events are kept per server at most. Zero (or
	// less) means DefaultMaxHistory.
	MaxHistory int
	// ReadOnly opens the store without writing to it, for `mcpmux status`.
	// A store open for writing cannot be opened read-only too: Open
	// returns ErrLocked. Writes to a read-only store return ErrReadOnly.
	ReadOnly bool

	// noRepair: a damaged store is reported (wrapping errDamaged), not
	// moved aside. Jobs leave the repair to the process that runs them,
	// which also sees the crashes and hangs that Open cannot report.
	noRepair bool
	// quiet logs Badger's own errors and warnings at debug level: a job's
	// failure is reported once by the process that runs it, and Badger's
	// complaints about a damaged file would only repeat it.
	quiet bool
}

func (o Options) withDefaults() Options {
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.HistoryTTL <= 0 {
		o.HistoryTTL = DefaultHistoryTTL
	}
	if o.MaxHistory <= 0 {
		o.MaxHistory = DefaultMaxHistory
	}
	return o
}

// DB is mcpmux's memory across runs: upstream catalogues (so that it
// starts instantly), connection history and per-tool call statistics,
// kept in a Badger database in one directory.
//
// A DB is safe for concurrent use. Only one process may open a directory
// for writing; see [ErrLocked].
type DB struct {
	dir    string
	opts   Options // defaults applied
	logger *slog.Logger
	db     *badger.DB
	now    func() time.Time // time.Now; tests replace it
	seq    atomic.Uint32    // disambiguates events with equal times

	cancel context.CancelFunc // stops the flush loop; called by Close
	done   chan struct{}      // closed when the flush loop has returned

	closeOnce sync.Once
	closeErr  error

	life   sync.RWMutex // held for reading by every use of db, for writing by Close
	closed bool

	flushMu sync.Mutex // serializes flushes, and ToolStats with them

	mu      sync.Mutex
	pending map[statKey]*CallStats // call statistics not yet written
	events  map[string]int         // per server, about how many events it has stored
}

// Open opens the store in dir, creating it if needed. A store that
// Badger cannot open is moved aside to dir.corrupt-<time> and replaced by
// an empty one, with a warning logged (unless opts.ReadOnly: then Open
// returns the error). If dir is in use, Open returns at once with an
// error wrapping [ErrLocked].
func Open(dir string, opts Options) (*DB, error) {
	opts = opts.withDefaults()
	db, err := openDB(dir, opts)
	if err != nil {
		return nil, err
	}
	s := &DB{
		dir:     dir,
		opts:    opts,
		logger:  opts.Logger,
		db:      db,
		now:     time.Now,
		pending: make(map[statKey]*CallStats),
		events:  make(map[string]int),
	}
	if opts.ReadOnly {
		return s, nil
	}
	if err := s.countHistory(); err != nil {
		return nil, errors.Join(fmt.Errorf("opening store %q: %w", dir, err), db.Close())
	}
	ctx, cancel := context.WithCancel(context.Background())
	s.cancel, s.done = cancel, make(chan struct{})
	go s.run(ctx)
	return s, nil
}

// Dir returns the directory the store was opened in.
func (s *DB) Dir() string { return s.dir }

// Close writes buffered statistics, reclaims value-log space once and closes
// the database. Calls after the first return the first call's result.
func (s *DB) Close() error {
	s.closeOnce.Do(func() { s.closeErr = s.close() })
	return s.closeErr
}

func (s *DB) close() error {
	if s.cancel != nil {
		s.cancel()
		<-s.done
	}
	s.life.Lock() // waits for calls in flight
	defer s.life.Unlock()
	s.closed = true
	var errs []error
	if !s.opts.ReadOnly {
		errs = append(errs, s.flush())
		s.collectGarbage()
	}
	if err := s.db.Close(); err != nil {
		errs = append(errs, fmt.Errorf("closing store %q: %w", s.dir, err))
	}
	return errors.Join(errs...)
}

// collectGarbage runs one pass of value-log garbage collection.
func (s *DB) collectGarbage() {
	err := s.db.RunValueLogGC(0.5)
	if err != nil && !errors.Is(err, badger.ErrNoRewrite) {
		s.logger.Warn("value log gc failed", "err", err)
	}
}

// Flush writes buffered call statistics and trims histories longer than
// MaxHistory. The store does so every few seconds and on Close by itself.
func (s *DB) Flush() error {
	s.life.RLock()
	defer s.life.RUnlock()
	if s.closed {
		return fmt.Errorf("flushing store: %w", ErrClosed)
	}
	if s.opts.ReadOnly {
		return nil
	}
	return s.flush()
}

// flush is Flush for a caller that holds life.
func (s *DB) flush() error {
	s.flushMu.Lock()
	defer s.flushMu.Unlock()
	return errors.Join(s.flushStats(), s.trimHistory())
}

// run flushes every flushInterval until ctx is done. It logs a failure
// once, until the error changes or a flush succeeds again.
func (s *DB) run(ctx context.Context) {
	defer close(s.done)
	t := time.NewTicker(flushInterval)
	defer t.Stop()
	var failing error
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		err := s.Flush()
		switch {
		case err != nil && (failing == nil || err.Error() != failing.Error()):
			s.logger.Warn("store flush failed", "err", err)
		case err == nil && failing != nil:
			s.logger.Info("store flush recovered")
		}
		failing = err
	}
}

// view runs fn in a read-only transaction.
func (s *DB) view(fn func(*badger.Txn) error) error {
	s.life.RLock()
	defer s.life.RUnlock()
	if s.closed {
		return ErrClosed
	}
	return s.db.View(fn)
}

// update runs fn in a read-write transaction and commits it.
func (s *DB) update(fn func(*badger.Txn) error) error {
	if s.opts.ReadOnly {
		return ErrReadOnly
	}
	s.life.RLock()
	defer s.life.RUnlock()
	if s.closed {
		return ErrClosed
	}
	return s.db.Update(fn)
}

// makeKey joins prefix and names with slashes, escaping each name so that no
// name's keys are a prefix of another's: makeKey("stat", server, "") is the
// prefix of all of server's statistics.
func makeKey(prefix string, names ...string) []byte {
	k := []byte(prefix)
	for _, n := range names {
		k = append(k, '/')
		k = append(k, url.PathEscape(n)...)
	}
	return k
}
