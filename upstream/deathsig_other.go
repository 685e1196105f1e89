//go:build !linux

package upstream

import "syscall"

// keptByKeeper changes nothing: only Linux has a parent-death signal.
func keptByKeeper(*syscall.SysProcAttr) {}
