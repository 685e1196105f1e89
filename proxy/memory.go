package proxy

import (
	"runtime/debug"
	"sync/atomic"
)

// hugeMessage is the size of a request or response after which mcpmux
// gives the memory it took back to the system at once.
const hugeMessage = 16 << 20

var releasing atomic.Bool

// releaseMemory returns the heap's free memory to the system, off the
// caller's path, one release at a time. Without it, a process that has
// just passed a message of a hundred megabytes keeps its peak until enough
// other allocations trigger collections and the scavenger catches up (a
// 100 MB result left 428 MB resident). The first collection may still find
// the message referenced by the goroutine that is ending; the second
// frees it.
func releaseMemory() {
	if !releasing.CompareAndSwap(false, true) {
		return
	}
	go func() {
		defer releasing.Store(false)
		debug.FreeOSMemory()
		debug.FreeOSMemory()
	}()
}
