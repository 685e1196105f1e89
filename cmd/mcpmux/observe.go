package main

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/mcpmux/mcpmux/internal/metrics"
	"github.com/mcpmux/mcpmux/internal/mux"
	"github.com/mcpmux/mcpmux/internal/telemetry"
	"github.com/mcpmux/mcpmux/proxy"
	"github.com/mcpmux/mcpmux/proxy/httpserve"
	"github.com/mcpmux/mcpmux/upstream"
)

// observer is what serve exports about itself: Prometheus metrics (with
// --http or --metrics) and OpenTelemetry traces (when the environment
// configures an exporter, see internal/telemetry).
type observer struct {
	metrics  *metrics.Metrics // nil: no listener serves them
	tracer   proxy.Tracer     // nil: no exporter
	shutdown func(context.Context) error
	side     net.Listener // --metrics's; nil for none

	// Root, if set before serving, is served at "/" of the side
	// listener: the status page.
	Root http.Handler
}

// newObserver sets up what serve exports: metrics if it serves HTTP
// (httpMode) or has a side listener (metricsAddr, which it opens), traces
// if the environment asks for them. A tracing setup that fails is logged
// and left out: it never stops serve.
func newObserver(ctx context.Context, metricsAddr, token string, httpMode bool, logger *slog.Logger) (*observer, error) {
	o := &observer{shutdown: func(context.Context) error { return nil }}
	if metricsAddr != "" {
		ln, err := net.Listen("tcp", metricsAddr)
		if err != nil {
			return nil, fmt.Errorf("--metrics: %w", err)
		}
		o.side = ln
	}
	if httpMode || o.side != nil {
		o.metrics = metrics.New()
	}
	tracer, shutdown, err := telemetry.FromEnv(ctx, version(), logger)
	if err != nil {
		logger.Warn("traces are off: the OpenTelemetry settings in the environment cannot be used", "err", err)
	} else if tracer != nil {
		o.tracer, o.shutdown = tracer, shutdown
	}
	return o, nil
}

// checkMetrics refuses a --metrics address serve must not start with,
// as checkHTTP does for --http.
func checkMetrics(addr, token string) error {
	if _, _, err := net.SplitHostPort(addr); err != nil {
		return fmt.Errorf("--metrics %q: want host:port, such as 127.0.0.1:9464: %w", addr, err)
	}
	if token == "" && !httpserve.IsLoopback(addr) {
		return fmt.Errorf("--metrics %q: %w", addr, httpserve.ErrNeedsToken)
	}
	return nil
}

// proxyOptions adds the observer's hooks to the proxy's options (see
// mux.Options.Proxy), after the recorder's.
func (o *observer) proxyOptions(next func(*proxy.Options)) func(*proxy.Options) {
	return func(po *proxy.Options) {
		if o.metrics != nil {
			rec, mt := po.OnCall, o.metrics
			po.OnCall = func(server, tool string, took time.Duration, outcome proxy.CallOutcome, err error) {
				if rec != nil {
					rec(server, tool, took, outcome, err)
				}
				mt.Call(server, tool, took, outcome)
			}
		}
		if o.tracer != nil {
			po.Tracer = o.tracer
		}
		if next != nil {
			next(po)
		}
	}
}

// observe points the metrics at the running mux.
func (o *observer) observe(m *mux.Mux) {
	if o.metrics != nil {
		o.metrics.Observe(muxSource{m})
	}
}

// httpHandlers are the routes serve --http adds to its own.
func (o *observer) httpHandlers() map[string]http.Handler {
	if o.metrics == nil {
		return nil
	}
	return map[string]http.Handler{"/metrics": o.metrics.Handler()}
}

// serveSide serves the side listener until ctx ends; nothing without one.
func (o *observer) serveSide(ctx context.Context, token string, logger *slog.Logger) error {
	if o.side == nil {
		return nil
	}
	err := o.metrics.Serve(ctx, o.side, metrics.ServeOptions{Token: token, Logger: logger, Root: o.Root})
	if err != nil {
		logger.Error("the --metrics listener stopped", "err", err)
	}
	return err
}

// sideURL is the side listener's URL, "" without one.
func (o *observer) sideURL() string {
	if o.side == nil {
		return ""
	}
	return "http://" + o.side.Addr().String()
}

// close flushes and stops the trace exporter, briefly: serve exits fast.
func (o *observer) close() {
	if o.side != nil {
		o.side.Close()
	}
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	_ = o.shutdown(ctx)
}

// muxSource reads the scrape-time series from the running mux.
type muxSource struct{ m *mux.Mux }

func (s muxSource) Upstreams() []metrics.Upstream {
	sups := s.m.Upstreams()
	out := make([]metrics.Upstream, 0, len(sups))
	for _, sup := range sups {
		st := sup.Status()
		out = append(out, metrics.Upstream{Server: st.Server, Up: st.State == upstream.StateReady, Restarts: st.Restarts})
	}
	return out
}

func (s muxSource) Sessions() int              { return s.m.Proxy().Sessions() }
func (s muxSource) InFlight() int              { return s.m.Proxy().InFlight() }
func (s muxSource) ToolCounts() map[string]int { return s.m.Proxy().ToolCounts() }
