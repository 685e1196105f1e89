package store

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"testing"
)

// childEnv makes the test binary act as a store child (see testChild).
const childEnv = "MCPMUX_STORE_TEST_CHILD"

func TestMain(m *testing.M) {
	if os.Getenv(childEnv) == "1" {
		ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM)
		err := ServeChild(ctx, os.Stdin, os.Stdout, os.Stderr)
		stop()
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	// The race detector sleeps a second before a process exits; every
	// store child would pay it.
	if os.Getenv("GORACE") == "" {
		os.Setenv("GORACE", "atexit_sleep_ms=0")
	}
	os.Exit(m.Run())
}

// testChild runs store jobs in the test binary, as mcpmux runs them in
// itself.
func testChild() *Child {
	return &Child{Path: os.Args[0], Env: []string{childEnv + "=1"}}
}
