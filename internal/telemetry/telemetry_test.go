package telemetry

import (
	"context"
	"strings"
	"testing"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
)

func TestEnabled(t *testing.T) {
	for _, c := range []struct {
		env  map[string]string
		want bool
		err  string
	}{
		{nil, false, ""},
		{map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://x:4318"}, true, ""},
		{map[string]string{"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://x:4318/v1/traces"}, true, ""},
		{map[string]string{"OTEL_TRACES_EXPORTER": "otlp"}, true, ""},
		{map[string]string{"OTEL_TRACES_EXPORTER": "none", "OTEL_EXPORTER_OTLP_ENDPOINT": "http://x:4318"}, false, ""},
		{map[string]string{"OTEL_SDK_DISABLED": "true", "OTEL_TRACES_EXPORTER": "otlp"}, false, ""},
		{map[string]string{"OTEL_TRACES_EXPORTER": "zipkin"}, false, "otlp only"},
		{map[string]string{"OTEL_TRACES_EXPORTER": "otlp", "OTEL_EXPORTER_OTLP_PROTOCOL": "grpc"}, false, "http/protobuf only"},
		{map[string]string{"OTEL_TRACES_EXPORTER": "otlp", "OTEL_EXPORTER_OTLP_PROTOCOL": "http/protobuf"}, true, ""},
	} {
		got, err := Enabled(func(k string) string { return c.env[k] })
		if got != c.want || (err == nil) != (c.err == "") || err != nil && !strings.Contains(err.Error(), c.err) {
			t.Errorf("Enabled(%v) = %v, %v; want %v, %q", c.env, got, err, c.want, c.err)
		}
	}
}

// TestSpans: a request's span is the child of the client's traceparent,
// the upstream's span its child, and the traceparent for the upstream
// names the latter in the same trace.
func TestSpans(t *testing.T) {
	exp := tracetest.NewInMemoryExporter()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(exp))
	defer tp.Shutdown(context.Background())
	const parent = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
	span := New(tp).Request("tools/call", parent)
	up, end := span.Upstream("github", "tools/call")
	end(nil)
	span.End(nil)
	got := exp.GetSpans()
	if len(got) != 2 {
		t.Fatalf("%d spans, want 2", len(got))
	}
	client, server := got[0], got[1]
	if server.Parent.SpanID().String() != "b7ad6b7169203331" || server.SpanContext.TraceID().String() != "0af7651916cd43dd8448eb211c80319c" {
		t.Errorf("server span parent %s trace %s", server.Parent.SpanID(), server.SpanContext.TraceID())
	}
	if client.Parent.SpanID() != server.SpanContext.SpanID() {
		t.Errorf("the upstream's span is not the child of the request's")
	}
	if want := "00-0af7651916cd43dd8448eb211c80319c-" + client.SpanContext.SpanID().String() + "-01"; up != want {
		t.Errorf("upstream traceparent %s, want %s", up, want)
	}
	// An invalid traceparent starts a new trace.
	span = New(tp).Request("tools/call", "00-zz")
	if up, _ := span.Upstream("a", "tools/call"); !strings.HasPrefix(up, "00-") || strings.Contains(up, "0af7651916cd43dd8448eb211c80319c") {
		t.Errorf("after an invalid traceparent: %s", up)
	}
}
