package e2e

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"regexp"
	"strings"
	"sync"
	"testing"

	collectortrace "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/protobuf/proto"

	"github.com/mcpmux/mcpmux/internal/testutil"
)

const (
	traceID     = "0af7651916cd43dd8448eb211c80319c"
	parentSpan  = "b7ad6b7169203331"
	traceparent = "00-" + traceID + "-" + parentSpan + "-01"
)

// upstreamParams returns the params the upstream's meta tool received, as
// it reports them (the text of its result).
func upstreamParams(tb testing.TB, result json.RawMessage) string {
	tb.Helper()
	var r struct {
		Content []struct{ Text string }
	}
	if err := json.Unmarshal(result, &r); err != nil || len(r.Content) != 1 {
		tb.Fatalf("meta result %s: %v", result, err)
	}
	return r.Content[0].Text
}

var traceparentRE = regexp.MustCompile(`"traceparent":"00-([0-9a-f]{32})-([0-9a-f]{16})-0[01]"`)

// TestTraceparentReachesUpstream: with no tracing configured, a
// _meta.traceparent reaches the upstream with every byte of the params
// but the tool's name unchanged; params without one get none; over
// HTTP, the traceparent header goes into the upstream request's _meta;
// and /metrics on the --http listener takes the same token.
func TestTraceparentReachesUpstream(t *testing.T) {
	ts := testutil.TestServerPath(t)
	mcpmuxBin(t)
	ctx := testContext(t, testTimeout)
	cfg := writeConfig(t, map[string]any{"a": map[string]any{"command": ts, "args": []string{"-name", "a", "-meta-tool"}}})
	m := startMcpmux(t, ctx, cfg)
	waitForTools(t, ctx, m.client, "a__meta")

	sent := `{"_meta":{"x":{"y":[1,2.50]},"traceparent":"` + traceparent + `","tracestate":"k=v"},"name":"a__meta","arguments":{"k":"\u00e9"}}`
	got := upstreamParams(t, rawResult(t, ctx, m.client, "tools/call", json.RawMessage(sent)))
	if want := strings.Replace(sent, `"a__meta"`, `"meta"`, 1); got != want {
		t.Errorf("the upstream received\n%s\nwant\n%s", got, want)
	}
	plain := `{"name":"a__meta","arguments":{}}`
	if got := upstreamParams(t, rawResult(t, ctx, m.client, "tools/call", json.RawMessage(plain))); got != `{"name":"meta","arguments":{}}` {
		t.Errorf("without a trace context the upstream received %s", got)
	}

	const token = "metrics-test-token"
	h := startMcpmuxHTTP(t, ctx, cfg, nil, "--token", token)
	auth := func(req *http.Request) { req.Header.Set("Authorization", "Bearer "+token) }
	s := newHTTPSessionWith(t, ctx, h.base, auth)
	s.call(`{"jsonrpc":"2.0","id":"l","method":"tools/list"}`)
	resp := s.callWith(`{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"a__meta","arguments":{}}}`, func(req *http.Request) {
		auth(req)
		req.Header.Set("traceparent", traceparent)
	})
	var r struct{ Result json.RawMessage }
	if err := json.Unmarshal([]byte(resp), &r); err != nil {
		t.Fatalf("tools/call over HTTP = %s", resp)
	}
	if got := upstreamParams(t, r.Result); got != `{"_meta":{"traceparent":"`+traceparent+`"},"name":"meta","arguments":{}}` {
		t.Errorf("with a traceparent header the upstream received %s", got)
	}
	for _, withToken := range []bool{false, true} {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, h.base+"/metrics", nil)
		if withToken {
			auth(req)
		}
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(res.Body)
		res.Body.Close()
		switch {
		case !withToken && res.StatusCode != http.StatusUnauthorized:
			t.Errorf("GET /metrics without the token = %d, want 401", res.StatusCode)
		case withToken && (res.StatusCode != http.StatusOK || !strings.Contains(string(body), `mcpmux_tool_calls_total{outcome="ok",server="a",tool="meta"} 1`)):
			t.Errorf("GET /metrics with the token = %d\n%s", res.StatusCode, body)
		case withToken && strings.Contains(string(body), token):
			t.Errorf("/metrics shows the token")
		}
	}
}

// otlpReceiver is an OTLP/HTTP trace endpoint that keeps the spans it is
// sent.
type otlpReceiver struct {
	mu       sync.Mutex
	spans    []*tracepb.Span
	services []string
}

