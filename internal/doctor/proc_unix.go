//go:build unix

package doctor

import (
	"fmt"
	"os/exec"
	"syscall"
)

// groupAttr runs the child in a process group of its own, so that the
// wrappers (npx, uvx) go with it.
func groupAttr() *syscall.SysProcAttr { return &syscall.SysProcAttr{Setpgid: true} }

// killGroup ends the child's process group.
func killGroup(cmd *exec.Cmd) {
	if cmd.Process != nil {
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	}
}

// notFoundFix is the fix for a command that is not on PATH.
func notFoundFix(command string) string {
	return fmt.Sprintf("give \"command\" as an absolute path (as `which %s` prints it), or add its directory to the PATH mcpmux gets: GUI hosts such as Claude Desktop start it with a short PATH; set one in the \"env\" of mcpmux's entry", command)
}
