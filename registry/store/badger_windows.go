package store

import (
	"errors"

	"golang.org/x/sys/windows"
)

// badgerReadOnly is how a store opened read-only is opened in Badger:
// Badger has no read-only mode on Windows, so it opens read-write, and
// mcpmux's own ReadOnly checks keep it from writing. Like any open on
// Windows, it waits its turn behind a writer (ErrLocked).
func badgerReadOnly(readOnly bool) bool { return false }

// lockHeld reports whether err, from opening a store's LOCK file, means
// another process holds it: Badger opens it for itself alone, so an open
// beside it fails with a sharing violation.
func lockHeld(err error) bool { return errors.Is(err, windows.ERROR_SHARING_VIOLATION) }
