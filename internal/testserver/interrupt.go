package main

import (
	"fmt"
	"os"
	"os/signal"
	"syscall"
)

// recordInterrupts appends a line naming each interrupt the server gets to
// the file path (-interrupts), and exits 0 after it unless ignore: a test
// then knows which step of an upstream's stop reached it (CTRL_BREAK on
// Windows arrives as os.Interrupt) and which ended it.
func recordInterrupts(path string, ignore bool) {
	ch := make(chan os.Signal, 4)
	signal.Notify(ch, os.Interrupt, syscall.SIGTERM)
	go func() {
		for sig := range ch {
			if f, err := os.OpenFile(path, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644); err == nil {
				fmt.Fprintf(f, "interrupt %s ignore=%t\n", sig, ignore)
				f.Close()
			}
			if !ignore {
				os.Exit(0)
			}
		}
	}()
}
