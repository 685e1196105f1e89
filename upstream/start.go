package upstream

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"

	"github.com/mcpmux/mcpmux/internal/jsonrpc"
)

// Receiver receives the outcome of a request sent with [Supervisor.Start]:
// the raw result, or the error, once.
type Receiver interface {
	Receive(result json.RawMessage, err error)
}

// Start sends one request to the upstream, as Request does, but without
// waiting for its answer: r receives the raw result or the error, once,
// on the goroutine that reads the upstream's answers (or, if the request
// fails before it is sent, on another), so it must not block for long.
// cancel stops waiting, tells the upstream the request is cancelled, and
// gives r reason as the error, unless r has had its answer already.
//
// Start reports false, having sent nothing, when the request would have to
// wait: the upstream is not connected, its transport is not stdio, its
// stdin is busy with another message, or its "maxConcurrency" is reached. Use Request then. A caller that
// sends its requests with Start spares each a goroutine and two hand-offs
// between goroutines.
func (s *Supervisor) Start(method string, params json.RawMessage, r Receiver) (cancel func(reason error), ok bool) {
	s.mu.Lock()
	st, c := s.status.State, s.conn
	s.mu.Unlock()
	if st != StateReady || c == nil || c.dead() {
		return nil, false
	}
	tr, ok := c.tr.(*stdioTransport)
	if !ok {
		return nil, false
	}
	if !s.gate.tryAcquire() {
		return nil, false // it must queue: Request does
	}
	if len(params) == 0 {
		params = nil
	}
	a := &asyncRequest{s: s, c: c, tr: tr, r: r}
	a.req.id = "mx-" + strconv.FormatInt(c.nextID.Add(1), 10)
	a.req.method = method
	a.req.line = wireLine(a.req.id, method, params)
	s.inflight.Add(1)
	s.touch()
	if !tr.startTrip(&a.req, a) {
		s.inflight.Add(-1)
		s.gate.release()
		return nil, false
	}
	return a.cancel, true
}

// asyncRequest is one request sent with Start.
type asyncRequest struct {
	s   *Supervisor
	c   *conn
	tr  *stdioTransport
	r   Receiver
	req wireRequest
}

// answered receives the upstream's response, or the transport's error.
func (a *asyncRequest) answered(resp *jsonrpc.Message, err error) {
	switch {
	case err != nil:
		// The request failed before its answer came: the connection is
		// dead, or its write failed; failed may wait for the death's
		// explanation, so not on the caller's goroutine.
		go func() { a.finish(nil, a.c.failed(context.Background(), err)) }()
	case resp.Error != nil:
		a.finish(nil, resp.Error)
	case resp.Result == nil:
		a.finish(nil, fmt.Errorf("upstream answered %s with neither result nor error", a.req.method))
	default:
		a.finish(resp.Result, nil)
	}
}

// writeFailed fails the request whose write failed, unless it has been
// answered.
func (a *asyncRequest) writeFailed(err error) {
	if a.tr.forget(a.req.id) {
		a.answered(nil, err)
	}
}

// cancel ends the request for reason, unless it has been answered.
func (a *asyncRequest) cancel(reason error) {
	if a.tr.forget(a.req.id) {
		a.c.cancel(a.req.id, a.req.method, reason)
		a.s.touch()
		a.s.inflight.Add(-1)
		a.s.gate.release()
		a.r.Receive(nil, reason)
	}
}

func (a *asyncRequest) finish(res json.RawMessage, err error) {
	a.s.touch()
	a.s.inflight.Add(-1)
	a.s.gate.release()
	a.r.Receive(res, a.s.explain(context.Background(), err))
}
