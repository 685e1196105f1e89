package testutil

import (
	"bytes"
	"os"
	"testing"
	"time"
)

// WaitTimeout bounds every wait of this package's: a guard against a test
// that hangs, never a limit on how fast the code under test must be.
const WaitTimeout = 60 * time.Second

// WaitFor checks its condition at once, then after firstPoll, and at
// intervals that double up to maxPoll: a state that comes quickly is seen
// quickly, and a condition that costs something (a store read, a process
// listing) is not run a hundred times a second for a minute.
const (
	firstPoll = 5 * time.Millisecond
	maxPoll   = 100 * time.Millisecond
)

// WaitFor waits until cond holds, checking it now and then (at most every
// 100ms), and fails tb if it does not within WaitTimeout; what names what
// is awaited, for the failure. Inside a testing/synctest bubble it waits
// in the bubble's time.
func WaitFor(tb testing.TB, what string, cond func() bool) {
	tb.Helper()
	if !poll(WaitTimeout, cond) {
		tb.Fatalf("still waiting for %s after %s", what, WaitTimeout)
	}
}

// Await waits as WaitFor does, and reports whether cond came to hold, so
// that the caller can fail with what it last saw.
func Await(cond func() bool) bool { return poll(WaitTimeout, cond) }

// poll calls cond until it returns true or timeout passes, and returns
// its last answer.
func poll(timeout time.Duration, cond func() bool) bool {
	if cond() {
		return true
	}
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	interval := firstPoll
	next := time.NewTimer(interval)
	defer next.Stop()
	for {
		select {
		case <-next.C:
			if cond() {
				return true
			}
			interval = min(2*interval, maxPoll)
			next.Reset(interval)
		case <-deadline.C:
			return cond()
		}
	}
}

// CountInFile returns how often s occurs in the file at path, 0 if it
// cannot be read: in a log that a test server writes one message a line
// (its -log-file), how many lines hold s.
func CountInFile(path, s string) int {
	data, _ := os.ReadFile(path)
	return bytes.Count(data, []byte(s))
}

// TestServer returns a configuration entry ("command" and "args") that
// runs the test server (see TestServerPath) with args.
func TestServer(tb testing.TB, args ...string) map[string]any {
	tb.Helper()
	return map[string]any{"command": TestServerPath(tb), "args": args}
}

// CheckLeaks makes tb fail if it leaves child processes or goroutines
// behind (see CheckNoChildren and CheckNoGoroutineLeak). Call it first in
// a test, so that its cleanups run after those that stop things.
func CheckLeaks(tb testing.TB) {
	tb.Helper()
	CheckNoChildren(tb)
	CheckNoGoroutineLeak(tb)
}
