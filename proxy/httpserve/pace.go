package httpserve

import (
	"context"
	"log/slog"
	"time"

	"github.com/mcpmux/mcpmux/internal/clock"
)

// Pacing: a session that sends requests faster than they are answered is
// flooding: it keeps more than paceAbove waiting for answers, or has its
// requests refused for being past its bounds (too many in flight, see
// proxy/admit.go; an HTTP+SSE stream holding too many answers not yet
// read). Its requests are still served or refused at once, but its next
// requests are taken at a bounded rate: the rest wait, unread, on their
// connections, in the session's turn, costing mcpmux nothing and the
// flooding client its pace, so that one session's flood cannot crowd out
// the others' requests (the CPU of a small machine is what they share
// with their clients and upstreams). A session that is answered as fast
// as it asks is never slowed.
//
// The pace is a generic cell rate (GCRA): each such request books
// paceEvery of the session's time; once paceBurst are booked ahead of
// now, the session's next request waits for the excess to pass.
const (
	// paceAbove is how many requests a session may have waiting for
	// answers before it is paced.
	paceAbove = 64
	// paceEvery is the time one booked request takes: a flooding session
	// has at most one message a paceEvery taken, whatever its number of
	// connections.
	paceEvery = 5 * time.Millisecond
	// paceBurst is how many booked requests in a row pass without delay:
	// a client that sends a burst past a bound has its answers at once,
	// and is slowed only if it keeps on.
	paceBurst = 64
)

// pacer holds a session's booked requests. It is used under the
// session's turn.
type pacer struct {
	clk     clock.Clock
	logger  *slog.Logger
	session string    // its id, for the log
	tat     time.Time // when the requests booked so far are paid off
	told    bool      // the log says the session is paced
}

// delay returns how long the next message must wait; 0 or less for none.
func (p *pacer) delay() time.Duration {
	if p.tat.IsZero() {
		return 0
	}
	return p.tat.Sub(clock.Or(p.clk).Now()) - (paceBurst-1)*paceEvery
}

// wait waits until the session may have its next message taken. It
// reports false if ctx ended first: the client gave up on the message.
func (p *pacer) wait(ctx context.Context) bool {
	d := p.delay()
	if d <= 0 {
		return true
	}
	if !p.told {
		p.told = true
		p.logger.Warn("pacing a session that sends requests faster than they are answered: it has its next requests taken one every "+paceEvery.String(), "session", p.session)
	}
	t, fired := clock.Or(p.clk).NewTimer(d)
	defer t.Stop()
	select {
	case <-fired:
		return true
	case <-ctx.Done():
		return false
	}
}

// book books one request.
func (p *pacer) book() {
	if now := clock.Or(p.clk).Now(); p.tat.Before(now) {
		p.tat = now
	}
	p.tat = p.tat.Add(paceEvery)
}
