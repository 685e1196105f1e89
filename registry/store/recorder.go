package store

import (
	"cmp"
	"context"
	"log/slog"
	"maps"
	"os"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/mcpmux/mcpmux/registry"
)

// Defaults of [RecorderOptions].
const (
	DefaultFlushInterval    = 2 * time.Second
	DefaultLockWait         = time.Second
	DefaultMaxPendingEvents = 10000
	// DefaultFinalWait is as long as one use of the store may take.
	DefaultFinalWait = DefaultLockWait + DefaultChildTimeout
	// ExitFinalWait is FinalWait for a process that exits at once: mcpmux
	// serve, which has a fraction of a second.
	ExitFinalWait = 100 * time.Millisecond
)

// RecorderOptions configures a [Recorder]. The zero value means defaults.
type RecorderOptions struct {
	// Logger receives the recorder's warnings. Nil means discard.
	Logger *slog.Logger
	// Store sets the history limits of the store; see [HandleOptions].
	Store Options
	// Child, if set, runs every use of the store in a child process; see
	// [HandleOptions]. A serving mcpmux always sets it.
	Child *Child
	// FlushInterval is how often the recorder writes what it holds, and
	// its heartbeat. Zero means DefaultFlushInterval.
	FlushInterval time.Duration
	// LockWait bounds how long one flush waits for other processes to let
	// go of the store. Zero means DefaultLockWait.
	LockWait time.Duration
	// FinalWait bounds the last flush, once Run's context has ended: what
	// is not in the store by then is in a spill file that the next write
	// takes in (see spill.go). A mcpmux that exits at once has a fraction
	// of a second: ExitFinalWait. Below LockWait, flushes the stop cuts
	// short are left to finish on their own (see Recorder.Wait). Zero
	// means DefaultFinalWait.
	FinalWait time.Duration
	// MaxPendingEvents bounds the events held while the store cannot be
	// written; beyond it the oldest are dropped. Zero means
	// DefaultMaxPendingEvents.
	MaxPendingEvents int
}

func (o RecorderOptions) withDefaults() RecorderOptions {
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	o.FlushInterval = cmp.Or(max(o.FlushInterval, 0), DefaultFlushInterval)
	o.LockWait = cmp.Or(max(o.LockWait, 0), DefaultLockWait)
	o.MaxPendingEvents = cmp.Or(max(o.MaxPendingEvents, 0), DefaultMaxPendingEvents)
	o.FinalWait = cmp.Or(max(o.FinalWait, 0), DefaultFinalWait)
	return o
}

// Recorder is the registry of a serving mcpmux: it reads the cached
// catalogues at start-up, and records what happens (catalogues, connection
// events, call statistics, server states) in memory, writing it to the
// store in one batch every FlushInterval.
//
// The store is never kept open: each read and each flush opens it, does its
// work and closes it, so that other mcpmux processes (a second host's
// `mcpmux serve`, `mcpmux status`) can use the same data directory in
// between. If the store stays busy, writes wait in memory for the next
// flush. Between flushes a small live file tells `mcpmux status` that this
// instance runs and what state its servers are in (see [Instance]).
//
// A Recorder's methods are safe for concurrent use.
type Recorder struct {
	dataDir string
	opts    RecorderOptions // defaults applied
	logger  *slog.Logger
	store   *Handle
	self    Instance               // PID and Started
	url     atomic.Pointer[string] // see SetURL
	now     func() time.Time
	changed chan struct{} // a state changed: beat now; buffered
	saved   chan struct{} // a catalogue arrived: flush soon; buffered

	flushMu sync.Mutex // serializes flushes
	// snapMu serializes writes of the snapshot, each with the catalogues
	// taken under it, so that they reach the file in the order they came.
	snapMu   sync.Mutex
	snapDone uint64 // catalogues up to this count are written (or failed); under snapMu

	failMu  sync.Mutex
	failing bool // the last use of the store failed, and was reported
	locked  int  // uses in a row that found the store held by another process

	mu        sync.Mutex
	pending   Batch                         // not yet written
	snapshot  map[string]registry.Catalogue // not yet in the snapshot (see writeSnapshot)
	snapSeq   uint64                        // counts the catalogues saved
	listed    map[string]bool               // servers (name and fingerprint) whose catalogue was saved in this run
	histories map[string]*historyTracker    // by server
	dropped   bool                          // events were dropped since the last good flush

	finishBy atomic.Int64 // unix nanoseconds by which the last flush ends; 0: FinalWait alone (see FinishBy)
}

