//go:build unix

package bench

import (
	"syscall"
	"testing"
	"time"
)

// usage is this process's resource usage at the start of a measurement.
type usage struct{ ru syscall.Rusage }

func startUsage() usage {
	var u usage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &u.ru)
	return u
}

// report reports the CPU time and the context switches (voluntary and
// not) of this process since start, per iteration.
func (u usage) report(b *testing.B) {
	var now syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &now)
	cpu := tv(now.Utime) + tv(now.Stime) - tv(u.ru.Utime) - tv(u.ru.Stime)
	sw := (now.Nvcsw + now.Nivcsw) - (u.ru.Nvcsw + u.ru.Nivcsw)
	n := float64(b.N)
	b.ReportMetric(us(cpu)/n, "cpu-us/op")
	b.ReportMetric(float64(sw)/n, "ctxsw/op")
}

func tv(t syscall.Timeval) time.Duration {
	return time.Duration(t.Sec)*time.Second + time.Duration(t.Usec)*time.Microsecond
}
