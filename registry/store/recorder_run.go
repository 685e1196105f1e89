package store

import (
	"context"
	"errors"
	"time"
)

// Catalogues that arrive are written once none has arrived for
// catalogueQuiet, and catalogueMaxWait after the first at the latest:
// upstreams that start together deliver theirs within moments of each
// other, and one write for all, after the client's first list, keeps the
// store's opening from competing with their start-up for the CPU.
const (
	catalogueQuiet   = 100 * time.Millisecond
	catalogueMaxWait = time.Second
)

// Run writes the recorder's heartbeat and what it holds every
// FlushInterval, the heartbeat alone at once when a state changes, and
// what it holds soon after catalogues arrive (see catalogueQuiet), until
// ctx is done; then it flushes a last time, within FinalWait (see
// flushLast), removes its live file and returns the last flush's error.
// Failures are logged, once until a flush succeeds again (the last
// flush's too). Cancel ctx only once nothing is left to record (the
// supervisors have stopped), so that their last events are kept. The
// last write to the store may go on after Run returns: see Wait.
func (r *Recorder) Run(ctx context.Context) error {
	r.start()
	t := time.NewTicker(r.opts.FlushInterval)
	defer t.Stop()
	quiet := time.NewTimer(0)
	defer quiet.Stop()
	<-quiet.C
	var firstSaved time.Time // of the catalogues not written yet; zero if none
	for {
		select {
		case <-ctx.Done():
			return r.stop(context.WithoutCancel(ctx))
		case <-r.changed:
			r.beat()
		case <-r.saved:
			if firstSaved.IsZero() {
				firstSaved = time.Now()
			}
			quiet.Reset(min(catalogueQuiet, max(catalogueMaxWait-time.Since(firstSaved), 0)))
		case <-quiet.C:
			firstSaved = time.Time{}
			// Best effort: what is not written now, the next flush
			// writes, and reports if it fails too.
			if err := r.Flush(ctx); err != nil {
				r.logger.Debug("writing new catalogues; keeping them for the next flush", "err", err)
			}
		case <-t.C:
			r.beat()
			if err := r.Flush(ctx); ctx.Err() == nil {
				r.logFlush(err)
			} // else cut short by the stop, whose last flush reports
		}
	}
}

// start writes the first heartbeat, clears away the live files of
// instances that are gone, and warns if another mcpmux is running on the
// same data directory.
func (r *Recorder) start() {
	r.beat()
	insts, err := Instances(r.dataDir)
	if err != nil {
		r.logger.Warn("reading live state of other instances", "err", err)
	}
	now := r.now()
	var others []int
	for _, inst := range insts {
		switch {
		case inst.PID == r.self.PID:
		case inst.Running(now):
			others = append(others, inst.PID)
		default:
			_ = removeInstance(r.dataDir, inst.PID)
		}
	}
	if len(others) > 0 {
		r.logger.Warn("data directory shared with another running mcpmux; both record to it in turn",
			"dir", r.dataDir, "other_pids", others)
	}
}

// stop flushes a last time, within FinalWait (or by FinishBy's time), and
// removes the live file.
func (r *Recorder) stop(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, r.finalWait())
	defer cancel()
	err := r.flushLast(ctx)
	r.logFlush(err)
	return errors.Join(err, removeInstance(r.dataDir, r.self.PID))
}

// Wait waits until every use of the store the recorder started has
// ended: the last write may go on after Run has returned. A process that
// exits need not wait: the write is in a child process that finishes it,
// and what it does not write is in a spill file.
func (r *Recorder) Wait() { r.store.Wait() }

// flushLast is the last flush, which ends with ctx: the snapshot, then
// what the recorder holds into a spill file, in this process, and a write
// to the store that takes the spill file in (see absorbSpills). If ctx
// ends first, the write goes on by itself, and what it does not write
// stays in the spill file, for the next write to take in. Another mcpmux
// holding the store, or a slow machine, loses nothing.
func (r *Recorder) flushLast(ctx context.Context) error {
	r.flushMu.Lock()
	defer r.flushMu.Unlock()
	b := r.take()
	if b.Empty() && len(spills(r.dataDir)) == 0 {
		return nil
	}
	spilled := ""
	if !b.Empty() {
		path, err := writeSpill(r.dataDir, &b, r.now())
		if err != nil {
			// Nowhere to spill to: the batch goes to the store directly,
			// and what the store does not take in time is lost.
			r.logger.Debug("spilling the last events", "err", err)
		} else {
			b, spilled = Batch{}, path
		}
	}
	if spilled != "" && ctx.Err() != nil {
		// No time left (see FinishBy): starting a child now would only
		// compete with the exit for the CPU. The next write takes it in.
		r.logger.Info("last events kept for the next start", "file", spilled)
		return nil
	}
	if spilled != "" && r.store.busy() && r.exiting() {
		// A write cut short by the stop is still on, and the bound is
		// shorter than a store use may wait for the lock: this one would
		// only wait for it. The next write takes the spill file in.
		r.logger.Info("last events kept for the next start", "file", spilled)
		return nil
	}
	_, err := r.store.write(ctx, &b, false)
	switch {
	case spilled != "" && (err != nil || ctx.Err() != nil):
		// Not a failure: nothing is lost.
		r.logger.Info("last events not written to the store in time; kept for the next start", "file", spilled, "err", err)
		return nil
	case ctx.Err() != nil:
		return nil // the write goes on by itself, and spills what it cannot write
	}
	return err
}