// SetURL tells `mcpmux status` where this instance serves HTTP (its
// /metrics), from its next heartbeat on.
func (r *Recorder) SetURL(url string) {
	r.url.Store(&url)
	select {
	case r.changed <- struct{}{}:
	default:
	}
}

// NewRecorder returns a Recorder for the data directory dataDir (see
// [Dir]). Nothing is read or written until it is used.
func NewRecorder(dataDir string, opts RecorderOptions) *Recorder {
	opts = opts.withDefaults()
	return &Recorder{
		dataDir:   dataDir,
		opts:      opts,
		logger:    opts.Logger,
		store:     NewHandle(dataDir, HandleOptions{Logger: opts.Logger, Store: opts.Store, Child: opts.Child, LockWait: opts.LockWait}),
		self:      Instance{PID: os.Getpid(), Started: time.Now()},
		now:       time.Now,
		changed:   make(chan struct{}, 1),
		saved:     make(chan struct{}, 1),
		histories: make(map[string]*historyTracker),
	}
}

// FinishBy makes the last flush (see Run) end by t at the latest, even
// before FinalWait is over: a process that exits within a bound from the
// moment it was asked to (mcpmux serve: 300 ms of a host's signal) may
// have spent part of it before the flush starts. The flush still spills
// what it holds (a local file, a millisecond); it only waits less, or not
// at all, for the store's child to take it in. The zero time undoes it.
func (r *Recorder) FinishBy(t time.Time) {
	if t.IsZero() {
		r.finishBy.Store(0)
		return
	}
	r.finishBy.Store(t.UnixNano())
}

// finalWait is how long the last flush may take, from now.
func (r *Recorder) finalWait() time.Duration {
	wait := r.opts.FinalWait
	if by := r.finishBy.Load(); by != 0 {
		wait = max(min(wait, time.Until(time.Unix(0, by))), 0)
	}
	return wait
}

// LoadCatalogues returns the cached catalogues of servers, keyed by name,
// leaving out those read with another configuration than the server's
// current one (see [registry.Server.Fingerprint]): a changed command never
// serves a stale catalogue. They come from the snapshot beside the store,
// read in this process (see writeSnapshot); only servers the snapshot does
// not hold, and all of them if it is missing or unreadable, are looked
// for in the store. A store that does not exist yet holds none; one that
// cannot be read is moved aside (see [Handle]). A failure is logged, as
// the recorder logs failed flushes, and returned. It waits for the store
// at most LockWait, and for a child process that does not answer by then
// only a second more: serve does not wait for its cache.
func (r *Recorder) LoadCatalogues(ctx context.Context, servers []*registry.Server) (map[string]*registry.Catalogue, error) {
	cached := make(map[string]*registry.Catalogue)
	missing := servers
	snap, err := readSnapshot(r.dataDir)
	switch {
	case err == nil:
		cached, missing = snapshotCatalogues(snap, servers)
	case !isNotExist(err):
		r.logger.Debug("cached catalogues: snapshot unusable; reading the store", "err", err)
	}
	if len(missing) == 0 {
		return cached, nil
	}
	// Servers the snapshot does not know (it is new, or was written by
	// another configuration's mcpmux) may be known to the store.
	wait, cancel := context.WithTimeout(ctx, r.opts.LockWait+time.Second)
	defer cancel()
	stored, err := r.store.LoadCatalogues(wait, missing)
	maps.Copy(cached, stored)
	if wait.Err() != nil && ctx.Err() == nil {
		// Not the store's failure: a slow machine. The read goes on, and
		// repairs a damaged store all the same.
		r.logger.Info("cached catalogues not read in time; starting without them", "waited", r.opts.LockWait+time.Second)
		return cached, err
	}
	r.report("reading cached catalogues; starting without them", err)
	return cached, err
}

// SaveCatalogue records c as the catalogue of srv, read with its current
// configuration. The first catalogue of a server in this run is in the
// snapshot when SaveCatalogue returns: a host may end mcpmux right after
// its first list (Codex does, 40 ms after), and the next start must find
// every catalogue that list held. Those that arrive together share one
// write. Later catalogues of the server (list changes) are written by Run
// within moments, coalesced, and every catalogue reaches the store at
// Run's next write.
func (r *Recorder) SaveCatalogue(srv *registry.Server, c registry.Catalogue) {
	c.Fingerprint = srv.Fingerprint()
	r.mu.Lock()
	r.addCatalogue(srv.Name, c)
	// By configuration too: a server that a reload changed lists anew.
	key := srv.Name + "\x00" + c.Fingerprint
	first := !r.listed[key]
	if r.listed == nil {
		r.listed = make(map[string]bool)
	}
	r.listed[key] = true
	seq := r.snapSeq
	r.mu.Unlock()
	if first {
		r.writeSnapshotUpTo(seq)
	}
}

