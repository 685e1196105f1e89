//go:build unix

package upstream

import (
	"errors"
	"syscall"
)

// writeNoWait writes to the non-blocking pipe fd what it takes at once.
func writeNoWait(fd uintptr, p []byte) (int, error) { return syscall.Write(int(fd), p) }

// brokenPipe reports whether err, from a write, means the reader is gone.
func brokenPipe(err error) bool { return errors.Is(err, syscall.EPIPE) }
