package store

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"path/filepath"
	"time"

	"github.com/mcpmux/mcpmux/registry"
)

// op names the work of a [job].
type op string

const (
	opLoad     op = "load"     // read the cached catalogues
	opWrite    op = "write"    // write a batch
	opSummary  op = "summary"  // read what `mcpmux status` shows
	opHistory  op = "history"  // read connection history
	opGetCache op = "getcache" // read a cached value
	opPutCache op = "putcache" // cache a value
)

// job is one use of the store: it opens it, does one piece of work and
// closes it again. A [Handle] runs each job in a child process (see
// [Child]), or in this one without a child. It travels to the child
// gob-encoded, and so does its [result].
type job struct {
	Op  op
	Dir string // the store's directory
	// LockWait bounds how long the job waits for other processes to let
	// go of the store.
	LockWait   time.Duration
	HistoryTTL time.Duration
	MaxHistory int
	// LogLevel is the lowest level of the messages worth sending back.
	LogLevel slog.Level

	Servers []serverRef   // load, summary
	Batch   *Batch        // write
	Server  string        // history; "" for all servers
	Limit   int           // history
	Now     time.Time     // summary
	Key     string        // getcache, putcache
	Value   []byte        // putcache
	TTL     time.Duration // putcache
}

// serverRef is what a job needs to know of a configured server.
type serverRef struct {
	Name        string
	Fingerprint string // of its configuration; see registry.Server.Fingerprint
}

func refs(servers []*registry.Server) []serverRef {
	out := make([]serverRef, len(servers))
	for i, s := range servers {
		out[i] = serverRef{Name: s.Name, Fingerprint: s.Fingerprint()}
	}
	return out
}

// result is what a job found, and why it failed if it did.
type result struct {
	Catalogues map[string]registry.Catalogue // load: by server
	Unwritten  *Batch                        // write: what was not written
	Summaries  []Summary                     // summary: the stored part, in order of Servers
	Events     []Event                       // history: newest first
	Value      []byte                        // getcache: nil if none

	Err  string  // why the job failed; "" if it did not
	Kind errKind // what kind of failure Err is
}

// errKind says which of the errors callers tell apart a job's error is,
// so that it survives the trip from a child process.
type errKind uint8

const (
	kindOther errKind = iota + 1
	kindLocked
	kindNotExist
	kindDamaged
)

func kindOf(err error) errKind {
	switch {
	case errors.Is(err, errDamaged):
		return kindDamaged
	case errors.Is(err, ErrLocked):
		return kindLocked
	case errors.Is(err, fs.ErrNotExist):
		return kindNotExist
	}
	return kindOther
}

// jobError is a job's error as a child process reported it.
type jobError struct {
	msg  string
	kind errKind
}

func (e *jobError) Error() string { return e.msg }

func (e *jobError) Is(target error) bool {
	switch e.kind {
	case kindLocked:
		return target == ErrLocked
	case kindNotExist:
		return target == fs.ErrNotExist
	case kindDamaged:
		return target == errDamaged
	}
	return false
}

// setErr records err in r, for the trip to the parent process.
func (r *result) setErr(err error) {
	if err != nil {
		r.Err, r.Kind = err.Error(), kindOf(err)
	}
}

// err returns the error r records, nil if none.
func (r *result) err() error {
	if r.Err == "" {
		return nil
	}
	return &jobError{msg: r.Err, kind: r.Kind}
}

// run does the job in this process, logging to logger. The store is never
// repaired here: a damaged one is reported (wrapping errDamaged) for the
// handle to move aside.
func (j *job) run(ctx context.Context, logger *slog.Logger) (*result, error) {
	ctx, cancel := context.WithTimeout(ctx, j.LockWait)
	defer cancel()
	opts := Options{Logger: logger, HistoryTTL: j.HistoryTTL, MaxHistory: j.MaxHistory, ReadOnly: j.Op != opWrite && j.Op != opPutCache, noRepair: true, quiet: true}
	res := new(result)
	// A record that cannot be read back (its value log cut short, say)
	// makes the store as useless as files Badger cannot open: reads fail
	// the same way on every start. Writes fail for other reasons too (a
	// full disk), which moving the store aside would not mend.
	use := func(fn func(*DB) error) error {
		return Use(ctx, j.Dir, opts, func(s *DB) error {
			err := fn(s)
			if err != nil && j.Op != opWrite && j.Op != opPutCache {
				err = fmt.Errorf("%w: %w", errDamaged, err)
			}
			return err
		})
	}
	var err error
	switch j.Op {
	case opLoad:
		res.Catalogues = make(map[string]registry.Catalogue)
		err = use(func(s *DB) error { return j.load(s, res.Catalogues) })
	case opWrite:
		res.Unwritten = j.Batch
		if res.Unwritten == nil {
			res.Unwritten = new(Batch)
		}
		// What stopped instances spilled is older than the batch: first.
		err = use(func(s *DB) error {
			return errors.Join(absorbSpills(s, filepath.Dir(j.Dir), logger), s.Write(res.Unwritten))
		})
	case opSummary:
		res.Summaries = make([]Summary, len(j.Servers))
		err = use(func(s *DB) error { return j.summarize(s, res.Summaries) })
	case opHistory:
		err = use(func(s *DB) error {
			var err error
			res.Events, err = s.History(j.Server, j.Limit)
			return err
		})
	case opGetCache:
		err = use(func(s *DB) error {
			var err error
			res.Value, _, err = s.GetCache(j.Key)
			return err
		})
	case opPutCache:
		err = use(func(s *DB) error { return s.PutCache(j.Key, j.Value, j.TTL) })
	default:
		err = fmt.Errorf("unknown store job %q", j.Op)
	}
	return res, err
}

// load reads the catalogues of j.Servers that were read with their
// current configuration.
func (j *job) load(s *DB, out map[string]registry.Catalogue) error {
	var errs []error
	for _, srv := range j.Servers {
		c, ok, err := s.LoadCatalogue(srv.Name)
		if ok && c.Fingerprint == srv.Fingerprint {
			out[srv.Name] = c
		}
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// summarize fills in out, one per server of j.Servers, from the store.
func (j *job) summarize(s *DB, out []Summary) error {
	states, err := s.States()
	if err != nil {
		return err
	}
	var errs []error
	for i, srv := range j.Servers {
		out[i].Server = srv.Name
		if st, ok := states[srv.Name]; ok {
			out[i].State = &st
		}
		errs = append(errs, summarizeStored(s, srv, &out[i], j.Now))
	}
	return errors.Join(errs...)
}
