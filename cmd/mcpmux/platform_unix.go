//go:build !windows

package main

// keeperNeeded: on Unix only the keeper ends upstreams that a killed
// mcpmux leaves behind (on macOS there is no parent-death signal either).
const keeperNeeded = true

// reloadOtherwise says how to reload the configuration without the watch.
const reloadOtherwise = "SIGHUP reloads it"
