//go:build !unix

package search

import rtmetrics "runtime/metrics"

// cpuSeconds is the CPU time the process has used, as the runtime
// estimates it.
func cpuSeconds() float64 {
	s := []rtmetrics.Sample{{Name: "/cpu/classes/user:cpu-seconds"}, {Name: "/cpu/classes/gc/total:cpu-seconds"}}
	rtmetrics.Read(s)
	return s[0].Value.Float64() + s[1].Value.Float64()
}
