// Package command makes the [exec.Cmd] of an upstream's command as the
// operating system would find and run it from a shell, in the environment
// the child gets: on Unix, as [exec.Command] does; on Windows, a bare name
// (npx, uvx) is looked up through the child's PATH and PATHEXT, and a .cmd
// or .bat file (npx.cmd) runs under cmd.exe with its arguments quoted by
// cmd.exe's rules, which are not the C runtime's that [exec.Command] uses
// (see make_windows.go).
//
// upstream starts its children with [New]; internal/doctor looks commands
// up with [LookPath], so that what it reports is what mcpmux will do.
package command

import (
	"os/exec"
	"strings"
)

// New returns the command that runs name with args in env (the child's
// whole environment, the last entry of a name winning), with attr as its
// SysProcAttr (Windows adds a batch file's command line to it). The error
// is an [*exec.Error] if name cannot be found or cannot be run safely.
func New(name string, args, env []string, attr *sysProcAttr) (*exec.Cmd, error) {
	return newCmd(name, args, env, attr)
}

// LookPath returns the file that name runs, looked up in path (a PATH
// value) as [New] would look it up; env supplies PATHEXT on Windows.
func LookPath(name, path string, env []string) (string, error) {
	return lookPath(name, path, env)
}

// Getenv returns the last value of key in env, and whether it is set.
// Names are compared as the platform does (without case on Windows).
func Getenv(env []string, key string) (string, bool) {
	val, found := "", false
	for _, kv := range env {
		k, v, ok := strings.Cut(kv, "=")
		if ok && sameKey(k, key) {
			val, found = v, true
		}
	}
	return val, found
}
