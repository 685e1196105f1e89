//go:build !windows

package store

// badgerReadOnly is how a store opened read-only is opened in Badger: as
// it is asked.
func badgerReadOnly(readOnly bool) bool { return readOnly }

// lockHeld reports whether err, from opening a store's LOCK file, means
// another process holds it: on Unix an open never says so.
func lockHeld(err error) bool { return false }
