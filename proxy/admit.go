package proxy

import (
	"encoding/json"
	"strconv"

	"github.com/mcpmux/mcpmux/internal/jsonrpc"
)

// Admission: every request of the client's is registered in
// session.inflight until it is answered, and a request that would take
// the session past its bounds is refused at once, on the goroutine that
// read it, with an error (CodeBusy) that says which bound: it costs no
// goroutine and reaches no upstream, so that memory stays bounded however
// fast a client sends. The bounds:
//
//   - the session's budget: Options.MaxInFlight, or, with
//     Options.MaxInFlightTotal, the session's equal share of it among the
//     open sessions if that is smaller, so that every session has room of
//     its own whatever the others do;
//   - one upstream may hold three quarters of the budget, so that the
//     other upstreams stay reachable while one hangs;
//   - the requests of every session together: Options.MaxInFlightTotal.
//
// ping is answered on the reading goroutine and never counts.

// upstreamShare is how many of a session's budget of requests in flight
// may wait on one upstream.
func upstreamShare(budget int) int { return budget - budget/4 }

// budget returns how many requests the session may have in flight.
func (sess *session) budget() int {
	o := &sess.srv.opts
	b := o.maxInFlight()
	if o.MaxInFlightTotal > 0 {
		if share := o.MaxInFlightTotal / max(int(sess.srv.sessionCount.Load()), 1); share < b {
			b = max(share, 1)
		}
	}
	return b
}

// addInflight registers request c among those in flight, so that the
// client can cancel it. It returns the error to answer the request with
// instead if its id is in use by another (ids must be unique among them,
// or a cancellation could not tell which is meant), or if it would take
// the session past its bounds.
func (sess *session) addInflight(c *call) *jsonrpc.Error {
	sess.mu.Lock()
	if sess.inflight[string(c.id)] != nil {
		sess.mu.Unlock()
		return jsonrpc.Errorf(jsonrpc.CodeInvalidRequest, "invalid request: id %s is already in use by a request in flight", c.id)
	}
	err := sess.admit(c.server)
	if err == nil {
		sess.inflight[string(c.id)] = c
		if c.server != "" {
			sess.perServer[c.server]++
		}
		sess.mu.Unlock()
		return nil
	}
	sess.refused++
	n := sess.refused
	sess.mu.Unlock()
	if isPowerOf10(n) {
		sess.srv.logger.Warn("refusing requests: too many in flight", "session", sess.id, "refused", n, "err", err.Message)
	}
	return err
}

// admit returns the error that refuses one more request (to server, ""
// if not known yet), or nil. sess.mu is held.
func (sess *session) admit(server string) *jsonrpc.Error {
	budget := sess.budget()
	if n := len(sess.inflight); n >= budget {
		return jsonrpc.Errorf(jsonrpc.CodeBusy, "too many requests in flight: this session has %d waiting for answers, the most it may (maxInFlight %d%s); wait for some to be answered",
			n, sess.srv.opts.maxInFlight(), sharedNote(budget, sess.srv.opts.maxInFlight()))
	}
	if server != "" {
		if n, share := sess.perServer[server], upstreamShare(budget); n >= share {
			return jsonrpc.Errorf(jsonrpc.CodeBusy, "too many requests in flight to upstream %q: this session has %d waiting on it, the most one upstream may hold (3/4 of maxInFlight, so that the others stay reachable); wait for some to be answered",
				server, n)
		}
	}
	if max := sess.srv.opts.MaxInFlightTotal; max > 0 {
		if sess.srv.inflight.Add(1) > int64(max) {
			sess.srv.inflight.Add(-1)
			return jsonrpc.Errorf(jsonrpc.CodeBusy, "too many requests in flight: the sessions of this mcpmux have %d waiting for answers, the most they may (maxInFlightTotal); try again shortly", max)
		}
	}
	return nil
}

// sharedNote explains a budget smaller than maxInFlight: the session's
// share of maxInFlightTotal.
func sharedNote(budget, maxInFlight int) string {
	if budget >= maxInFlight {
		return ""
	}
	return "; its share of maxInFlightTotal among the open sessions is " + strconv.Itoa(budget)
}

// released forgets request c, which was in flight. sess.mu is held.
func (sess *session) released(c *call) {
	if c.server != "" {
		if sess.perServer[c.server]--; sess.perServer[c.server] <= 0 {
			delete(sess.perServer, c.server)
		}
	}
	if sess.srv.opts.MaxInFlightTotal > 0 {
		sess.srv.inflight.Add(-1)
	}
}

// pong answers a ping at once: it needs no upstream and no goroutine, so
// it is answered even while the session is as busy as it may be.
func (sess *session) pong(id json.RawMessage) {
	sess.deliver(id, true, jsonrpc.AppendResult(nil, id, json.RawMessage("{}")))
}

// isPowerOf10 reports whether n is 1, 10, 100, ...: the refusals that are
// logged.
func isPowerOf10(n int) bool {
	for n >= 10 && n%10 == 0 {
		n /= 10
	}
	return n == 1
}
