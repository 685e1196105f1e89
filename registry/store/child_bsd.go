//go:build unix && !linux

package store

import "syscall"

// childProcAttr puts a store child in a process group of its own.
func childProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true}
}