func (o *otlpReceiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path != "/v1/traces" || r.Header.Get("Content-Type") != "application/x-protobuf" {
		http.Error(w, "want a protobuf POST to /v1/traces", http.StatusBadRequest)
		return
	}
	var body io.Reader = r.Body
	if r.Header.Get("Content-Encoding") == "gzip" {
		zr, err := gzip.NewReader(r.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		body = zr
	}
	data, _ := io.ReadAll(body)
	var req collectortrace.ExportTraceServiceRequest
	if err := proto.Unmarshal(data, &req); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	o.mu.Lock()
	for _, rs := range req.GetResourceSpans() {
		for _, a := range rs.GetResource().GetAttributes() {
			if a.GetKey() == "service.name" {
				o.services = append(o.services, a.GetValue().GetStringValue())
			}
		}
		for _, ss := range rs.GetScopeSpans() {
			o.spans = append(o.spans, ss.GetSpans()...)
		}
	}
	o.mu.Unlock()
	out, _ := proto.Marshal(&collectortrace.ExportTraceServiceResponse{})
	w.Header().Set("Content-Type", "application/x-protobuf")
	_, _ = w.Write(out)
}

// span returns the span with id (hex), or nil.
func (o *otlpReceiver) span(id string) *tracepb.Span {
	o.mu.Lock()
	defer o.mu.Unlock()
	for _, s := range o.spans {
		if hex.EncodeToString(s.GetSpanId()) == id {
			return s
		}
	}
	return nil
}

// TestTracesExportedOverOTLP: with OTEL_EXPORTER_OTLP_ENDPOINT set, a
// call in a client's trace makes a server span (child of the client's
// span) and a client span for the upstream request (its child), both
// exported over OTLP/HTTP to a receiver in the test; the upstream's
// _meta.traceparent names that client span in the same trace, and is
// the only byte of the params that changed.
func TestTracesExportedOverOTLP(t *testing.T) {
	ts := testutil.TestServerPath(t)
	mcpmuxBin(t)
	ctx := testContext(t, testTimeout)
	recv := &otlpReceiver{}
	srv := httptest.NewServer(recv)
	defer srv.Close()
	cfg := writeConfig(t, map[string]any{"a": map[string]any{"command": ts, "args": []string{"-name", "a", "-meta-tool"}}})
	m := startMcpmuxWith(t, ctx, cfg, t.TempDir(), func(cmd *exec.Cmd) {
		cmd.Env = append(cmd.Env, "OTEL_EXPORTER_OTLP_ENDPOINT="+srv.URL, "OTEL_BSP_SCHEDULE_DELAY=50", "OTEL_SERVICE_NAME=")
	})
	waitForTools(t, ctx, m.client, "a__meta")
	sent := `{"_meta":{"traceparent":"` + traceparent + `","z":1},"name":"a__meta","arguments":{"k":[true,null]}}`
	got := upstreamParams(t, rawResult(t, ctx, m.client, "tools/call", json.RawMessage(sent)))
	sm := traceparentRE.FindStringSubmatch(got)
	if sm == nil {
		t.Fatalf("the upstream received no traceparent: %s", got)
	}
	if sm[1] != traceID {
		t.Errorf("the upstream's trace id is %s, want the client's %s", sm[1], traceID)
	}
	upSpan := sm[2]
	if upSpan == parentSpan {
		t.Errorf("the upstream's parent span is the client's: want mcpmux's own span")
	}
	if want := strings.Replace(strings.Replace(sent, parentSpan, upSpan, 1), `"a__meta"`, `"meta"`, 1); got != want {
		t.Errorf("the upstream received\n%s\nwant only the traceparent's span id and the name changed:\n%s", got, want)
	}
	var client, server *tracepb.Span
	testutil.WaitFor(t, "both spans at the OTLP receiver", func() bool {
		client = recv.span(upSpan)
		if client != nil {
			server = recv.span(hex.EncodeToString(client.GetParentSpanId()))
		}
		return server != nil
	})
	if client.GetKind() != tracepb.Span_SPAN_KIND_CLIENT || hex.EncodeToString(client.GetTraceId()) != traceID {
		t.Errorf("upstream span: kind %v trace %x name %q", client.GetKind(), client.GetTraceId(), client.GetName())
	}
	if server.GetKind() != tracepb.Span_SPAN_KIND_SERVER || hex.EncodeToString(server.GetParentSpanId()) != parentSpan || server.GetName() != "tools/call" {
		t.Errorf("server span: kind %v parent %x name %q, want SERVER, the client's span %s, tools/call", server.GetKind(), server.GetParentSpanId(), server.GetName(), parentSpan)
	}
	recv.mu.Lock()
	services := recv.services
	recv.mu.Unlock()
	if len(services) == 0 || services[0] != "mcpmux" {
		t.Errorf("service.name = %v, want mcpmux", services)
	}
	// A call with no trace context starts a trace of mcpmux's own.
	got = upstreamParams(t, rawResult(t, ctx, m.client, "tools/call", json.RawMessage(`{"name":"a__meta","arguments":{}}`)))
	if sm := traceparentRE.FindStringSubmatch(got); sm == nil || sm[1] == traceID || !bytes.HasPrefix([]byte(got), []byte(`{"_meta":{"traceparent":`)) {
		t.Errorf("a call without a trace context reached the upstream as %s", got)
	}
}

// authedSession is a streamable HTTP session whose every request passes
// through prepare (a token, a header) first.
type authedSession struct {
	tb       testing.TB
	ctx      context.Context
	base, id string
	prepare  func(*http.Request)
}

func newHTTPSessionWith(tb testing.TB, ctx context.Context, base string, prepare func(*http.Request)) *authedSession {
	tb.Helper()
	s := &authedSession{tb: tb, ctx: ctx, base: base, prepare: prepare}
	res := s.post(initializeLine, prepare)
	s.id = res.Header.Get("Mcp-Session-Id")
	if res.StatusCode != http.StatusOK || s.id == "" {
		tb.Fatalf("initialize = %d", res.StatusCode)
	}
	s.post(`{"jsonrpc":"2.0","method":"notifications/initialized"}`, prepare)
	return s
}

func (s *authedSession) post(body string, prepare func(*http.Request)) *http.Response {
	s.tb.Helper()
	req, _ := http.NewRequestWithContext(s.ctx, http.MethodPost, s.base+"/mcp", strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	if s.id != "" {
		req.Header.Set("Mcp-Session-Id", s.id)
	}
	prepare(req)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		s.tb.Fatalf("POST /mcp: %v", err)
	}
	data, _ := io.ReadAll(res.Body)
	res.Body.Close()
	res.Body = io.NopCloser(bytes.NewReader(data))
	return res
}

func (s *authedSession) call(body string) string { return s.callWith(body, s.prepare) }

func (s *authedSession) callWith(body string, prepare func(*http.Request)) string {
	s.tb.Helper()
	data, _ := io.ReadAll(s.post(body, prepare).Body)
	return string(data)
}
