package proxy

import (
	"encoding/json"
	"errors"
	"log/slog"
	"sync"
	"time"

	"github.com/mcpmux/mcpmux/internal/jsonrpc"
	"github.com/mcpmux/mcpmux/upstream"
)

// starter is what an [Upstream] may also do: send a request without
// waiting for its answer, which done receives on the goroutine that reads
// the upstream; ok is false, with nothing sent, when the request would
// have to wait. [upstream.Supervisor] implements it over stdio.
type starter interface {
	Start(method string, params json.RawMessage, r upstream.Receiver) (cancel func(reason error), ok bool)
}

// target is the upstream a tools/call or prompts/get names, as the
// catalogue has it now: the entry and its route; zero for any other
// request, or a name not known (yet).
type target struct {
	e entry
	r *route
}

// target returns the upstream that request m names (see target).
func (sess *session) target(m *jsonrpc.Message, p *params) target {
	var of func(*catalogue) list
	switch m.Method {
	case "tools/call":
		of = toolsOf
	case "prompts/get":
		of = promptsOf
	default:
		return target{}
	}
	exposed, ok := jsonrpc.Unquote(p.spans[keyRoute].In(p.raw))
	if !ok {
		return target{}
	}
	if m.Method == "tools/call" && sess.serveMeta(string(exposed)) {
		return target{}
	}
	e, ok := of(sess.srv.cat.Load()).get(string(exposed))
	if !ok || m.Method == "tools/call" && !sess.has(e) {
		return target{}
	}
	r := sess.srv.route(e.server)
	if r == nil {
		return target{}
	}
	return target{e: e, r: r}
}

// serveFast serves a request on the goroutine that read it, when nothing
// about it has to wait: a tools/call or prompts/get of a client on a
// handshake revision, for a name the catalogue knows now (t), to an
// upstream that can take it at once (see starter). Its answer goes to the
// client from the goroutine that reads the upstream. So a call costs no
// goroutine of its own and no hand-off between goroutines, as with a plain
// relay. It reports served false, having done nothing, for any other
// request, which is then served on a goroutine of its own (see request),
// with the same outcome; or the error to refuse the request with (see
// addInflight), having done nothing either.
func (sess *session) serveFast(m *jsonrpc.Message, p *params, size int, t target, tr *reqTrace) (served bool, refused *jsonrpc.Error) {
	if t.r == nil || size >= hugeMessage || sess.stateless.Load() || p.stateless() {
		return false, nil
	}
	if _, ok := p.progressToken(); ok && sess.remap {
		return false, nil // its token is replaced on the way (see remapProgress)
	}
	e, r := t.e, t.r
	up, ok := r.up.(starter)
	if !ok {
		return false, nil
	}
	if !sess.calls.add() {
		return false, nil
	}
	fc := &fastCall{sess: sess, e: e, method: m.Method, timeout: r.cfg.RequestTimeout()}
	fc.c = call{id: m.ID, server: e.server, fast: fc}
	if err := sess.addInflight(&fc.c); err != nil {
		sess.calls.done()
		return false, err
	}
	if logger := sess.srv.logger; logger.Enabled(sess.life, slog.LevelDebug) {
		logger.Debug("tool call", "tool", e.key, "upstream", e.server, "method", m.Method)
	}
	if token, ok := p.progressToken(); ok {
		fc.token = token
		sess.watchProgress(token, e.server, m.ID, nil)
	}
	fc.doneUp = sess.atUpstream(e.server, m.ID)
	fc.mu.Lock()
	fc.timer = time.AfterFunc(fc.timeout, fc.expire)
	fc.mu.Unlock()
	fc.start = time.Since(epoch)
	params := jsonrpc.ReplaceString(p.raw, p.spans[keyRoute], e.original)
	if tr != nil {
		fc.trace = &fastTrace{t: tr}
		params, fc.trace.endUp = tr.upstream(e.server, m.Method, params)
	}
	cancel, ok := up.Start(m.Method, params, fc)
	if !ok {
		if fc.trace != nil {
			fc.trace.endUp(nil) // the request goes on the slow path, with a span of its own
		}
		fc.timer.Stop()
		if fc.token != "" {
			sess.unwatchProgress(fc.token)
		}
		fc.doneUp()
		sess.endCall(&fc.c)
		sess.calls.done()
		return false, nil
	}
	fc.mu.Lock()
	fc.cancelUp = cancel
	pending := fc.pending
	fc.mu.Unlock()
	if pending == nil && sess.life.Err() != nil {
		pending = errCancelled // the session ended meanwhile: cancelAll may have missed it
	}
	if pending != nil {
		cancel(pending)
	}
	return true, nil
}

