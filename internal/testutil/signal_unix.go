//go:build unix

package testutil

import (
	"errors"
	"syscall"
)

// Kill ends process pid at once (SIGKILL), as a crash or kill -9 would.
func Kill(pid int) error { return syscall.Kill(pid, syscall.SIGKILL) }

// Alive reports whether process pid exists (a zombie counts).
func Alive(pid int) bool {
	err := syscall.Kill(pid, 0)
	return err == nil || errors.Is(err, syscall.EPERM)
}
