package store

import (
	"os"
	"path/filepath"
)

// dataDir is ~/Library/Application Support/mcpmux/state: beside the
// configuration, and not in ~/Library/Caches, which macOS may empty.
func dataDir() (string, error) {
	dir, err := os.UserConfigDir() // ~/Library/Application Support
	if err != nil {
		return "", err
	}
	return filepath.Join(dir, "mcpmux", "state"), nil
}
