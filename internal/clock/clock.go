// Package clock lets code that waits take its time from a field that tests
// can replace, after tailscale's tstime.Clock. The zero [Real] is the
// system clock; code under test usually keeps it and runs inside a
// testing/synctest bubble, whose fake time the real clock follows.
//
// Every wait of mcpmux that tests need to control goes through a Clock:
// the proxy's waits for the first lists and its list-changed debounce
// (proxy.Options.Clock), an upstream's backoff, health checks and idle
// stop (upstream.Options.Clock), the remote transports' reconnections,
// the store's child and the keeper's grace periods.
package clock

import "time"

// Clock tells the time and makes timers. Its methods are safe for
// concurrent use.
type Clock interface {
	Now() time.Time
	// NewTimer returns a timer that fires once, after d, on its channel.
	NewTimer(d time.Duration) (Timer, <-chan time.Time)
	// NewTicker returns a ticker that fires every d on its channel, as
	// time.NewTicker does.
	NewTicker(d time.Duration) (Ticker, <-chan time.Time)
	// AfterFunc calls f on a goroutine of its own once d has passed,
	// unless the timer is stopped first.
	AfterFunc(d time.Duration, f func()) Timer
}

// Timer is a timer made by a Clock.
type Timer interface {
	// Stop prevents the timer from firing, and reports whether it did.
	Stop() bool
	// Reset makes the timer fire after d, as time.Timer.Reset does.
	Reset(d time.Duration) bool
}

// Ticker is a ticker made by a Clock.
type Ticker interface {
	// Stop turns the ticker off.
	Stop()
}

// Real is the system clock.
type Real struct{}

var _ Clock = Real{}

func (Real) Now() time.Time { return time.Now() }

func (Real) NewTimer(d time.Duration) (Timer, <-chan time.Time) {
	t := time.NewTimer(d)
	return t, t.C
}

func (Real) NewTicker(d time.Duration) (Ticker, <-chan time.Time) {
	t := time.NewTicker(d)
	return t, t.C
}

func (Real) AfterFunc(d time.Duration, f func()) Timer { return time.AfterFunc(d, f) }

// Or returns c, or Real if c is nil.
func Or(c Clock) Clock {
	if c == nil {
		return Real{}
	}
	return c
}
