//go:build unix || windows

package store

import (
	"fmt"
	"os"
	"path/filepath"
)

// withPinsLock runs write while holding an exclusive lock on a file in
// dataDir, so that the writers of the pins take turns.
func withPinsLock(dataDir string, write func() error) error {
	if err := os.MkdirAll(dataDir, 0o700); err != nil {
		return fmt.Errorf("opening pins lock: %w", err)
	}
	return withFileLock(filepath.Join(dataDir, ".pins.lock"), repairLockWait, "pins lock", write)
}
