//go:build !unix

package store

import "os"

// processAlive reports whether a process with id pid exists. Where there
// is no signal 0 to ask with, finding the process is the best answer.
func processAlive(pid int) bool {
	if pid <= 0 {
		return false
	}
	p, err := os.FindProcess(pid)
	if err != nil {
		return false
	}
	p.Release()
	return true
}
