//go:build unix

package search

import "syscall"

// cpuSeconds is the CPU time the process has used, user and system, as
// the kernel counts it: a loaded machine inflates it less than wall time.
func cpuSeconds() float64 {
	var u syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &u) != nil {
		return 0
	}
	return float64(u.Utime.Nano()+u.Stime.Nano()) / 1e9
}
