//go:build unix || windows

package store

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/mcpmux/mcpmux/internal/filelock"
)

// repairLockWait bounds how long a process waits for another to finish
// repairing the store.
const repairLockWait = 5 * time.Second

// withRepairLock runs repair while holding an exclusive lock on a file
// beside dir, so that two processes finding the store damaged at once do
// not both move it aside: the second would move aside the fresh store the
// first has just made.
func withRepairLock(dir string, repair func() error) error {
	return withFileLock(dir+".repair.lock", repairLockWait, "repair lock", repair)
}

// withSnapshotLock runs write while holding an exclusive lock on a file in
// dataDir, so that instances sharing it take turns at the snapshot.
func withSnapshotLock(dataDir string, write func() error) error {
	if err := os.MkdirAll(dataDir, 0o700); err != nil {
		return fmt.Errorf("opening snapshot lock: %w", err)
	}
	return withFileLock(filepath.Join(dataDir, ".catalogues.lock"), repairLockWait, "snapshot lock", write)
}

// withFileLock runs fn while holding an exclusive lock on the file path,
// created if need be, waiting for it at most wait.
func withFileLock(path string, wait time.Duration, what string, fn func() error) error {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return fmt.Errorf("opening %s: %w", what, err)
	}
	defer f.Close()
	if err := filelock.LockWithin(f, wait, 20*time.Millisecond); err != nil {
		return fmt.Errorf("taking %s: %w", what, err)
	}
	defer filelock.Unlock(f)
	return fn()
}

// inUse reports whether another open store holds dir's Badger lock. Badger
// may read a store's files before it takes that lock, and so take a store
// that another process is writing for a damaged one.
func inUse(dir string) bool {
	f, err := os.Open(filepath.Join(dir, "LOCK"))
	if err != nil {
		return lockHeld(err)
	}
	defer f.Close()
	if err := filelock.TryLock(f); err != nil {
		return errors.Is(err, filelock.ErrLocked)
	}
	_ = filelock.Unlock(f)
	return false
}
