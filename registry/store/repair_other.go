//go:build !unix

package store

// withRepairLock runs repair; without flock, two processes repairing one
// store at once remain possible.
func withRepairLock(dir string, repair func() error) error { return repair() }

// inUse reports false: without flock, mcpmux cannot tell.
func inUse(dir string) bool { return false }