// beat rewrites the live file with the current states. A failure is
// logged at debug level only: the live file is a hint for `mcpmux status`,
// and the store keeps the states too.
func (r *Recorder) beat() {
	inst := r.self
	inst.Heartbeat = r.now()
	inst.Servers = r.states()
	if url := r.url.Load(); url != nil {
		inst.URL = *url
	}
	if err := writeInstance(r.dataDir, inst); err != nil {
		r.logger.Debug("writing heartbeat", "err", err)
	}
}

// exiting reports whether the recorder is one of a process that exits at
// once when Run's context ends: its last flush may not even wait out one
// lock wait (FinalWait < LockWait). Its flushes that the stop cuts short
// are left to finish on their own, and its last flush does not queue
// behind them.
func (r *Recorder) exiting() bool { return r.opts.FinalWait < r.opts.LockWait }

// Flush writes what the recorder holds to the store, in one batch. It
// waits for the store up to LockWait, or until ctx ends. If the store
// cannot be written, what was not written is kept for the next flush. If
// the recorder is exiting and ctx ends first, Flush returns at once, and
// the write goes on by itself, spilling what it cannot write (see
// spill.go).
func (r *Recorder) Flush(ctx context.Context) error {
	r.flushMu.Lock()
	defer r.flushMu.Unlock()
	b := r.take()
	// What stopped instances spilled is written with b (see
	// absorbSpills), even if b is empty.
	if b.Empty() && len(spills(r.dataDir)) == 0 {
		return nil
	}
	left, err := r.store.write(ctx, &b, !r.exiting())
	if left {
		return err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if b.Empty() {
		r.dropped = false
	} else {
		r.pending.requeue(&b)
		r.capEvents()
	}
	return err
}

// take takes what the recorder holds, and writes the catalogues new since
// the last snapshot to it first: it is what the next start reads, and
// takes no child process. The caller holds flushMu.
func (r *Recorder) take() Batch {
	r.snapMu.Lock()
	r.writeSnapshotLocked()
	r.snapMu.Unlock()
	r.mu.Lock()
	b := r.pending
	r.pending = Batch{}
	r.mu.Unlock()
	return b
}

// lockedWarnAfter is how many uses in a row may find the store held by
// another process before the recorder warns: about 10 s of flushes.
const lockedWarnAfter = 5

// logFlush logs the first of a run of failed flushes, and the recovery.
func (r *Recorder) logFlush(err error) {
	r.report("writing to the store; keeping the data for the next try", err)
}

// report logs a failed use of the store the first time in a run of
// failures, at debug level after that, and the recovery: a store that
// cannot be used at all (a bad data directory, say) costs one warning per
// run, not one per try. A store held by other processes is not a failure
// until lockedWarnAfter uses in a row have found it so.
func (r *Recorder) report(msg string, err error) {
	r.failMu.Lock()
	defer r.failMu.Unlock()
	if errors.Is(err, errBusy) {
		// The last use has not ended yet (a slow machine, or a child that
		// hangs and will be killed): this one is only put off.
		r.logger.Debug(msg, "dir", r.dataDir, "err", err)
		return
	}
	r.locked++
	if !errors.Is(err, ErrLocked) {
		r.locked = 0
	}
	if r.locked > 0 && r.locked < lockedWarnAfter {
		// Other instances (or status) hold the store: on a busy machine
		// they may for a while. Nothing is lost; the next flush tries again.
		r.logger.Debug(msg, "dir", r.dataDir, "err", err, "in_a_row", r.locked)
		return
	}
	switch {
	case err != nil && !r.failing:
		r.logger.Warn(msg, "dir", r.dataDir, "err", err)
	case err != nil:
		r.logger.Debug(msg, "dir", r.dataDir, "err", err)
	case r.failing:
		r.logger.Info("writing to the store recovered")
	}
	r.failing = err != nil
}
