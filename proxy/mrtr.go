package proxy

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"strconv"
	"sync"
	"time"

	"github.com/mcpmux/mcpmux/internal/jsonrpc"
)

// Protocol revision 2026-07-28 has no requests from server to client.
// When a server needs the client (an elicitation, a sample, the roots) in
// the middle of a call, it answers the call with resultType
// "input_required", the requests it needs answered and an opaque
// requestState; the client answers them and sends the call again, under a
// new id, with inputResponses and the requestState (multi round-trip
// requests, MRTR).
//
// mcpmux's upstreams speak the handshake revisions and send such requests
// as requests. For a 2026-07-28 client, mcpmux bridges the two: a call
// that may need input (tools/call, prompts/get, resources/read) runs on
// as a flight of its own; a request its upstream sends meanwhile turns the
// client's call into an input_required answer, and the client's retry
// with the requestState answers the upstream's request and picks the
// flight up again, until the upstream answers the call itself.

var (
	errFlightAbandoned = errors.New("the client did not come back with the input the upstream asked for")
	// errNoCall: no call of the client to the upstream is running, which
	// for a 2026-07-28 client is the only way to reach it.
	errNoCall = errors.New("no call of the client is running that the request could be part of")
)

// flight is one call of a 2026-07-28 client to an upstream, which outlives
// the client's request when the upstream asks for input.
type flight struct {
	server string
	cancel context.CancelCauseFunc
	asks   chan *ask     // the upstream's requests for input, as they come
	done   chan struct{} // closed once the upstream has answered the call
	result json.RawMessage
	err    error // set before done closes

	mu      sync.Mutex
	open    map[string]*ask // asked of the client and not answered yet, by key
	abandon *time.Timer     // ends the flight if the client does not come back
}

// ask is one request of the upstream waiting for the client's input.
type ask struct {
	key    string
	method string
	params json.RawMessage
	answer chan askAnswer // buffered
}

type askAnswer struct {
	result json.RawMessage
	err    error
}

// flights are a session's flights: running by upstream, and waiting for
// the client's input by requestState.
type flights struct {
	mu      sync.Mutex
	running map[string][]*flight
	waiting map[string]*flight
	nextKey int
}

// forwardAsFlight runs a call of a 2026-07-28 client as a flight and waits
// for its answer, or for its first request for input.
func (sess *session) forwardAsFlight(ctx context.Context, e entry, method string, params json.RawMessage, p *params) (json.RawMessage, error) {
	fctx, cancel := context.WithCancelCause(withTrace(sess.life, traceFrom(ctx))) // outlives the request, in its trace
	f := &flight{server: e.server, cancel: cancel, asks: make(chan *ask), done: make(chan struct{}), open: map[string]*ask{}}
	fl := &sess.flights
	fl.mu.Lock()
	fl.running[e.server] = append(fl.running[e.server], f)
	fl.mu.Unlock()
	if !sess.calls.Go(func() {
		defer cancel(nil)
		f.result, f.err = sess.forward(fctx, e, method, params, p)
		fl.mu.Lock()
		fl.running[e.server] = deleted(fl.running[e.server], f)
		fl.mu.Unlock()
		close(f.done)
	}) {
		cancel(nil)
		return nil, jsonrpc.Errorf(jsonrpc.CodeUnavailable, "mcpmux is closing the session")
	}
	return sess.await(ctx, f)
}

// await waits for the flight's answer or its requests for input, while the
// client's request ctx lasts; if that ends first (the client cancelled),
// so does the flight.
func (sess *session) await(ctx context.Context, f *flight) (json.RawMessage, error) {
	select {
	case <-f.done:
		return f.result, f.err
	case a := <-f.asks:
		return sess.inputRequired(f, a), nil
	case <-ctx.Done():
		f.cancel(context.Cause(ctx))
		<-f.done
		return nil, context.Cause(ctx)
	}
}

// inputRequired turns the flight's requests for input (a, and any others
// already waiting) into an input_required result, and keeps the flight
// for the client's retry, for at most the upstream's request timeout.
func (sess *session) inputRequired(f *flight, a *ask) json.RawMessage {
	asks := []*ask{a}
	for more := true; more; {
		select {
		case next := <-f.asks:
			asks = append(asks, next)
		default:
			more = false
		}
	}
	state := newRequestState()
	requests := map[string]json.RawMessage{}
	f.mu.Lock()
	for _, a := range asks {
		f.open[a.key] = a
		req := map[string]json.RawMessage{"method": jsonrpc.Quote(a.method)}
		if !jsonrpc.IsNull(a.params) {
			req["params"] = a.params
		}
		requests[a.key], _ = json.Marshal(req)
	}
	// The timer is armed only once the flight is waiting: one that fired
	// first would find no flight to abandon, which would wait for ever.
	f.abandon = time.AfterFunc(time.Duration(1<<62), func() { sess.abandon(state, f) })
	f.mu.Unlock()
	fl := &sess.flights
	fl.mu.Lock()
	fl.waiting[state] = f
	fl.mu.Unlock()
	f.mu.Lock()
	f.abandon.Reset(sess.srv.requestTimeout(f.server))
	f.mu.Unlock()
	out, _ := json.Marshal(map[string]any{"resultType": "input_required", "inputRequests": requests, "requestState": state})
	return out
}

