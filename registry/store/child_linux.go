package store

import "syscall"

// childProcAttr puts a store child in a process group of its own. There
// is no parent-death signal: a write of a mcpmux that exits finishes
// (see Recorder.FinalWait), and every child ends itself at its time limit.
func childProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true}
}
