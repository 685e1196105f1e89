// Package metrics is mcpmux's Prometheus exposition: what a scrape of
// /metrics (serve --http, or the side listener of serve --metrics) reads.
//
// Only the calls cost anything while nothing scrapes: [Metrics.Call]
// finds the call's counters in a sync.Map (made once per server and tool)
// and adds to them atomically. Everything else (upstreams up, restarts,
// sessions, requests in flight, catalogue sizes) is read from a [Source]
// when a scrape asks, by a collector of its own.
//
// Labels are bounded: server names come from the configuration, tool names
// from the upstreams' catalogues (proxy.Options.OnCall never passes a name
// a client sent), at most [MaxToolsPerServer] of them per server, beyond
// which calls count under the tool "_other". No label or value holds a
// secret: there are no arguments, results, errors or URLs in them.
package metrics

import (
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/mcpmux/mcpmux/proxy"
)

// MaxToolsPerServer bounds the tool label's values per server, however
// often an upstream renames its tools.
const MaxToolsPerServer = 1000

// otherTool is the tool label of calls past MaxToolsPerServer.
const otherTool = "_other"

// Upstream is one upstream as a scrape sees it.
type Upstream struct {
	Server   string
	Up       bool // ready: connected, with its catalogue
	Restarts int  // connections made after one was lost or failed
}

// Source is what the scrape-time series are read from; cmd/mcpmux adapts
// the running mux.
type Source interface {
	Upstreams() []Upstream
	// Sessions returns how many client sessions are open.
	Sessions() int
	// InFlight returns how many of the clients' requests are in flight.
	InFlight() int
	// ToolCounts returns, by server, the tools in the merged catalogue.
	ToolCounts() map[string]int
}

// Metrics holds the series of one mcpmux. Its zero value is not usable;
// make one with New.
type Metrics struct {
	reg      *prometheus.Registry
	calls    *prometheus.CounterVec
	duration *prometheus.HistogramVec
	src      atomic.Pointer[Source]

	byTool sync.Map // toolKey → *toolSeries

	mu       sync.Mutex     // serializes making a toolSeries
	perTools map[string]int // server → tool label values made
}

type toolKey struct{ server, tool string }

// toolSeries are the series one (server, tool) call adds to.
type toolSeries struct {
	outcomes [4]prometheus.Counter // by proxy.CallOutcome
	duration prometheus.Observer
}

// durationBuckets are the histogram's upper bounds, in seconds: a tool
// call takes from a millisecond (a local lookup) to a minute (the default
// request timeout).
var durationBuckets = []float64{0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60}

var outcomes = [...]proxy.CallOutcome{proxy.CallOK, proxy.CallError, proxy.CallTimeout, proxy.CallCancelled}

// New returns the metrics of an mcpmux whose scrape-time series are
// read from the Source given to Observe (none are shown until then).
func New() *Metrics {
	m := &Metrics{
		reg: prometheus.NewRegistry(),
		calls: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "mcpmux_tool_calls_total",
			Help: "Tool calls answered, by upstream server, tool (its name in the server's catalogue) and outcome: ok, error (an error or an isError result), timeout, cancelled.",
		}, []string{"server", "tool", "outcome"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "mcpmux_tool_call_duration_seconds",
			Help:    "How long tool calls took, from mcpmux's request to the upstream to its answer, by upstream server.",
			Buckets: durationBuckets,
		}, []string{"server"}),
		perTools: map[string]int{},
	}
	m.reg.MustRegister(m.calls, m.duration, scrapeCollector{m},
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// Observe sets where the scrape-time series are read from.
func (m *Metrics) Observe(src Source) { m.src.Store(&src) }

// Call counts one tools/call of server's tool (as proxy.Options.OnCall
// is told of it).
func (m *Metrics) Call(server, tool string, took time.Duration, outcome proxy.CallOutcome) {
	ts := m.series(server, tool)
	if int(outcome) < len(ts.outcomes) {
		ts.outcomes[outcome].Inc()
	}
	ts.duration.Observe(took.Seconds())
}

// series returns the series of server's tool, made on its first call.
func (m *Metrics) series(server, tool string) *toolSeries {
	k := toolKey{server, tool}
	if ts, ok := m.byTool.Load(k); ok {
		return ts.(*toolSeries)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if ts, ok := m.byTool.Load(k); ok {
		return ts.(*toolSeries)
	}
	label := tool
	if m.perTools[server] >= MaxToolsPerServer {
		label = otherTool
		if ts, ok := m.byTool.Load(toolKey{server, otherTool}); ok {
			m.byTool.Store(k, ts)
			return ts.(*toolSeries)
		}
	}
	m.perTools[server]++
	ts := &toolSeries{duration: m.duration.WithLabelValues(server)}
	for _, o := range outcomes {
		ts.outcomes[o] = m.calls.WithLabelValues(server, label, o.String())
	}
	m.byTool.Store(k, ts)
	if label == otherTool {
		m.byTool.Store(toolKey{server, otherTool}, ts)
	}
	return ts
}

// Handler serves the Prometheus text exposition (or OpenMetrics, if the
// scraper asks for it).
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{})
}

// Gatherer returns the registry, for tests and for other exporters.
func (m *Metrics) Gatherer() prometheus.Gatherer { return m.reg }

// scrapeCollector reads the Source's series at scrape time.
type scrapeCollector struct{ m *Metrics }

var (
	upDesc = prometheus.NewDesc("mcpmux_upstream_up",
		"Whether the upstream server is ready (1) or not (0: starting, backing off, stopped, idle).", []string{"server"}, nil)
	restartsDesc = prometheus.NewDesc("mcpmux_upstream_restarts_total",
		"Connections to the upstream server made after one was lost or an attempt failed (0 again when a reload replaces it).", []string{"server"}, nil)
	inFlightDesc = prometheus.NewDesc("mcpmux_requests_in_flight",
		"Requests of clients waiting for their answer, in every session.", nil, nil)
	sessionsDesc = prometheus.NewDesc("mcpmux_sessions",
		"Client sessions open (1 over stdio).", nil, nil)
	toolsDesc = prometheus.NewDesc("mcpmux_catalogue_tools",
		"Tools of the upstream server in the merged catalogue that clients see.", []string{"server"}, nil)
)

func (c scrapeCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{upDesc, restartsDesc, inFlightDesc, sessionsDesc, toolsDesc} {
		ch <- d
	}
}

func (c scrapeCollector) Collect(ch chan<- prometheus.Metric) {
	p := c.m.src.Load()
	if p == nil {
		return
	}
	src := *p
	ups := src.Upstreams()
	counts := src.ToolCounts()
	for _, u := range ups {
		up := 0.0
		if u.Up {
			up = 1
		}
		ch <- prometheus.MustNewConstMetric(upDesc, prometheus.GaugeValue, up, u.Server)
		ch <- prometheus.MustNewConstMetric(restartsDesc, prometheus.CounterValue, float64(u.Restarts), u.Server)
		ch <- prometheus.MustNewConstMetric(toolsDesc, prometheus.GaugeValue, float64(counts[u.Server]), u.Server)
	}
	ch <- prometheus.MustNewConstMetric(inFlightDesc, prometheus.GaugeValue, float64(src.InFlight()))
	ch <- prometheus.MustNewConstMetric(sessionsDesc, prometheus.GaugeValue, float64(src.Sessions()))
}