// addCatalogue adds c, as the catalogue of server, to what is not written
// yet, and tells Run. The caller holds mu.
func (r *Recorder) addCatalogue(server string, c registry.Catalogue) {
	if r.pending.Catalogues == nil {
		r.pending.Catalogues = make(map[string]registry.Catalogue)
	}
	r.pending.Catalogues[server] = c
	if r.snapshot == nil {
		r.snapshot = make(map[string]registry.Catalogue)
	}
	r.snapshot[server] = c
	r.snapSeq++
	select {
	case r.saved <- struct{}{}:
	default:
	}
}

// writeSnapshotUpTo writes the snapshot with every catalogue saved so
// far, unless a write since the seq-th catalogue was saved has done it.
func (r *Recorder) writeSnapshotUpTo(seq uint64) {
	r.snapMu.Lock()
	defer r.snapMu.Unlock()
	if r.snapDone >= seq {
		return // written along with another's
	}
	r.writeSnapshotLocked()
}

// writeSnapshotLocked writes the catalogues not yet in the snapshot. Those
// it fails to write are kept for the next write, unless a newer one of the
// same server has come meanwhile. The caller holds snapMu.
func (r *Recorder) writeSnapshotLocked() {
	r.mu.Lock()
	snap, seq := r.snapshot, r.snapSeq
	r.snapshot = nil
	r.mu.Unlock()
	r.snapDone = seq
	// The snapshot takes no child process. Without it the store serves,
	// so its failure costs only time.
	if err := writeSnapshot(r.dataDir, snap); err != nil {
		r.logger.Debug("writing the catalogue snapshot; keeping it for the next write", "err", err)
		r.mu.Lock()
		defer r.mu.Unlock()
		for name, c := range snap {
			if _, newer := r.snapshot[name]; !newer {
				if r.snapshot == nil {
					r.snapshot = make(map[string]registry.Catalogue)
				}
				r.snapshot[name] = c
			}
		}
	}
}

// SetState records the state of a server, and the history events its
// change means (see [EventKind]).
func (r *Recorder) SetState(st ServerState) {
	st.MuxPID = r.self.PID
	r.mu.Lock()
	defer r.mu.Unlock()
	t := r.histories[st.Server]
	if t == nil {
		t = new(historyTracker)
		r.histories[st.Server] = t
	}
	r.addEvents(t.next(st)...)
	if r.pending.States == nil {
		r.pending.States = make(map[string]ServerState)
	}
	r.pending.States[st.Server] = st
	select {
	case r.changed <- struct{}{}:
	default:
	}
}

// RecordCall counts a call to tool of server that took latency.
func (r *Recorder) RecordCall(server, tool string, latency time.Duration, failed bool) {
	st := CallStats{Calls: 1, LastCall: r.now()}
	if failed {
		st.Errors = 1
	}
	st.Latency.observe(latency)
	r.mu.Lock()
	defer r.mu.Unlock()
	r.pending.addCall(server, tool, st)
}

// addEvents appends events to the pending ones, dropping the oldest beyond
// MaxPendingEvents. The caller holds mu.
func (r *Recorder) addEvents(events ...Event) {
	r.pending.Events = append(r.pending.Events, events...)
	r.capEvents()
}

// capEvents drops the oldest pending events beyond MaxPendingEvents, with
// a warning the first time since the last good flush. The caller holds mu.
func (r *Recorder) capEvents() {
	over := len(r.pending.Events) - r.opts.MaxPendingEvents
	if over <= 0 {
		return
	}
	r.pending.Events = slices.Delete(r.pending.Events, 0, over)
	if !r.dropped {
		r.dropped = true
		r.logger.Warn("store unavailable; dropping the oldest history events",
			"kept", r.opts.MaxPendingEvents)
	}
}

// states returns the last state of every server, sorted by name.
func (r *Recorder) states() []ServerState {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]ServerState, 0, len(r.histories))
	for _, name := range slices.Sorted(maps.Keys(r.histories)) {
		out = append(out, r.histories[name].last)
	}
	return out
}
