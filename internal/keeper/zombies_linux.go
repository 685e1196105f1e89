package keeper

import (
	"os"
	"strconv"
)

// onlyZombies reports whether every process of the group pgid is a zombie,
// as /proc tells.
func onlyZombies(pgid int) bool {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return false
	}
	for _, e := range entries {
		if _, err := strconv.Atoi(e.Name()); err != nil {
			continue
		}
		if c, ok := readChild(e.Name()); ok && c.pgid == pgid && c.state != 'Z' && c.state != 'X' {
			return false
		}
	}
	return true
}
