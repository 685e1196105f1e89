//go:build unix

package doctor

import (
	"os/exec"
	"syscall"
)

// setGroup runs the child in a process group of its own, so that the
// wrappers (npx, uvx) go with it.
func setGroup(cmd *exec.Cmd) { cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true} }

// killGroup ends the child's process group.
func killGroup(cmd *exec.Cmd) {
	if cmd.Process != nil {
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	}
}
