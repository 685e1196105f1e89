// Command linerelay is a minimal stdio relay: it runs the command its
// arguments name and copies newline-delimited messages between its own
// stdin and stdout and the child's, one write per message, with nothing
// else (see testutil.RelayLines). Benchmarks put it where mcpmux would
// stand, to measure the floor of any stdio proxy's hop.
package main

import (
	"fmt"
	"os"
	"os/exec"

	"github.com/mcpmux/mcpmux/internal/testutil"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: linerelay COMMAND [ARG...]")
		os.Exit(64)
	}
	cmd := exec.Command(os.Args[1], os.Args[2:]...)
	cmd.Stderr = os.Stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		fail(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		fail(err)
	}
	if err := cmd.Start(); err != nil {
		fail(err)
	}
	go func() {
		_ = testutil.RelayLines(stdin, os.Stdin)
		stdin.Close()
	}()
	_ = testutil.RelayLines(os.Stdout, stdout)
	_ = cmd.Wait()
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "linerelay:", err)
	os.Exit(1)
}
