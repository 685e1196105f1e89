// Package clock lets code that waits take its time from a field that tests
// can replace, after tailscale's tstime.Clock. The zero [Real] is the
// system clock; code under test usually keeps it and runs inside a
// testing/synctest bubble, whose fake time the real clock follows.
package clock

import "time"

// Clock tells the time and makes timers.
type Clock interface {
	Now() time.Time
	// NewTimer returns a timer that fires once, after d, on its channel.
	NewTimer(d time.Duration) (Timer, <-chan time.Time)
}

// Timer is a timer made by a Clock.
type Timer interface {
	// Stop prevents the timer from firing, and reports whether it did.
	Stop() bool
}

// Real is the system clock.
type Real struct{}

var _ Clock = Real{}

func (Real) Now() time.Time { return time.Now() }

func (Real) NewTimer(d time.Duration) (Timer, <-chan time.Time) {
	t := time.NewTimer(d)
	return t, t.C
}

// Or returns c, or Real if c is nil.
func Or(c Clock) Clock {
	if c == nil {
		return Real{}
	}
	return c
}
