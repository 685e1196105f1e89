//go:build !unix

package store

import (
	"os/exec"
	"syscall"
)

func childProcAttr() *syscall.SysProcAttr { return nil }

// signalChild ends the child: there is no gentler signal to ask it with.
func signalChild(cmd *exec.Cmd, _ syscall.Signal) { _ = cmd.Process.Kill() }
