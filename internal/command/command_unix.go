//go:build !windows

package command

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
)

type sysProcAttr = syscall.SysProcAttr

// newCmd is exec.Command: the name is looked up in mcpmux's own PATH, as
// mcpmux has always done on Unix.
func newCmd(name string, args, env []string, attr *sysProcAttr) (*exec.Cmd, error) {
	cmd := exec.Command(name, args...)
	cmd.Env, cmd.SysProcAttr = env, attr
	return cmd, nil
}

func sameKey(a, b string) bool { return a == b }

// lookPath finds an executable file name in path, as exec.LookPath does.
func lookPath(name, path string, _ []string) (string, error) {
	if strings.ContainsRune(name, filepath.Separator) {
		if executable(name) {
			return name, nil
		}
		return "", &exec.Error{Name: name, Err: exec.ErrNotFound}
	}
	for _, dir := range filepath.SplitList(path) {
		if p := filepath.Join(dir, name); executable(p) {
			return p, nil
		}
	}
	return "", &exec.Error{Name: name, Err: exec.ErrNotFound}
}

func executable(p string) bool {
	st, err := os.Stat(p)
	return err == nil && !st.IsDir() && st.Mode()&0o111 != 0
}
