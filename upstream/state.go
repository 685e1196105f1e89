package upstream

import "time"

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
	// Restarts counts the connections made after the first.
	Restarts int `json:"restarts"`
	// NextRetry is when the next attempt is due, in StateBackoff.
	NextRetry time.Time `json:"nextRetry,omitzero"`
}

// setState applies change to the status under the lock, wakes everyone
// waiting for a change, and reports the new status.
func (s *Supervisor) setState(change func(*Status)) {
	s.mu.Lock()
	prev := s.status.State
	change(&s.status)
	if s.status.State != prev {
		s.status.Since = time.Now()
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

// ready publishes c as the live connection.
func (s *Supervisor) ready(c *conn) {
	prev := s.Status()
	s.setState(func(st *Status) {
		st.State = StateReady
		st.Attempt = 0
		st.NextRetry = time.Time{}
		if !prev.Since.IsZero() && (prev.Restarts > 0 || prev.LastError != "") {
			st.Restarts++
		}
	})
	s.mu.Lock()
	s.conn = c
	s.mu.Unlock()
	if prev.Attempt > 0 {
		s.logger.Info("upstream recovered", "failed_attempts", prev.Attempt)
	} else {
		s.logger.Info("upstream ready")
	}
}

// fail records a failed attempt or a lost connection and returns how many
// failures there have been in a row.
func (s *Supervisor) fail(err error) int {
	var attempt int
	s.setState(func(st *Status) {
		st.Attempt++
		attempt = st.Attempt
		if err != nil {
			st.LastError = err.Error()
		}
	})
	return attempt
}

// backOff enters StateBackoff until wait has passed, and logs the failure:
// the first few in a row each, then only at powers of two, so that a
// crash-looping upstream does not flood the log.
func (s *Supervisor) backOff(wait time.Duration, attempt int, err error) {
	s.setState(func(st *Status) {
		st.State = StateBackoff
		st.NextRetry = time.Now().Add(wait)
	})
	if attempt <= 3 || attempt&(attempt-1) == 0 {
		s.logger.Warn("upstream unavailable", "err", err, "attempt", attempt, "retry_in", wait.Round(time.Millisecond))
	} else {
		s.logger.Debug("upstream unavailable", "err", err, "attempt", attempt, "retry_in", wait.Round(time.Millisecond))
	}
}

// giveUp enters StateStopped for good after maxAttempts failures.
func (s *Supervisor) giveUp(err error, attempts int) {
	s.setState(func(st *Status) { st.State = StateStopped; st.NextRetry = time.Time{} })
	s.logger.Error("upstream failed too often; giving up", "err", err, "attempts", attempts)
}
