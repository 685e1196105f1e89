// Package filelock takes whole-file advisory locks that other processes
// respect: flock(2) on Unix, LockFileEx on Windows. A lock belongs to the
// open file it was taken through, so two opens of one file in one process
// exclude each other too; closing the file releases it.
//
// The store's repair and snapshot locks (registry/store) and the tests' npm
// cache lock (internal/testutil) take their locks here.
package filelock

import (
	"errors"
	"os"
	"time"
)

// ErrLocked is returned by [TryLock] when another open file holds the lock.
var ErrLocked = errors.New("file is locked by another process")

// Lock takes an exclusive lock on f, waiting for it as long as it takes.
func Lock(f *os.File) error { return lock(f, true) }

// TryLock takes an exclusive lock on f if it is free, and returns
// [ErrLocked] if it is not.
func TryLock(f *os.File) error { return lock(f, false) }

// Unlock releases the lock on f.
func Unlock(f *os.File) error { return unlock(f) }

// LockWithin takes an exclusive lock on f, trying again every poll until
// wait has passed; then it returns [ErrLocked].
func LockWithin(f *os.File, wait, poll time.Duration) error {
	deadline := time.Now().Add(wait)
	for {
		err := TryLock(f)
		if !errors.Is(err, ErrLocked) || time.Now().After(deadline) {
			return err
		}
		time.Sleep(poll)
	}
}
