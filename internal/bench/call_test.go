package bench

import (
	"slices"
	"testing"
	"time"
)

// echoParams are the params of every benchmarked call.
func echoParams(tool string) string {
	return `{"name":"` + tool + `","arguments":{"message":"hello"}}`
}

// window is how many calls the concurrent benchmarks keep in flight.
const window = 16

// upstreams are the servers the call benchmarks run against, by name.
var upstreams = []struct {
	name  string
	start func(testing.TB) upstreamCmd
}{
	{"go", func(tb testing.TB) upstreamCmd { return testServer(tb, "-name", "a") }},
	{"everything", everything},
}

// BenchmarkCall measures one echo tools/call against each target (see
// the package doc) on its own: one call at a time (seq), and with 16 in
// flight (inflight16). With -benchmem it counts the allocations of the
// client (next to none) and of what runs in this process: nothing for
// direct, the relay, or mcpmux. cpu-us/op and ctxsw/op are this
// process's CPU time and context switches per call (the upstream's are
// not counted).
func BenchmarkCall(b *testing.B) {
	for _, u := range upstreams {
		b.Run(u.name, func(b *testing.B) {
			up := u.start(b)
			for _, start := range []func(testing.TB, upstreamCmd, string) *target{startDirect, startRelay, startMuxOne} {
				t := start(b, up, "echo")
				b.Run(t.name+"/seq", func(b *testing.B) {
					params := echoParams(t.echo)
					r := startUsage()
					b.ReportAllocs()
					for b.Loop() {
						t.c.call("tools/call", params)
					}
					r.report(b)
				})
				b.Run(t.name+"/inflight16", func(b *testing.B) {
					params := echoParams(t.echo)
					r := startUsage()
					b.ReportAllocs()
					t.c.pipeline(window, "tools/call", params, b.Loop)
					r.report(b)
				})
			}
		})
	}
}

// startMuxOne is startMcpmux with u as the one upstream "a".
func startMuxOne(tb testing.TB, u upstreamCmd, echo string) *target {
	return startMcpmux(tb, map[string]upstreamCmd{"a": u}, "a__"+echo)
}

// BenchmarkSideBySide interleaves the three targets call by call, so that
// the machine's noise falls on all three alike, and reports the median
// call of each (direct-us, relay-us, mcpmux-us), what the relay and
// mcpmux add to a direct call, and their ratio (mcpmux-added/relay-added),
// one call at a time (seq). With 16 calls in flight (inflight16), each
// iteration is a batch of 64 calls per target, and it reports calls per
// second and mcpmux's share of direct's (mcpmux/direct-throughput).
func BenchmarkSideBySide(b *testing.B) {
	for _, u := range upstreams {
		b.Run(u.name, func(b *testing.B) {
			up := u.start(b)
			targets := startAll(b, up, "echo")
			b.Run("seq", func(b *testing.B) {
				took := make([][]time.Duration, len(targets))
				for i := 0; b.Loop(); i++ {
					for k := range targets {
						t := targets[(i+k)%len(targets)] // each goes first in turn
						params := echoParams(t.echo)
						start := time.Now()
						t.c.call("tools/call", params)
						took[(i+k)%len(targets)] = append(took[(i+k)%len(targets)], time.Since(start))
					}
				}
				d, r, m := median(took[0]), median(took[1]), median(took[2])
				b.ReportMetric(us(d), "direct-us")
				b.ReportMetric(us(r), "relay-us")
				b.ReportMetric(us(m), "mcpmux-us")
				b.ReportMetric(us(r-d), "relay-added-us")
				b.ReportMetric(us(m-d), "mcpmux-added-us")
				b.ReportMetric(float64(m-d)/float64(max(r-d, 1)), "mcpmux/relay-added")
				b.ReportMetric(float64(m)/float64(d), "mcpmux/direct")
			})
			b.Run("inflight16", func(b *testing.B) {
				const batch = 64
				rates := make([][]float64, len(targets))
				for i := 0; b.Loop(); i++ {
					for k := range targets {
						j := (i + k) % len(targets)
						t := targets[j]
						n := 0
						start := time.Now()
						t.c.pipeline(window, "tools/call", echoParams(t.echo), func() bool { n++; return n < batch })
						rates[j] = append(rates[j], batch/time.Since(start).Seconds())
					}
				}
				d, r, m := medianF(rates[0]), medianF(rates[1]), medianF(rates[2])
				b.ReportMetric(d, "direct-calls/s")
				b.ReportMetric(r, "relay-calls/s")
				b.ReportMetric(m, "mcpmux-calls/s")
				b.ReportMetric(m/d, "mcpmux/direct-throughput")
			})
		})
	}
}

func us(d time.Duration) float64 { return float64(d) / float64(time.Microsecond) }

func median(ds []time.Duration) time.Duration {
	s := slices.Clone(ds)
	slices.Sort(s)
	return s[len(s)/2]
}

func medianF(fs []float64) float64 {
	s := slices.Clone(fs)
	slices.Sort(s)
	return s[len(s)/2]
}
