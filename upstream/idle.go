package upstream

import (
	"context"
	"time"

	"github.com/mcpmux/mcpmux/internal/clock"
)

// A lazy upstream runs only while it is used: Run waits in StateIdle until
// a Request wakes it, and watch stops a connection that has served no
// request for the idle timeout. Requests are counted in flight from the
// start of Request to its end, so that a connection is never stopped
// under a request that is using it.

// using marks a request as in flight until the returned func is called.
func (s *Supervisor) using() (done func()) {
	s.inflight.Add(1)
	s.touch()
	return func() {
		s.touch()
		s.inflight.Add(-1)
	}
}

func (s *Supervisor) touch() { s.lastUse.Store(s.clock.Now().UnixNano()) }

func (s *Supervisor) idleAfter() time.Duration {
	return orDefault(s.opts.IdleTimeout, s.srv.IdleAfter())
}

// idle enters StateIdle and waits until a request wants the upstream. It
// reports false if ctx ended first.
func (s *Supervisor) idle(ctx context.Context) bool {
	if s.Status().State != StateIdle {
		s.setState(func(st *Status) { st.State = StateIdle; st.NextRetry = time.Time{} })
	}
	select {
	case <-ctx.Done():
		return false
	case <-s.wake:
		s.logger.Info("starting upstream on use")
		return true
	}
}

// idleTimer returns a timer that fires when the connection made at readyAt
// may have fallen idle. It never fires for an upstream that is not lazy.
func (s *Supervisor) idleTimer(readyAt time.Time) (clock.Timer, <-chan time.Time) {
	t, fired := s.clock.NewTimer(s.idleLeft(readyAt))
	if !s.opts.Lazy {
		t.Stop()
	}
	return t, fired
}

// idleLeft returns how long until the connection made at readyAt counts as
// idle: the idle timeout after the later of readyAt and the last use. A
// request in flight keeps it busy for another full timeout at least.
func (s *Supervisor) idleLeft(readyAt time.Time) time.Duration {
	after := s.idleAfter()
	if s.inflight.Load() > 0 {
		return after
	}
	last := time.Unix(0, s.lastUse.Load())
	if last.Before(readyAt) {
		last = readyAt
	}
	return after - s.clock.Now().Sub(last)
}

// releaseIdle takes the live connection out of service if it is idle, and
// reports whether it did. It holds the lock awaitReady reads the
// connection under, so that a request either finds no connection or is
// counted in flight here.
func (s *Supervisor) releaseIdle(readyAt time.Time) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.idleLeft(readyAt) > 0 {
		return false
	}
	s.conn = nil
	return true
}
