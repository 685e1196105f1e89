//go:build !unix && !windows

package store

// withPinsLock runs write; without flock, two writers of the pins at once
// may drop each other's news, which the next judging records again.
func withPinsLock(dataDir string, write func() error) error { return write() }
