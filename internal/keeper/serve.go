package keeper

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os/signal"
	"runtime/debug"
	"slices"
	"strconv"
	"syscall"
	"time"

	"github.com/mcpmux/mcpmux/internal/clock"
)

// Defaults of [ServeOptions].
const (
	// DefaultGrace is how long the groups have after SIGTERM before
	// SIGKILL: wrappers such as npx pass SIGTERM on and exit within it.
	DefaultGrace = 2 * time.Second
	// pollInterval is how often the keeper looks whether the groups are
	// gone.
	pollInterval = 20 * time.Millisecond
)

// ServeOptions configures [Serve]. The zero value means defaults.
type ServeOptions struct {
	// Grace is how long the groups have after SIGTERM before SIGKILL.
	// Zero means DefaultGrace.
	Grace time.Duration
	// Clock times the grace period. Nil means the system clock.
	Clock clock.Clock
}

// Serve is the keeper process: it reads from in, mcpmux's pipe, the
// process groups to hold ("+<pgid>") and to let go ("-<pgid>"), one per
// line, until the pipe closes or ctx ends (the keeper itself was asked to
// stop); then it ends every group it holds, SIGTERM first and SIGKILL
// after the grace period, and returns. Bad lines are reported on errOut
// and skipped.
func Serve(ctx context.Context, in io.Reader, errOut io.Writer, opts ServeOptions) {
	// The terminal that mcpmux's host runs in may close: the keeper has
	// work to do then.
	signal.Ignore(syscall.SIGHUP, syscall.SIGPIPE)
	// What mcpmux's packages allocated at start-up is garbage here: give it
	// back, the keeper lives as long as mcpmux.
	debug.FreeOSMemory()
	groups := make(map[int]bool)
	// Never the keeper's own group, nor that of the mcpmux that started it,
	// whose host's processes may share it.
	spared := spare()
	lines := make(chan string)
	go func() {
		defer close(lines)
		sc := bufio.NewScanner(in)
		for sc.Scan() {
			lines <- sc.Text()
		}
	}()
	for done := false; !done; {
		select {
		case line, ok := <-lines:
			if !ok {
				done = true
			} else if err := apply(groups, line, spared); err != nil {
				fmt.Fprintln(errOut, "mcpmux keeper:", err)
			}
		case <-ctx.Done():
			done = true
		}
	}
	end(groups, opts)
}

// apply applies one line from mcpmux to groups. It refuses to hold the
// groups in spared.
func apply(groups map[int]bool, line string, spared []int) error {
	if len(line) < 2 || (line[0] != '+' && line[0] != '-') {
		return fmt.Errorf("bad line %q", line)
	}
	pgid, err := strconv.Atoi(line[1:])
	if err != nil || pgid <= 1 {
		return fmt.Errorf("bad process group in %q", line)
	}
	switch {
	case line[0] == '+' && slices.Contains(spared, pgid):
		return fmt.Errorf("refusing to hold process group %d: mcpmux's own or the keeper's", pgid)
	case line[0] == '+':
		groups[pgid] = true
	default:
		delete(groups, pgid)
	}
	return nil
}

// end sends SIGTERM to every group, waits up to the grace period for them
// to be gone, and sends SIGKILL to those that are not.
func end(groups map[int]bool, opts ServeOptions) {
	if len(groups) == 0 {
		return
	}
	for pgid := range groups {
		signalGroup(pgid, syscall.SIGTERM)
	}
	c := clock.Or(opts.Clock)
	grace := opts.Grace
	if grace <= 0 {
		grace = DefaultGrace
	}
	deadline := c.Now().Add(grace)
	for len(groups) > 0 && c.Now().Before(deadline) {
		t, tick := c.NewTimer(pollInterval)
		<-tick
		t.Stop()
		for pgid := range groups {
			if groupGone(pgid) {
				delete(groups, pgid)
			}
		}
	}
	for pgid := range groups {
		signalGroup(pgid, syscall.SIGKILL)
	}
}
