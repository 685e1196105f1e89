package upstream

import "syscall"

// sysProcAttr puts the child in a process group of its own and asks the
// kernel to send it SIGTERM should mcpmux die without stopping it (even by
// SIGKILL). SIGTERM rather than SIGKILL lets wrappers such as npx pass the
// signal on to the real server.
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGTERM}
}
