//go:build unix

package upstream

import (
	"os/exec"
	"syscall"
)

// killGroup signals the child's whole process group, so that wrappers such
// as npx or uvx take their own children with them.
func killGroup(cmd *exec.Cmd, sig syscall.Signal) {
	if cmd.Process == nil {
		return
	}
	_ = syscall.Kill(-cmd.Process.Pid, sig)
}
