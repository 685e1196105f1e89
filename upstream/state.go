package upstream

import (
	"github.com/mcpmux/mcpmux/upstream/oauth"

	"context"
	"log/slog"
	"time"
)

// State is where a Supervisor is in its cycle.
type State int

const (
	// StateStarting: the upstream is being started and initialised.
	StateStarting State = iota
	// StateReady: the upstream is connected and serving requests.
	StateReady
	// StateBackoff: the last attempt failed; the next is due at NextRetry.
	StateBackoff
	// StateStopped: mcpmux is shutting down, or gave up after
	// backoff.maxAttempts failures in a row.
	StateStopped
	// StateIdle: a lazy upstream that is not running until its next use.
	StateIdle
)

func (s State) String() string {
	switch s {
	case StateStarting:
		return "starting"
	case StateReady:
		return "ready"
	case StateBackoff:
		return "backoff"
	case StateStopped:
		return "stopped"
	case StateIdle:
		return "idle"
	}
	return "unknown"
}

// MarshalText writes the state as its name, for JSON status output.
func (s State) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// Status is a snapshot of one Supervisor.
type Status struct {
	Server string `json:"server"`
	State  State  `json:"state"`
	// Since is when State was entered.
	Since time.Time `json:"since"`
	// LastError is why the last connection or attempt failed, if it did.
	LastError string `json:"lastError,omitempty"`
	// Attempt counts the failed attempts in a row; 0 while healthy.
	Attempt int `json:"attempt,omitempty"`
	// Restarts counts the connections made after a connection was lost or
	// an attempt failed. Starting a lazy upstream again after an idle stop
	// is not a restart.
	Restarts int `json:"restarts"`
	// NextRetry is when the next attempt is due, in StateBackoff.
	NextRetry time.Time `json:"nextRetry,omitzero"`
	// PID is the process id of the upstream's live child; 0 when none.
	PID int `json:"pid,omitempty"`
	// Login is the OAuth login of a remote upstream that has one or needs
	// one, as [Supervisor.Status] reads it; never a token. Nil otherwise.
	Login *oauth.Status `json:"login,omitempty"`
	// Queued counts the requests waiting for a slot of the server's
	// "maxConcurrency"; 0 without one.
	Queued int `json:"queued,omitempty"`
}

// setState applies change to the status under the lock, wakes everyone
// waiting for a change, and reports the new status. Only the Run goroutine
// changes the state, so OnState sees the changes in order.
func (s *Supervisor) setState(change func(*Status)) {
	s.mu.Lock()
	prev := s.status.State
	change(&s.status)
	if s.status.State != prev {
		s.status.Since = s.clock.Now()
	}
	if s.status.State != StateReady {
		s.conn = nil
	}
	st := s.status
	close(s.changed)
	s.changed = make(chan struct{})
	s.mu.Unlock()
	if s.opts.OnState != nil {
		s.opts.OnState(st)
	}
}

// setPID records the live child's pid (0 for none). It is not a change of
// state, so nobody is woken or told.
func (s *Supervisor) setPID(pid int) {
	s.mu.Lock()
	s.status.PID = pid
	s.mu.Unlock()
}

// starting enters StateStarting for a new attempt. A wake-up still pending
// is answered by this attempt, so it is dropped: it must not cut the next
// backoff short.
func (s *Supervisor) starting() {
	s.setState(func(st *Status) {
		st.State = StateStarting
		st.NextRetry = time.Time{}
		select {
		case <-s.wake:
		default:
		}
	})
}

// ready publishes c as the live connection. A restart is a connection
// that follows a lost one or a failed attempt.
func (s *Supervisor) ready(c *conn, restart bool) {
	var failed int
	s.setState(func(st *Status) {
		failed = st.Attempt
		st.State = StateReady
		st.Attempt = 0
		st.NextRetry = time.Time{}
		if restart {
			st.Restarts++
		}
		s.conn = c
		s.lastErr = nil
	})
	if failed > 0 {
		s.logger.Info("upstream recovered", "failed_attempts", failed)
	} else {
		s.logger.Info("upstream ready")
	}
}

// backOff records a failed attempt or a lost connection and enters
// StateBackoff until wait has passed. The failure is logged: the first few
// in a row each, then only at powers of two, so that a crash-looping
// upstream does not flood the log.
func (s *Supervisor) backOff(err error, attempt int, wait time.Duration) {
	s.setState(func(st *Status) {
		st.State = StateBackoff
		st.Attempt = attempt
		st.LastError = err.Error()
		st.NextRetry = s.clock.Now().Add(wait)
		s.lastErr = err
	})
	level := slog.LevelDebug
	if attempt <= 3 || attempt&(attempt-1) == 0 {
		level = slog.LevelWarn
	}
	s.logger.Log(context.Background(), level, "upstream unavailable", "err", err, "attempt", attempt, "retry_in", wait.Round(time.Millisecond))
}

// giveUp enters StateStopped for good after maxAttempts failures.
func (s *Supervisor) giveUp(err error, attempt int) {
	s.setState(func(st *Status) {
		st.State = StateStopped
		st.Attempt = attempt
		st.LastError = err.Error()
		st.NextRetry = time.Time{}
	})
	s.logger.Error("upstream failed too often; giving up", "err", err, "attempts", attempt)
}

// refused enters StateStopped for good: the upstream, an mcpmux itself,
// refused to serve, and would refuse again.
func (s *Supervisor) refused(reason string) {
	s.setState(func(st *Status) {
		st.State = StateStopped
		st.Attempt = 1 // failed, for good: nobody waits for it
		st.LastError = reason
		st.NextRetry = time.Time{}
	})
	s.logger.Error("upstream refused to serve; not retrying", "err", reason)
}

// stopSignalGrace: a child ended by a signal to stop, SIGTERM say, this
// shortly before mcpmux itself stops was stopped with mcpmux (a host that
// ends mcpmux's whole process tree signals every process in it at once).
// A variable so that tests can widen it.
var stopSignalGrace = 2 * time.Second

// stopped enters StateStopped when Run returns. A stop is not a failure:
// if the last connection ended by a signal to stop just before, that was
// part of the same stop, and it is not the last error.
func (s *Supervisor) stopped() {
	part := !s.signalled.IsZero() && s.clock.Now().Sub(s.signalled) < stopSignalGrace
	s.setState(func(st *Status) {
		if part && st.State != StateReady && st.Attempt <= 1 {
			st.LastError, st.Attempt = "", 0
		}
		st.State = StateStopped
		st.NextRetry = time.Time{}
	})
}
