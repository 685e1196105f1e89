//go:build !linux && !darwin && !windows

package store

import (
	"os"
	"path/filepath"
)

// dataDir is the user cache directory's mcpmux.
func dataDir() (string, error) {
	dir, err := os.UserCacheDir()
	if err != nil {
		return "", err
	}
	return filepath.Join(dir, "mcpmux"), nil
}
