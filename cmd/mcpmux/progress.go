package main

import (
	"fmt"
	"io"
	"slices"
	"strings"
	"sync"

	"github.com/mcpmux/mcpmux/registry"
	"github.com/mcpmux/mcpmux/upstream"
)

// progress shows which servers a command still waits for: on a terminal,
// one line rewritten in place ("waiting for 2 of 5: github, slack"),
// erased when done; piped, a plain line per server as it finishes.
type progress struct {
	w    io.Writer
	tty  bool
	verb string // "checked", "ready"

	mu      sync.Mutex
	total   int
	waiting []string
	shown   bool
}

func newProgress(w io.Writer, total int, verb string) *progress {
	return &progress{w: w, tty: isTerminal(w), total: total, verb: verb}
}

// update records that server started (done false) or finished.
func (p *progress) update(server string, done bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if !done {
		p.waiting = append(p.waiting, server)
	} else if i := slices.Index(p.waiting, server); i >= 0 {
		p.waiting = slices.Delete(p.waiting, i, i+1)
		if !p.tty {
			fmt.Fprintf(p.w, "mcpmux: %s %s (%d of %d)\n", server, p.verb, p.total-len(p.waiting), p.total)
		}
	}
	if p.tty {
		p.draw()
	}
}

func (p *progress) draw() {
	if len(p.waiting) == 0 {
		p.erase()
		return
	}
	names := slices.Sorted(slices.Values(p.waiting))
	line := fmt.Sprintf("waiting for %d of %d: %s", len(names), p.total, strings.Join(names, ", "))
	if len(line) > 100 {
		line = line[:99] + "…"
	}
	fmt.Fprintf(p.w, "\r\033[K%s", line)
	p.shown = true
}

// erase removes the line from the terminal.
func (p *progress) erase() {
	if p.shown {
		fmt.Fprint(p.w, "\r\033[K")
		p.shown = false
	}
}

// done ends the display.
func (p *progress) done() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.erase()
}

// upstreamProgress returns a mux.Options.Upstream hook that tells p of
// each upstream's start and of its end: ready, or failed.
func upstreamProgress(p *progress) func(*registry.Server, *upstream.Options) {
	return func(s *registry.Server, o *upstream.Options) {
		next := o.OnState
		var once sync.Once
		p.update(s.Name, false)
		o.OnState = func(st upstream.Status) {
			if next != nil {
				next(st)
			}
			if st.State == upstream.StateReady || st.State == upstream.StateBackoff || st.State == upstream.StateStopped {
				once.Do(func() { p.update(s.Name, true) })
			}
		}
	}
}
