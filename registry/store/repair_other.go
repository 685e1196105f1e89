//go:build !unix && !windows

package store

// withRepairLock runs repair; without flock, two processes repairing one
// store at once remain possible.
func withRepairLock(dir string, repair func() error) error { return repair() }

// withSnapshotLock runs write; without flock, two instances writing the
// snapshot at once may drop each other's new catalogues (the store keeps
// them).
func withSnapshotLock(dataDir string, write func() error) error { return write() }

// inUse reports false: without flock, mcpmux cannot tell.
func inUse(dir string) bool { return false }
