// Package telemetry is mcpmux's OpenTelemetry tracing: a [proxy.Tracer]
// over the otel SDK, exporting spans with OTLP over HTTP, configured by
// the standard environment variables.
//
// Nothing is set up unless the environment asks for it (see [FromEnv]):
// then the proxy has no Tracer and spends nothing on spans. The trace
// context a client sends still reaches the upstreams (proxy's reqTrace).
package telemetry

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strings"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"

	"github.com/mcpmux/mcpmux/internal/jsonrpc"
	"github.com/mcpmux/mcpmux/proxy"
)

// Enabled reports whether the environment asks for traces:
// OTEL_TRACES_EXPORTER=otlp, or, with it unset, an OTLP endpoint
// (OTEL_EXPORTER_OTLP_ENDPOINT or OTEL_EXPORTER_OTLP_TRACES_ENDPOINT).
// OTEL_SDK_DISABLED=true turns them off.
func Enabled(getenv func(string) string) (bool, error) {
	if strings.EqualFold(strings.TrimSpace(getenv("OTEL_SDK_DISABLED")), "true") {
		return false, nil
	}
	switch exp := strings.TrimSpace(getenv("OTEL_TRACES_EXPORTER")); exp {
	case "":
		return getenv("OTEL_EXPORTER_OTLP_ENDPOINT") != "" || getenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") != "", nil
	case "none":
		return false, nil
	case "otlp":
	default:
		return false, fmt.Errorf("OTEL_TRACES_EXPORTER=%q: mcpmux exports traces with otlp only (or none)", exp)
	}
	proto := getenv("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL")
	if proto == "" {
		proto = getenv("OTEL_EXPORTER_OTLP_PROTOCOL")
	}
	if proto != "" && proto != "http/protobuf" {
		return false, fmt.Errorf("OTEL_EXPORTER_OTLP_PROTOCOL=%q: mcpmux exports OTLP over http/protobuf only", proto)
	}
	return true, nil
}

// FromEnv returns the Tracer the environment configures, and the function
// that flushes and stops its exporter; a nil Tracer when the environment
// asks for none (see Enabled). The exporter takes its endpoint, headers,
// timeout, compression and TLS settings from the standard
// OTEL_EXPORTER_OTLP_* variables, the SDK its sampler from
// OTEL_TRACES_SAMPLER, the resource OTEL_SERVICE_NAME and
// OTEL_RESOURCE_ATTRIBUTES. The exporter's own errors go to logger.
func FromEnv(ctx context.Context, version string, logger *slog.Logger) (proxy.Tracer, func(context.Context) error, error) {
	on, err := Enabled(os.Getenv)
	if err != nil || !on {
		return nil, nil, err
	}
	exp, err := otlptracehttp.New(ctx)
	if err != nil {
		return nil, nil, fmt.Errorf("the OTLP exporter: %w", err)
	}
	tp, err := NewProvider(ctx, exp, version)
	if err != nil {
		return nil, nil, err
	}
	otel.SetErrorHandler(otel.ErrorHandlerFunc(func(err error) {
		logger.Debug("exporting traces", "err", err)
	}))
	return New(tp), tp.Shutdown, nil
}

// NewProvider returns a TracerProvider that batches spans to exp, with
// mcpmux's resource (service.name mcpmux unless OTEL_SERVICE_NAME says
// otherwise).
func NewProvider(ctx context.Context, exp sdktrace.SpanExporter, version string) (*sdktrace.TracerProvider, error) {
	res, err := resource.New(ctx,
		resource.WithAttributes(attribute.String("service.name", "mcpmux"), attribute.String("service.version", version)),
		resource.WithFromEnv(), resource.WithTelemetrySDK())
	if err != nil && !errors.Is(err, resource.ErrPartialResource) {
		return nil, fmt.Errorf("the trace resource: %w", err)
	}
	return sdktrace.NewTracerProvider(sdktrace.WithBatcher(exp), sdktrace.WithResource(res)), nil
}

// New returns a proxy.Tracer that makes its spans with tp.
func New(tp trace.TracerProvider) proxy.Tracer {
	return &tracer{t: tp.Tracer("github.com/mcpmux/mcpmux")}
}

type tracer struct{ t trace.Tracer }

var w3c = propagation.TraceContext{}

// Request starts the server span of a client's request.
func (t *tracer) Request(method, traceparent string) proxy.Span {
	ctx := context.Background()
	if traceparent != "" {
		ctx = w3c.Extract(ctx, propagation.MapCarrier{"traceparent": traceparent})
	}
	ctx, span := t.t.Start(ctx, method, trace.WithSpanKind(trace.SpanKindServer),
		trace.WithAttributes(attribute.String("mcp.method.name", method)))
	return &reqSpan{t: t, ctx: ctx, span: span}
}

type reqSpan struct {
	t    *tracer
	ctx  context.Context
	span trace.Span
}

// Upstream starts the client span of the request to server's upstream.
func (s *reqSpan) Upstream(server, method string) (string, func(error)) {
	ctx, span := s.t.t.Start(s.ctx, method+" "+server, trace.WithSpanKind(trace.SpanKindClient),
		trace.WithAttributes(attribute.String("mcp.method.name", method), attribute.String("mcpmux.upstream", server)))
	c := propagation.MapCarrier{}
	w3c.Inject(ctx, c)
	return c["traceparent"], func(err error) { end(span, err) }
}

// End ends the request's span.
func (s *reqSpan) End(err error) { end(s.span, err) }

// end ends span with err's status: its JSON-RPC code, never its message,
// which may quote what the client or the upstream sent.
func end(span trace.Span, err error) {
	if err != nil {
		var je *jsonrpc.Error
		if errors.As(err, &je) {
			span.SetAttributes(attribute.Int("rpc.jsonrpc.error_code", je.Code))
		}
		span.SetStatus(codes.Error, "")
	}
	span.End()
}
