// Package footprint gives back to the system the memory that mcpmux needs
// only while it starts.
//
// Start-up runs most of mcpmux's code once: package initialisation
// (mcp-go's JSON Schema meta-schemas among it), every upstream's spawn and
// handshake, the merges of their catalogues. Each page of the executable
// that this touches is mapped with its neighbours (the kernel maps page
// cache in whole blocks around a fault), so that a serving mcpmux counts
// most of its 20 MB executable as resident, and start-up's garbage stays
// in its heap until the runtime's scavenger gets to it. [Release], once
// start-up is over, drops both: what serving then runs faults back in on
// use, a few pages.
package footprint

import "runtime/debug"

// DropCode drops the pages of the executable's code and read-only data
// from the process's mappings, on Linux (see Release); it costs no garbage
// collection.
func DropCode() { dropCode() }

// Release returns the heap's free memory to the system and drops the
// pages of the executable's code and read-only data from the process's
// mappings (on Linux; elsewhere only the heap's). It costs a garbage
// collection; call it off any request's path.
func Release() {
	debug.FreeOSMemory()
	dropCode()
}
