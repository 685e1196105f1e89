package statuspage

import (
	"context"
	"errors"
	"slices"
	"sync"
	"time"

	"github.com/mcpmux/mcpmux/internal/jsonrpc"
)

// RecentCalls is how many of the last calls the page lists.
const RecentCalls = 100

// latencies is how many of each upstream's last calls its p95 is taken
// over.
const latencies = 512

// The outcomes of a call.
const (
	OutcomeOK        = "ok"
	OutcomeError     = "error"
	OutcomeTimeout   = "timeout"
	OutcomeCancelled = "cancelled"
)

// Call is one tools/call as the page lists it: never its arguments nor
// its result.
type Call struct {
	At      time.Time `json:"at"`
	Server  string    `json:"server"`
	Tool    string    `json:"tool"` // the upstream's own name for it
	Millis  float64   `json:"ms"`
	Outcome string    `json:"outcome"`
}

// Stats are one upstream's calls since mcpmux started.
type Stats struct {
	Calls  int64 `json:"calls"`
	Errors int64 `json:"errors"` // every outcome but ok
	// P95Millis is the 95th percentile of the last calls' durations; 0
	// before the first call.
	P95Millis float64 `json:"p95ms"`
}

// Calls keeps the last RecentCalls calls and each upstream's counts and
// latencies. Record is cheap and never blocks on a reader for long; the
// zero value is ready. Its memory is bounded: servers come from the
// configuration and tool names from the catalogues (the proxy's hook
// names a call's route, never what a client sent).
type Calls struct {
	mu     sync.Mutex
	recent [RecentCalls]Call // a ring; next is where the next goes
	next   int
	total  int
	per    map[string]*serverCalls
	now    func() time.Time // nil: time.Now
}

// serverCalls are one upstream's counts and last latencies.
type serverCalls struct {
	calls, errors int64
	took          [latencies]time.Duration // a ring
	n             int                      // calls recorded in took, at most latencies
	next          int
}

// Record counts one tools/call to server's tool that took took and ended
// with err (nil: ok). It has the signature of proxy.Options.OnCall.
func (c *Calls) Record(server, tool string, took time.Duration, err error) {
	c.RecordOutcome(server, tool, took, Outcome(err))
}

// RecordOutcome counts one call with its outcome (one of the Outcome
// constants).
func (c *Calls) RecordOutcome(server, tool string, took time.Duration, outcome string) {
	now := time.Now
	if c.now != nil {
		now = c.now
	}
	at := now()
	c.mu.Lock()
	defer c.mu.Unlock()
	c.recent[c.next] = Call{At: at, Server: server, Tool: tool, Millis: millis(took), Outcome: outcome}
	c.next = (c.next + 1) % RecentCalls
	c.total++
	if c.per == nil {
		c.per = map[string]*serverCalls{}
	}
	sc := c.per[server]
	if sc == nil {
		sc = &serverCalls{}
		c.per[server] = sc
	}
	sc.calls++
	if outcome != OutcomeOK {
		sc.errors++
	}
	sc.took[sc.next] = took
	sc.next = (sc.next + 1) % latencies
	sc.n = min(sc.n+1, latencies)
}

// Outcome classifies the error a call ended with: nil is ok, mcpmux's
// timeout is timeout, a cancelled context is cancelled, and anything else
// (the upstream's error, a lost connection) is error.
func Outcome(err error) string {
	switch {
	case err == nil:
		return OutcomeOK
	case timedOut(err):
		return OutcomeTimeout
	case errors.Is(err, context.Canceled):
		return OutcomeCancelled
	}
	return OutcomeError
}

// timedOut reports whether err is mcpmux's timeout of a request. (Apart
// from Outcome, so that an ok call allocates nothing for errors.As.)
func timedOut(err error) bool {
	var je *jsonrpc.Error
	return (errors.As(err, &je) && je.Code == jsonrpc.CodeUpstreamTimeout) || errors.Is(err, context.DeadlineExceeded)
}

// Recent returns the last calls, newest first.
func (c *Calls) Recent() []Call {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := min(c.total, RecentCalls)
	out := make([]Call, 0, n)
	for i := 1; i <= n; i++ {
		out = append(out, c.recent[(c.next-i+RecentCalls)%RecentCalls])
	}
	return out
}

// Stats returns each upstream's counts, by server name.
func (c *Calls) Stats() map[string]Stats {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make(map[string]Stats, len(c.per))
	for name, sc := range c.per {
		out[name] = Stats{Calls: sc.calls, Errors: sc.errors, P95Millis: millis(p95(sc.took[:sc.n]))}
	}
	return out
}

// Forget drops what is kept of server's calls: it was removed.
func (c *Calls) Forget(server string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.per, server)
}

// p95 returns the 95th percentile of took (nearest rank); 0 for none.
func p95(took []time.Duration) time.Duration {
	if len(took) == 0 {
		return 0
	}
	s := slices.Clone(took)
	slices.Sort(s)
	rank := (95*len(s) + 99) / 100 // ceil(0.95 n), 1-based
	return s[rank-1]
}

// millis returns d in milliseconds, to the microsecond.
func millis(d time.Duration) float64 {
	return float64(d.Microseconds()) / 1000
}
