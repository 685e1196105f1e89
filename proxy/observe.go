package proxy

import (
	"context"
	"encoding/json"
	"errors"

	"github.com/mcpmux/mcpmux/internal/jsonrpc"
)

// What the proxy tells observers (metrics, traces): the outcome of each
// call (Options.OnCall), the spans of requests (Options.Tracer), and the
// gauges read at scrape time (InFlight, ToolCounts). None of it costs the
// call path anything unless an observer is set, except the propagation of
// a trace context the client sent.

// CallOutcome is how a tools/call ended, as Options.OnCall is told.
type CallOutcome uint8

const (
	// CallOK: the upstream answered with a result that is not isError.
	CallOK CallOutcome = iota
	// CallError: the upstream answered with an error, or with a result
	// whose isError is true, or could not be reached.
	CallError
	// CallTimeout: the upstream did not answer within its request timeout.
	CallTimeout
	// CallCancelled: the client cancelled the call, or its session ended,
	// before the upstream answered.
	CallCancelled
)

// String returns the outcome as metrics label it: ok, error, timeout,
// cancelled.
func (o CallOutcome) String() string {
	switch o {
	case CallOK:
		return "ok"
	case CallTimeout:
		return "timeout"
	case CallCancelled:
		return "cancelled"
	default:
		return "error"
	}
}

// outcomeOf classifies the answer to a tools/call: res and err as the
// upstream's request returned them, before err becomes the client's.
func outcomeOf(res json.RawMessage, err error) CallOutcome {
	switch {
	case err == nil:
		if isErrorResult(res) {
			return CallError
		}
		return CallOK
	case errors.Is(err, errTimeout):
		return CallTimeout
	case errors.Is(err, errCancelled), errors.Is(err, context.Canceled):
		return CallCancelled
	default:
		return CallError
	}
}

var isErrorKey = []string{"isError"}

// isErrorResult reports whether a tools/call result says isError: true.
func isErrorResult(res json.RawMessage) bool {
	var sp [1]jsonrpc.Span
	if jsonrpc.Scan(res, isErrorKey, sp[:]) != nil {
		return false
	}
	return string(sp[0].In(res)) == "true"
}

// InFlight returns how many of the clients' requests are in flight, in
// every open session.
func (s *Server) InFlight() int {
	n := 0
	for _, sess := range s.openSessions() {
		sess.mu.Lock()
		n += len(sess.inflight)
		sess.mu.Unlock()
	}
	return n
}

// ToolCounts returns, by upstream, how many tools it has in the merged
// catalogue that clients see (withheld tools are not in it).
func (s *Server) ToolCounts() map[string]int {
	out := map[string]int{}
	for _, e := range s.cat.Load().tools.memo.entries() {
		out[e.server]++
	}
	return out
}

// Tracer makes the spans of the clients' requests and of the upstream
// requests that serve them (Options.Tracer); internal/telemetry implements
// it with OpenTelemetry.
type Tracer interface {
	// Request starts the server span of a client's request for method,
	// the child of traceparent (a W3C traceparent, "" for none; an
	// invalid one is ignored).
	Request(method, traceparent string) Span
}

// Span is the span of one client's request.
type Span interface {
	// Upstream starts the child span of a request to server's upstream.
	// It returns the traceparent that request carries in _meta ("" for
	// none) and the function that ends the span with the request's error.
	Upstream(server, method string) (traceparent string, end func(error))
	// End ends the span; err is the request's error, nil if none.
	End(err error)
}

// reqTrace is the trace context of one client's request: its span (nil
// without a Tracer), or, without one, the traceparent of the HTTP request
// that carried it, which its upstream request carries on.
type reqTrace struct {
	span   Span
	parent string
}

// traceOf returns the trace context of request m, or nil when it has none
// and nothing traces: then nothing is added to its upstream request.
// header is the HTTP request's traceparent header ("" for none).
func (sess *session) traceOf(m *jsonrpc.Message, p *params, header string) *reqTrace {
	tracer := sess.srv.opts.Tracer
	if tracer == nil && header == "" {
		return nil // a _meta.traceparent goes on unchanged, with the params
	}
	parent := header
	if tp, ok := jsonrpc.String(p.metaValue(metaTraceparent)); ok && tp != "" {
		parent = tp // the request's own comes first
	}
	if tracer == nil {
		if parent != header {
			return nil // in the params already
		}
		return &reqTrace{parent: header}
	}
	return &reqTrace{span: tracer.Request(m.Method, parent), parent: parent}
}

// upstream returns params to send to server's upstream with the trace
// context of the request, and the function that ends the upstream
// request's span.
func (t *reqTrace) upstream(server, method string, params json.RawMessage) (json.RawMessage, func(error)) {
	if t == nil {
		return params, endNothing
	}
	tp, end := t.parent, endNothing
	if t.span != nil {
		tp, end = t.span.Upstream(server, method)
	}
	if tp == "" {
		return params, end
	}
	return withTraceparent(params, tp), end
}

// end ends the request's span.
func (t *reqTrace) end(err error) {
	if t != nil && t.span != nil {
		t.span.End(err)
	}
}

func endNothing(error) {}

type traceKey struct{}

// withTrace returns ctx carrying the request's trace context.
func withTrace(ctx context.Context, t *reqTrace) context.Context {
	if t == nil {
		return ctx
	}
	return context.WithValue(ctx, traceKey{}, t)
}

// traceFrom returns the trace context ctx carries, or nil.
func traceFrom(ctx context.Context) *reqTrace {
	t, _ := ctx.Value(traceKey{}).(*reqTrace)
	return t
}

// withTraceparent returns params with _meta.traceparent set to tp, every
// other byte unchanged: replaced if there is one, added first in _meta
// otherwise, or as a new _meta. Params that are not an object, or whose
// _meta is not one, are returned as they are.
func withTraceparent(params json.RawMessage, tp string) json.RawMessage {
	v := jsonrpc.Quote(tp)
	if len(params) == 0 || jsonrpc.IsNull(params) {
		return json.RawMessage(`{"_meta":{"traceparent":` + string(v) + `}}`)
	}
	var sp [1]jsonrpc.Span
	if jsonrpc.Scan(params, metaOnly, sp[:]) != nil {
		return params
	}
	meta := sp[0].In(params)
	if meta == nil {
		return jsonrpc.Insert(params, "_meta", []byte(`{"traceparent":`+string(v)+`}`))
	}
	m, err := jsonrpc.Set(meta, "traceparent", v)
	if err != nil {
		return params
	}
	return jsonrpc.Replace(params, sp[0], m)
}
