package upstream

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"

	"github.com/mcpmux/mcpmux/internal/jsonrpc"
)

// Start sends one request to the upstream, as Request does, but without
// waiting for its answer: done receives the raw result or the error, once,
// on the goroutine that reads the upstream's answers (or, if the request
// fails before it is sent, on another), so it must not block for long.
// cancel stops waiting, tells the upstream the request is cancelled and
// calls done with reason, unless done has been called already.
//
// Start reports false, having sent nothing, when the request would have to
// wait: the upstream is not connected, its transport is not stdio, or its
// stdin is busy with another message. Use Request then. A caller that
// sends its requests with Start spares each a goroutine and two hand-offs
// between goroutines.
func (s *Supervisor) Start(method string, params json.RawMessage, done func(json.RawMessage, error)) (cancel func(reason error), ok bool) {
	s.mu.Lock()
	st, c := s.status.State, s.conn
	s.mu.Unlock()
	if st != StateReady || c == nil || c.dead() {
		return nil, false
	}
	finish := s.using()
	cancel, ok = c.startRequest(method, params, func(res json.RawMessage, err error) {
		finish()
		var cancelled cancelledError
		if errors.As(err, &cancelled) {
			done(nil, cancelled.reason)
			return
		}
		done(res, s.explain(context.Background(), err))
	})
	if !ok {
		finish()
	}
	return cancel, ok
}

// cancelledError carries the reason a request sent with start was
// cancelled by its caller, which gets it back as it gave it.
type cancelledError struct{ reason error }

func (e cancelledError) Error() string { return e.reason.Error() }

// startRequest sends one request without waiting for its answer (see
// Supervisor.Start); only over stdio.
func (c *conn) startRequest(method string, params json.RawMessage, done func(json.RawMessage, error)) (cancel func(error), ok bool) {
	tr, ok := c.tr.(*stdioTransport)
	if !ok {
		return nil, false
	}
	id := "mx-" + strconv.FormatInt(c.nextID.Add(1), 10)
	answered := func(resp *jsonrpc.Message, err error) {
		switch {
		case err != nil:
			// The request failed before its answer came: the connection is
			// dead, or its write failed; failed may wait for the death's
			// explanation, so not on the caller's goroutine.
			go func() { done(nil, c.failed(context.Background(), err)) }()
		case resp.Error != nil:
			done(nil, resp.Error)
		case resp.Result == nil:
			done(nil, fmt.Errorf("upstream answered %s with neither result nor error", method))
		default:
			done(resp.Result, nil)
		}
	}
	if len(params) == 0 {
		params = nil
	}
	if !tr.startTrip(newWireRequest(id, method, params), answered) {
		return nil, false
	}
	return func(reason error) {
		if tr.forget(id) {
			c.cancel(id, method, reason)
			done(nil, cancelledError{reason})
		}
	}, true
}
