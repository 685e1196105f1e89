package main

import (
	"strings"
	"testing"
)

// On a terminal, progress is one line rewritten in place, naming the
// servers still waited for, and erased at the end; piped, a plain line
// per server done.
func TestProgress(t *testing.T) {
	var tty strings.Builder
	p := newProgress(&tty, 2, "ready")
	p.tty = true
	p.update("b", false)
	p.update("a", false)
	p.update("b", true)
	p.done()
	want := "\r\033[Kwaiting for 1 of 2: b" + "\r\033[Kwaiting for 2 of 2: a, b" + "\r\033[Kwaiting for 1 of 2: a" + "\r\033[K"
	if tty.String() != want {
		t.Errorf("on a terminal: %q\nwant %q", tty.String(), want)
	}
	var piped strings.Builder
	p = newProgress(&piped, 2, "checked")
	p.update("a", false)
	p.update("b", false)
	p.update("a", true)
	p.update("b", true)
	p.done()
	if got := piped.String(); got != "mcpmux: a checked (1 of 2)\nmcpmux: b checked (2 of 2)\n" {
		t.Errorf("piped: %q", got)
	}
}
