package store

import "syscall"

// childProcAttr puts a store child in a process group of its own, and has
// the kernel stop it (SIGTERM, which ends its wait for the lock) should
// mcpmux die first.
func childProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGTERM}
}
