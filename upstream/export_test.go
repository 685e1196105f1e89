package upstream

import "time"

// SetStopSignalGrace sets stopSignalGrace for a test and returns a
// function that restores it.
func SetStopSignalGrace(d time.Duration) (restore func()) {
	old := stopSignalGrace
	stopSignalGrace = d
	return func() { stopSignalGrace = old }
}
