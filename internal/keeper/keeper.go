// Package keeper makes sure that no upstream process outlives mcpmux, even
// when mcpmux is killed with SIGKILL and can do nothing about it.
//
// The kernel's parent-death signal reaches only mcpmux's direct children,
// and only those that do not ignore it: a wrapper that forks (`sh -c 'node
// server.js; …'`), ignores SIGTERM or ignores its stdin closing would
// leave the real server running. So mcpmux starts one small keeper process
// first (itself, re-executed with a hidden command), in a process group of
// its own, and tells it over a pipe the process group of every upstream
// as it starts ([Keeper.Add]) and once it is gone ([Keeper.Remove]). When
// the pipe closes, because mcpmux exited or was killed, the keeper
// ([Serve]) sends SIGTERM to every group it still holds, then SIGKILL to
// those still there after a grace period, and exits.
//
// On Linux mcpmux also makes itself a child subreaper ([BecomeSubreaper]):
// a grandchild whose parent exits is re-parented to mcpmux rather than to
// init, so [Keeper.Reap] finds it, hands its group to the keeper and reaps
// it once it is a zombie.
package keeper

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"sync"
	"syscall"
	"time"

	"github.com/mcpmux/mcpmux/internal/clock"
)

// closeWait bounds how long Close waits for the keeper to exit.
const closeWait = 10 * time.Second

// Options says how to start the keeper process.
type Options struct {
	// Path and Args start a process that calls [Serve] on its stdin:
	// mcpmux itself, with a hidden command.
	Path string
	Args []string
	// Stderr receives the keeper's own messages. Nil means discard.
	Stderr io.Writer
	// Logger receives the parent's messages about the keeper. Nil means
	// discard.
	Logger *slog.Logger
	// Clock times Close's wait for the keeper. Nil means the system clock.
	Clock clock.Clock
}

// Keeper is mcpmux's side of the keeper process. Its methods are safe for
// concurrent use; those of a nil Keeper do nothing.
type Keeper struct {
	cmd    *exec.Cmd
	logger *slog.Logger
	clock  clock.Clock
	exited chan struct{} // closed when the keeper process has been reaped

	mu     sync.Mutex
	pipe   *os.File    // to the keeper; nil once closed
	groups map[int]int // process group → how many holders
	lost   bool        // the keeper went away; warned once
}

// Start starts the keeper process. Start it before any upstream.
func Start(opts Options) (*Keeper, error) {
	logger := opts.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	r, w, err := os.Pipe()
	if err != nil {
		return nil, fmt.Errorf("starting keeper: %w", err)
	}
	cmd := exec.Command(opts.Path, opts.Args...)
	cmd.Stdin = r
	if opts.Stderr != nil {
		// Through a pipe of the keeper's own, never mcpmux's stderr
		// itself: the keeper outlives a mcpmux that hands off, and its
		// host waits for the end of mcpmux's stderr.
		cmd.Stderr = struct{ io.Writer }{opts.Stderr}
	}
	cmd.SysProcAttr = keeperProcAttr()
	err = cmd.Start()
	r.Close() // the keeper has its own copy; ours would keep the pipe open
	if err != nil {
		w.Close()
		return nil, fmt.Errorf("starting keeper: %w", err)
	}
	k := &Keeper{cmd: cmd, logger: logger, clock: clock.Or(opts.Clock), exited: make(chan struct{}), pipe: w, groups: make(map[int]int)}
	go func() {
		err := cmd.Wait()
		close(k.exited)
		k.mu.Lock()
		defer k.mu.Unlock()
		if k.pipe != nil { // not asked to stop
			k.warnLost(fmt.Errorf("keeper exited: %w", orExitStatus(err)))
		}
	}()
	return k, nil
}

// PID returns the keeper's process id.
func (k *Keeper) PID() int {
	if k == nil {
		return 0
	}
	return k.cmd.Process.Pid
}

// Add hands the keeper the process group pgid: should mcpmux die, the
// group is ended. Each Add needs a Remove.
func (k *Keeper) Add(pgid int) {
	if k == nil || pgid <= 0 {
		return
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	k.groups[pgid]++
	if k.groups[pgid] == 1 {
		k.send('+', pgid)
	}
}

// Remove takes the process group pgid back from the keeper, once it is
// gone: its id may be reused by another.
func (k *Keeper) Remove(pgid int) {
	if k == nil || pgid <= 0 {
		return
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.groups[pgid] == 0 {
		return
	}
	k.groups[pgid]--
	if k.groups[pgid] == 0 {
		delete(k.groups, pgid)
		k.send('-', pgid)
	}
}

// holds reports whether the keeper holds pgid.
func (k *Keeper) holds(pgid int) bool {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.groups[pgid] > 0
}

// send writes one message to the keeper. The caller holds mu.
func (k *Keeper) send(op byte, pgid int) {
	if k.pipe == nil {
		return
	}
	if _, err := fmt.Fprintf(k.pipe, "%c%d\n", op, pgid); err != nil {
		k.warnLost(err)
	}
}

// warnLost warns, once, that upstreams are no longer guarded. The caller
// holds mu.
func (k *Keeper) warnLost(err error) {
	if !k.lost {
		k.lost = true
		k.logger.Warn("process keeper lost; upstreams may outlive mcpmux if it is killed", "err", err)
	}
}

// Alive reports whether the keeper is running and was not lost: only then
// can it take the children over (see HandOff).
func (k *Keeper) Alive() bool {
	if k == nil {
		return false
	}
	select {
	case <-k.exited:
		return false
	default:
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	return !k.lost && k.pipe != nil
}

// HandOff hands the process groups the keeper holds over to it, for good:
// mcpmux is exiting and has closed the stdin of every child in them. The
// keeper gives each group afterStdin to end by itself, then sends SIGTERM
// and, afterTerm later, SIGKILL to what is left, and exits once all are
// gone. HandOff closes the pipe and returns at once; it does not wait for
// the keeper, which runs in a session of its own and outlives mcpmux.
// Should the keeper be unreachable, the groups are killed here and now
// rather than left behind. Use Close instead to wait for the keeper.
func (k *Keeper) HandOff(afterStdin, afterTerm time.Duration) {
	if k == nil {
		return
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.pipe == nil {
		return
	}
	_, err := io.WriteString(k.pipe, handOffLine(afterStdin, afterTerm))
	err = errors.Join(err, k.pipe.Close())
	k.pipe = nil
	if err != nil {
		k.warnLost(err)
		for pgid := range k.groups {
			signalGroup(pgid, syscall.SIGKILL)
		}
	}
}

// Close closes the pipe to the keeper, which then ends the groups it still
// holds and exits, and waits for it. It is idempotent.
func (k *Keeper) Close() error {
	if k == nil {
		return nil
	}
	k.mu.Lock()
	pipe := k.pipe
	k.pipe = nil
	k.mu.Unlock()
	if pipe == nil {
		<-k.exited
		return nil
	}
	err := pipe.Close()
	t, expired := k.clock.NewTimer(closeWait)
	defer t.Stop()
	select {
	case <-k.exited:
	case <-expired:
		_ = k.cmd.Process.Kill()
		<-k.exited
		err = errors.Join(err, errors.New("keeper did not exit; killed it"))
	}
	return err
}

// orExitStatus returns err, or a clean exit's description.
func orExitStatus(err error) error {
	if err == nil {
		return errors.New("exit status 0")
	}
	return err
}
