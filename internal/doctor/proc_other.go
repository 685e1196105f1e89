//go:build !unix

package doctor

import (
	"fmt"
	"os/exec"
	"syscall"
)

func groupAttr() *syscall.SysProcAttr { return nil }

func killGroup(cmd *exec.Cmd) {
	if cmd.Process != nil {
		_ = cmd.Process.Kill()
	}
}

// notFoundFix is the fix for a command that is not on PATH, and says what
// Windows hosts' "spawn npx ENOENT" means: the host ran the bare name
// without PATHEXT (npx is npx.cmd there) or with a PATH that lacks Node's
// directory. mcpmux looks bare names up through PATH and PATHEXT itself,
// so what is left to fix is the PATH.
func notFoundFix(command string) string {
	return fmt.Sprintf("\"spawn %s ENOENT\" means the same: no %s.exe, %s.cmd or %s.bat in any PATH directory. "+
		"Give \"command\" as the full path (`where.exe %s` prints it, e.g. C:\\\\Program Files\\\\nodejs\\\\npx.cmd in JSON), "+
		"or add its directory to PATH in the \"env\" of the entry (GUI hosts such as Claude Desktop start mcpmux with a short PATH)",
		command, command, command, command, command)
}
