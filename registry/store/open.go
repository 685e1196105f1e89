package store

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/dgraph-io/badger/v4"
	"github.com/dgraph-io/badger/v4/options"
)

// DefaultDataDir returns where mcpmux keeps its store and its live
// files: $XDG_STATE_HOME/mcpmux or ~/.local/state/mcpmux on Linux,
// ~/Library/Application Support/mcpmux/state on macOS,
// %LOCALAPPDATA%\mcpmux on Windows (see dataDir in datadir_*.go).
func DefaultDataDir() (string, error) {
	dir, err := dataDir()
	if err != nil {
		return "", fmt.Errorf("finding the data directory: %w", err)
	}
	return dir, nil
}

// openDB opens the Badger database in dir. A locked directory is reported
// as ErrLocked. A damaged one is moved aside and replaced by a fresh one,
// unless the store is opened read-only or without repair: then the error
// wraps errDamaged.
func openDB(dir string, opts Options) (*badger.DB, error) {
	if err := checkDir(dir, opts.ReadOnly); err != nil {
		return nil, fmt.Errorf("opening store %q: %w", dir, err)
	}
	db, err := openBadger(badgerOptions(dir, opts))
	switch {
	case err == nil:
		return db, nil
	case isLocked(err):
		return nil, fmt.Errorf("opening store %q: %w: %w", dir, ErrLocked, err)
	case !isDamaged(err):
		return nil, fmt.Errorf("opening store %q: %w", dir, err)
	case opts.ReadOnly || opts.noRepair:
		return nil, fmt.Errorf("opening store %q: %w: %w", dir, errDamaged, err)
	}
	var fresh *badger.DB
	err = withRepairLock(dir, func() error {
		fresh, err = repair(dir, opts)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("opening store %q: %w", dir, err)
	}
	return fresh, nil
}

// repair opens the store again, now that this process alone may repair
// it: another may have done so meanwhile. If it is still damaged, it is
// moved aside and a fresh one is opened.
func repair(dir string, opts Options) (*badger.DB, error) {
	db, err := openBadger(badgerOptions(dir, opts))
	switch {
	case err == nil:
		return db, nil
	case isLocked(err) || inUse(dir):
		return nil, fmt.Errorf("%w: %w", ErrLocked, err)
	case !isDamaged(err):
		return nil, err
	}
	aside, moveErr := moveAside(dir, time.Now())
	if moveErr != nil {
		return nil, fmt.Errorf("%w (moving it aside: %w)", err, moveErr)
	}
	opts.Logger.Warn("store unreadable, moved aside and started afresh",
		"dir", dir, "moved_to", aside, "err", err)
	db, err = openBadger(badgerOptions(dir, opts))
	switch {
	case err == nil:
		return db, nil
	case isLocked(err):
		// Another process found the directory gone and made the fresh
		// store itself: it is in use, as after any other open that lost.
		return nil, fmt.Errorf("%w: %w", ErrLocked, err)
	}
	return nil, fmt.Errorf("opening fresh store: %w", err)
}

// checkDir rejects a dir that is not a directory (a foreign file in its
// place counts as a damaged store), and one that does not exist when it
// cannot be created.
func checkDir(dir string, readOnly bool) error {
	fi, err := os.Stat(dir)
	switch {
	case errors.Is(err, fs.ErrNotExist) && !readOnly:
		return nil
	case err != nil:
		return err
	case !fi.IsDir():
		return fmt.Errorf("%w: a file stands where the store's directory should be", errDamaged)
	}
	return nil
}

// openBadger is badger.Open, with a panic (Badger panics on some damaged
// files) turned into an error.
func openBadger(o badger.Options) (db *badger.DB, err error) {
	defer func() {
		if r := recover(); r != nil {
			db, err = nil, fmt.Errorf("badger panicked: %v", r)
		}
	}()
	return badger.Open(o)
}

// isLocked reports whether err is Badger's "directory in use". Badger
// flattens the errors it wraps, so only its text tells.
func isLocked(err error) bool {
	return strings.Contains(err.Error(), "Another process is using this Badger database")
}

// environmentErrors are texts of errors caused by the environment rather than
// by the store's files: moving the store aside would fix nothing.
var environmentErrors = []string{
	"permission denied",
	"operation not permitted",
	"no space left on device",
	"too many open files",
	"read-only file system",
}

// isDamaged reports whether err, from opening a store, means its files are
// unusable.
func isDamaged(err error) bool {
	msg := strings.ToLower(err.Error())
	for _, e := range environmentErrors {
		if strings.Contains(msg, e) {
			return false
		}
	}
	return true
}

// moveAside renames dir to dir.corrupt-<now> and returns the new name.
func moveAside(dir string, now time.Time) (string, error) {
	aside := filepath.Clean(dir) + ".corrupt-" + now.UTC().Format("20060102T150405.000Z")
	if err := os.Rename(dir, aside); err != nil {
		return "", err
	}
	return aside, nil
}

// badgerOptions tunes Badger for a small process: a few small tables of
// small values, mcpmux's own footprint under 40 MB with ten upstreams.
func badgerOptions(dir string, opts Options) badger.Options {
	return badger.DefaultOptions(dir).
		WithReadOnly(badgerReadOnly(opts.ReadOnly)).
		WithLogger(badgerLogger{opts.Logger.With("component", "badger"), opts.quiet}).
		WithMetricsEnabled(false).
		WithMemTableSize(4 << 20).    // batches up to 15% of it: 600 KB
		WithValueThreshold(64 << 10). // larger values (big catalogues) go to the value log
		WithNumMemtables(2).
		WithNumLevelZeroTables(2).
		WithNumLevelZeroTablesStall(4).
		WithBaseTableSize(1 << 20).
		WithValueLogFileSize(16 << 20).
		WithNumCompactors(2).
		WithCompression(options.None). // JSON this small gains little; Snappy needs the block cache
		WithBlockCacheSize(0).         // tables are memory-mapped; a cache would only copy them
		WithIndexCacheSize(0)          // indexes of a few small tables stay in memory anyway
}

// badgerLogger passes Badger's messages to slog, each prefixed "badger: ":
// errors at error, warnings at warn, the rest at debug; with quiet (the
// store's child processes, which is every use by mcpmux), all at debug, so
// that Badger stays out of mcpmux's log unless --log-level debug.
type badgerLogger struct {
	l     *slog.Logger
	quiet bool // everything at debug
}

var _ badger.Logger = badgerLogger{}

func (b badgerLogger) Errorf(f string, a ...any)   { b.log(slog.LevelError, f, a) }
func (b badgerLogger) Warningf(f string, a ...any) { b.log(slog.LevelWarn, f, a) }
func (b badgerLogger) Infof(f string, a ...any)    { b.log(slog.LevelDebug, f, a) }
func (b badgerLogger) Debugf(f string, a ...any)   { b.log(slog.LevelDebug, f, a) }

func (b badgerLogger) log(level slog.Level, format string, args []any) {
	if b.quiet {
		level = slog.LevelDebug
	}
	ctx := context.Background()
	if !b.l.Enabled(ctx, level) {
		return
	}
	b.l.Log(ctx, level, "badger: "+strings.TrimSpace(fmt.Sprintf(format, args...)))
}
