package main

import (
	"os"
	"os/signal"
	"syscall"
	"testing"
)

// TestMain runs the hidden commands mcpmux re-executes itself with: in a
// test, the test binary stands in for mcpmux.
func TestMain(m *testing.M) {
	if len(os.Args) > 1 && (os.Args[1] == storeCommand || os.Args[1] == keeperCommand) {
		main()
		return
	}
	// The race detector sleeps a second before a process exits; mcpmux's
	// children would pay it on every use of the store.
	if os.Getenv("GORACE") == "" {
		os.Setenv("GORACE", "atexit_sleep_ms=0")
	}
	// serve listens for SIGHUP. The goroutine of os/signal that the first
	// Notify starts lives as long as the process: start it before any
	// test counts goroutines (see testutil.CheckNoGoroutineLeak).
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	signal.Stop(hup)
	// The commands' default data directory (pins, snapshot, store) is a
	// temporary one: a test that names no --data-dir must not read or
	// write the user's, nor share one with another test binary running
	// at the same time (mcpmux tools and call judge by its pins).
	state, err := os.MkdirTemp("", "mcpmux-state-")
	if err != nil {
		panic(err)
	}
	os.Setenv("XDG_STATE_HOME", state)
	code := m.Run()
	os.RemoveAll(state)
	os.Exit(code)
}