// resume picks up the flight that requestState names with the client's
// inputResponses, and waits for it again.
func (sess *session) resume(ctx context.Context, state string, params json.RawMessage) (json.RawMessage, error) {
	fl := &sess.flights
	fl.mu.Lock()
	f := fl.waiting[state]
	delete(fl.waiting, state)
	fl.mu.Unlock()
	if f == nil {
		return nil, jsonrpc.Errorf(jsonrpc.CodeInvalidParams, "requestState %q is unknown or has expired; send the request again without it", state)
	}
	var p struct {
		InputResponses map[string]json.RawMessage `json:"inputResponses"`
	}
	_ = json.Unmarshal(params, &p)
	for key, a := range f.takeOpen() {
		if res, ok := p.InputResponses[key]; ok && !jsonrpc.IsNull(res) {
			a.answer <- askAnswer{result: res}
		} else {
			a.answer <- askAnswer{err: &jsonrpc.Error{Code: jsonrpc.CodeInvalidParams, Message: "the client sent no answer to " + a.method}}
		}
	}
	return sess.await(ctx, f)
}

// abandon ends a flight whose client did not come back within the
// upstream's request timeout.
func (sess *session) abandon(state string, f *flight) {
	fl := &sess.flights
	fl.mu.Lock()
	waiting := fl.waiting[state] == f
	delete(fl.waiting, state)
	fl.mu.Unlock()
	if waiting {
		sess.srv.logger.Warn("dropping a call whose client did not answer its input requests", "upstream", f.server)
		f.fail(errFlightAbandoned)
	}
}

// fail ends the flight for err, and its requests shown to the client with
// it.
func (f *flight) fail(err error) {
	for _, a := range f.takeOpen() {
		a.answer <- askAnswer{err: err}
	}
	f.cancel(err)
}

// takeOpen stops waiting for the client and returns the requests it was
// shown, which the caller must answer.
func (f *flight) takeOpen() map[string]*ask {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.abandon.Stop()
	open := f.open
	f.open = map[string]*ask{}
	return open
}

// askInput hands an upstream's request to the client through a flight of
// that upstream, and waits for the client's answer, or for ctx (the
// upstream cancelled, or its connection died). It returns errNoCall if no
// call of this session to the upstream is running.
func (sess *session) askInput(ctx context.Context, server, method string, params json.RawMessage) (json.RawMessage, error) {
	fl := &sess.flights
	fl.mu.Lock()
	fl.nextKey++
	a := &ask{key: "mcpmux-" + strconv.Itoa(fl.nextKey), method: method, params: params, answer: make(chan askAnswer, 1)}
	fl.mu.Unlock()
	// Counted as waiting for the client: the call's timeout restarts from
	// the answer, as for a legacy client.
	sess.mu.Lock()
	sess.outgoing["mrtr:"+a.key] = &outgoing{server: server}
	sess.mu.Unlock()
	defer func() {
		sess.mu.Lock()
		delete(sess.outgoing, "mrtr:"+a.key)
		sess.answeredAt[server] = time.Now()
		sess.mu.Unlock()
	}()
	// The request does not say which call it belongs to; any running call
	// to the upstream can carry it to the client, whose answer finds the
	// request by its key. One that ends meanwhile hands over to the next.
	var f *flight
	for sent := false; !sent; {
		fl.mu.Lock()
		f = nil
		if running := fl.running[server]; len(running) > 0 {
			f = running[0]
		}
		fl.mu.Unlock()
		if f == nil {
			return nil, errNoCall
		}
		select {
		case f.asks <- a:
			sent = true
		case <-f.done:
		case <-ctx.Done():
			return nil, context.Cause(ctx)
		}
	}
	// Shown to the client now: its retry answers, even if the call that
	// carried it has ended meanwhile, or its abandonment fails it.
	select {
	case ans := <-a.answer:
		return ans.result, ans.err
	case <-ctx.Done():
		return nil, context.Cause(ctx)
	}
}

// endFlights cancels the flights still waiting for the client when the
// session ends; running ones end with the session's context.
func (sess *session) endFlights() {
	fl := &sess.flights
	fl.mu.Lock()
	defer fl.mu.Unlock()
	for state, f := range fl.waiting {
		f.fail(errors.New("the client's session ended"))
		delete(fl.waiting, state)
	}
}

// forwardCall forwards a call that may need the client's input: as a
// flight for a 2026-07-28 client, directly for others.
func (sess *session) forwardCall(ctx context.Context, e entry, method string, params json.RawMessage, p *params) (json.RawMessage, error) {
	if sess.stateless.Load() {
		return sess.forwardAsFlight(ctx, e, method, params, p)
	}
	return sess.forward(ctx, e, method, params, p)
}

// resumed reports whether params carry the requestState of a 2026-07-28
// client's retry, and returns it.
func (sess *session) resumed(params json.RawMessage) (string, bool) {
	if !sess.stateless.Load() {
		return "", false
	}
	state, ok := jsonrpc.StringMember(params, "requestState")
	return state, ok && state != ""
}

// requestTimeout is the request timeout of the named upstream.
func (s *Server) requestTimeout(server string) time.Duration {
	if r := s.route(server); r != nil {
		return r.cfg.RequestTimeout()
	}
	return time.Minute
}

// newRequestState returns an opaque, unguessable requestState.
func newRequestState() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return "mcpmux-" + hex.EncodeToString(b)
}

// deleted returns fs without f.
func deleted(fs []*flight, f *flight) []*flight {
	for i, g := range fs {
		if g == f {
			return append(fs[:i:i], fs[i+1:]...)
		}
	}
	return fs
}
