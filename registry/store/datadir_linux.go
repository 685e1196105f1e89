package store

import (
	"os"
	"path/filepath"
)

// dataDir is $XDG_STATE_HOME/mcpmux, else ~/.local/state/mcpmux.
func dataDir() (string, error) {
	if dir := os.Getenv("XDG_STATE_HOME"); filepath.IsAbs(dir) {
		return filepath.Join(dir, "mcpmux"), nil
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return "", err
	}
	return filepath.Join(home, ".local", "state", "mcpmux"), nil
}
