package store

import (
	"bytes"
	"os"
	"path/filepath"
	"strconv"
	"time"
)

// heldBack returns how long the threads of process pid have spent
// runnable but waiting for a CPU: the second field of each thread's
// /proc/PID/task/TID/schedstat, in nanoseconds. ok is false if it cannot
// be read (the process is gone, or the kernel keeps no such account).
func heldBack(pid int) (waited time.Duration, ok bool) {
	tasks, err := filepath.Glob(filepath.Join("/proc", strconv.Itoa(pid), "task", "*", "schedstat"))
	if err != nil || len(tasks) == 0 {
		return 0, false
	}
	for _, path := range tasks {
		data, err := os.ReadFile(path)
		if err != nil {
			continue // a thread that exited meanwhile
		}
		fields := bytes.Fields(data)
		if len(fields) < 2 {
			return 0, false
		}
		ns, err := strconv.ParseInt(string(fields[1]), 10, 64)
		if err != nil {
			return 0, false
		}
		waited += time.Duration(ns)
		ok = true
	}
	return waited, ok
}
