//go:build !linux

package store

import "time"

// heldBack is not known here: a store child's time limit is wall-clock
// time (see hangLimit).
func heldBack(int) (time.Duration, bool) { return 0, false }
