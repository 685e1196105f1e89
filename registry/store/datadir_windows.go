package store

import (
	"os"
	"path/filepath"
)

// dataDir is %LOCALAPPDATA%\mcpmux: state that belongs to this machine,
// unlike the configuration in the roaming %APPDATA%.
func dataDir() (string, error) {
	dir, err := os.UserCacheDir() // %LocalAppData%
	if err != nil {
		return "", err
	}
	return filepath.Join(dir, "mcpmux"), nil
}
