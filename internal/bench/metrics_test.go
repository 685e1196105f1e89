package bench

import (
	"testing"
	"time"

	"github.com/mcpmux/mcpmux/internal/metrics"
	"github.com/mcpmux/mcpmux/internal/mux"
	"github.com/mcpmux/mcpmux/proxy"
)

// BenchmarkMetricsCost measures what the metrics cost a call while nothing
// scrapes them: mcpmux as serve runs it without --http or --metrics
// (plain), and with the metrics of those recording every call (metrics),
// interleaved call by call so that the machine's noise falls on both
// alike. It reports each one's median call (plain-us, metrics-us) and
// their ratio.
func BenchmarkMetricsCost(b *testing.B) {
	up := testServer(b, "-name", "a")
	mt := metrics.New()
	targets := []*target{
		startMuxOne(b, up, "echo"),
		startMcpmuxWith(b, map[string]upstreamCmd{"a": up}, "a__echo", mux.Options{Version: "bench", Proxy: func(o *proxy.Options) {
			o.OnCall = func(server, tool string, took time.Duration, outcome proxy.CallOutcome, _ error) {
				mt.Call(server, tool, took, outcome)
			}
		}}),
	}
	took := make([][]time.Duration, len(targets))
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		for k := range targets {
			j := (i + k) % len(targets) // each goes first in turn
			params := echoParams(targets[j].echo)
			start := time.Now()
			targets[j].c.call("tools/call", params)
			took[j] = append(took[j], time.Since(start))
		}
	}
	p, m := median(took[0]), median(took[1])
	b.ReportMetric(us(p), "plain-us")
	b.ReportMetric(us(m), "metrics-us")
	b.ReportMetric(float64(m)/float64(p), "metrics/plain")
}
