//go:build unix

package store

import (
	"os/exec"
	"syscall"
)

// signalChild sends sig to the child's process group.
func signalChild(cmd *exec.Cmd, sig syscall.Signal) {
	_ = syscall.Kill(-cmd.Process.Pid, sig)
}
