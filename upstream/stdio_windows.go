package upstream

import (
	"errors"
	"syscall"

	"golang.org/x/sys/windows"
)

// writeNoWait writes nothing: a Windows anonymous pipe cannot be written
// without the risk of waiting, so the whole message goes on tryWrite's
// goroutine.
func writeNoWait(uintptr, []byte) (int, error) { return 0, nil }

// brokenPipe reports whether err, from a write, means the reader is gone:
// Windows says so with "the pipe is being closed" or "the pipe has been
// ended".
func brokenPipe(err error) bool {
	return errors.Is(err, windows.ERROR_NO_DATA) || errors.Is(err, windows.ERROR_BROKEN_PIPE) ||
		errors.Is(err, syscall.EPIPE)
}
