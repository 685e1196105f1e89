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
	"strings"
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
//
// A mcpmux that exits on purpose hands its children over first ("stop
// <afterStdin> <afterTerm>", durations, see [Keeper.HandOff]): it has
// closed their stdin, so the keeper gives each group afterStdin to end by
// itself before SIGTERM, and afterTerm after it before SIGKILL, as mcpmux
// would have, while mcpmux itself exits at once.
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
	var polite *handOff // mcpmux handed its children over
	for done := false; !done; {
		select {
		case line, ok := <-lines:
			var err error
			switch {
			case !ok:
				done = true
			case strings.HasPrefix(line, handOffVerb):
				polite, err = parseHandOff(line)
			default:
				err = apply(groups, line, spared)
			}
			if err != nil {
				fmt.Fprintln(errOut, "mcpmux keeper:", err)
			}
		case <-ctx.Done():
			done = true
		}
	}
	end(groups, polite, opts)
}

// handOffVerb starts the line by which mcpmux hands its children over.
const handOffVerb = "stop "

// maxHandOffWait bounds each wait a hand-off line may ask for.
const maxHandOffWait = time.Minute

// handOff is how long the groups of an exiting mcpmux have to end, after
// their stdin was closed and after SIGTERM.
type handOff struct {
	afterStdin, afterTerm time.Duration
}

// handOffLine is the line that asks for h.
func handOffLine(afterStdin, afterTerm time.Duration) string {
	return fmt.Sprintf("%s%s %s\n", handOffVerb, afterStdin, afterTerm)
}

// parseHandOff parses "stop <afterStdin> <afterTerm>".
func parseHandOff(line string) (*handOff, error) {
	f := strings.Fields(strings.TrimPrefix(line, handOffVerb))
	if len(f) != 2 {
		return nil, fmt.Errorf("bad line %q", line)
	}
	var h handOff
	var err1, err2 error
	h.afterStdin, err1 = time.ParseDuration(f[0])
	h.afterTerm, err2 = time.ParseDuration(f[1])
	if err1 != nil || err2 != nil || h.afterStdin < 0 || h.afterTerm < 0 || h.afterStdin > maxHandOffWait || h.afterTerm > maxHandOffWait {
		return nil, fmt.Errorf("bad waits in %q", line)
	}
	return &h, nil
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

// end ends every group: those of a mcpmux that handed them over (polite)
// get its afterStdin to end by themselves first. Then SIGTERM, up to the
// grace period (polite's afterTerm) for them to be gone, and SIGKILL to
// those that are not.
func end(groups map[int]bool, polite *handOff, opts ServeOptions) {
	c := clock.Or(opts.Clock)
	grace := opts.Grace
	if grace <= 0 {
		grace = DefaultGrace
	}
	if polite != nil {
		waitGone(groups, polite.afterStdin, c)
		grace = polite.afterTerm
	}
	if len(groups) == 0 {
		return
	}
	for pgid := range groups {
		signalGroup(pgid, syscall.SIGTERM)
	}
	waitGone(groups, grace, c)
	for pgid := range groups {
		signalGroup(pgid, syscall.SIGKILL)
	}
}

// waitGone waits up to d for the groups to be gone, deleting each from
// groups as it goes.
func waitGone(groups map[int]bool, d time.Duration, c clock.Clock) {
	deadline := c.Now().Add(d)
	for {
		for pgid := range groups {
			if groupGone(pgid) {
				delete(groups, pgid)
			}
		}
		if len(groups) == 0 || !c.Now().Before(deadline) {
			return
		}
		t, tick := c.NewTimer(pollInterval)
		<-tick
		t.Stop()
	}
}