// epoch is when the process started, on the monotonic clock.
var epoch = time.Now()

// fastCall is one request that serveFast sent.
type fastCall struct {
	sess    *session
	c       call
	e       entry
	method  string
	token   string // the call's progress token, "" for none
	doneUp  func() // ends its record at the upstream (see atUpstream)
	timeout time.Duration
	start   time.Duration // since epoch: 8 bytes where a time.Time takes 24, which keeps fastCall in a smaller size class
	trace   *fastTrace    // nil for none: one pointer keeps fastCall in its size class

	mu       sync.Mutex
	timer    *time.Timer // the watchdog (see watchdog)
	cancelUp func(error) // nil until the request is sent
	pending  error       // a cancellation that came before that
}

// fastTrace is the trace context of a fastCall.
type fastTrace struct {
	t     *reqTrace
	endUp func(error) // ends the upstream request's span
}

// clientCancel cancels the request, as the client asked (see
// session.cancel), or as endCall does once it is answered.
func (fc *fastCall) clientCancel() { fc.abort(errCancelled) }

// Receive answers the client (see finish).
func (fc *fastCall) Receive(res json.RawMessage, err error) { fc.finish(res, err) }

var errCancelled = errors.New("cancelled by the client")

// expire ends the request once its timeout has passed, not counting the
// time the upstream waits for the client (see watchdog).
func (fc *fastCall) expire() {
	if wait := fc.sess.sinceAsking(fc.e.server, fc.timeout); wait > 0 {
		fc.mu.Lock()
		fc.timer.Reset(wait)
		fc.mu.Unlock()
		return
	}
	fc.abort(errTimeout)
}

// abort cancels the request for reason; finish then answers the client.
func (fc *fastCall) abort(reason error) {
	fc.mu.Lock()
	cancel := fc.cancelUp
	if cancel == nil && fc.pending == nil {
		fc.pending = reason
	}
	fc.mu.Unlock()
	if cancel != nil {
		cancel(reason)
	}
}

// finish answers the client with the upstream's answer, or with err. It
// runs once, on the goroutine that reads the upstream, or on the one that
// ended the request.
func (fc *fastCall) finish(res json.RawMessage, err error) {
	sess, c := fc.sess, &fc.c
	defer sess.calls.done()
	fc.mu.Lock()
	fc.timer.Stop()
	fc.mu.Unlock()
	if fc.token != "" {
		sess.unwatchProgress(fc.token)
	}
	fc.doneUp()
	outcome := CallOK
	if s := sess.srv; s.opts.OnCall != nil && fc.method == "tools/call" {
		outcome = outcomeOf(res, err)
		if outcome == CallError && c.cancelled.Load() {
			outcome = CallCancelled
		}
	}
	if errors.Is(err, errTimeout) {
		err = timeoutError(fc.e, fc.method, fc.timeout)
	}
	if fc.trace != nil {
		fc.trace.endUp(err)
		fc.trace.t.end(err)
	}
	if s := sess.srv; s.opts.OnCall != nil && fc.method == "tools/call" {
		s.opts.OnCall(fc.e.server, fc.e.original, time.Since(epoch)-fc.start, outcome, err)
	}
	switch {
	case c.cancelled.Load():
		sess.endCall(c) // the client asked us not to answer
	case err != nil:
		sess.reply(c, jsonrpc.AppendError(nil, c.id, sess.srv.clientError(err)))
	default:
		sess.replyResult(c, res) // a huge one: the outbox gives its memory back once written
	}
}

// timeoutError is the client's error for a request to e's upstream that
// timed out.
func timeoutError(e entry, method string, timeout time.Duration) error {
	return jsonrpc.Errorf(jsonrpc.CodeUpstreamTimeout, "upstream %q did not answer %s %q within %s; the request was cancelled",
		e.server, method, e.key, timeout)
}
