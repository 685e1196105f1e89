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
// The keeper itself may be lost while mcpmux runs (killed by a user or
// an OOM killer): a new one is started at once and told every group the
// old one held (see [Keeper]), so that a mcpmux killed later still leaves
// nothing behind.
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

// maxRestarts bounds how many times a lost keeper is replaced in one run:
// one that cannot stay up (its binary replaced by an upgrade that cannot
// run here, say) is not started again and again.
const maxRestarts = 10

// Options says how to start the keeper process.
type Options struct {
	// Path and Args start a process that calls [Serve] on its stdin:
	// mcpmux itself, with a hidden command.
	Path string
	Args []string
	// Env is added to the keeper's environment, which is the parent's.
	Env []string
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
//
// Should the keeper process be lost while mcpmux runs (killed: it ignores
// SIGTERM and SIGINT, and a kill of mcpmux's group does not reach it),
// the children it held would have no one to end them if mcpmux were
// killed next: they have no parent-death signal (see upstream's
// keptByKeeper). So a lost keeper is replaced at once by a new process,
// told every group the old one held, up to maxRestarts times.
type Keeper struct {
	opts   Options
	logger *slog.Logger
	clock  clock.Clock

	mu       sync.Mutex
	proc     *proc       // the keeper process running now
	groups   map[int]int // process group → how many holders
	done     bool        // HandOff or Close: no keeper is started again
	lost     bool        // no keeper runs any more; warned once
	restarts int         // keepers started to replace lost ones
}

// proc is one keeper process.
type proc struct {
	cmd    *exec.Cmd
	pipe   *os.File      // to the keeper; nil once closed
	exited chan struct{} // closed when the process has been reaped
}

// Start starts the keeper process. Start it before any upstream.
func Start(opts Options) (*Keeper, error) {
	logger := opts.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	k := &Keeper{opts: opts, logger: logger, clock: clock.Or(opts.Clock), groups: make(map[int]int)}
	k.mu.Lock()
	defer k.mu.Unlock()
	p, err := k.startLocked()
	if err != nil {
		return nil, err
	}
	k.proc = p
	return k, nil
}

// startLocked starts a keeper process, and a goroutine that replaces it
// should it exit before it is asked to. The caller holds mu.
func (k *Keeper) startLocked() (*proc, error) {
	r, w, err := os.Pipe()
	if err != nil {
		return nil, fmt.Errorf("starting keeper: %w", err)
	}
	cmd := exec.Command(k.opts.Path, k.opts.Args...)
	if len(k.opts.Env) > 0 {
		cmd.Env = append(os.Environ(), k.opts.Env...)
	}
	cmd.Stdin = r
	if k.opts.Stderr != nil {
		// Through a pipe of the keeper's own, never mcpmux's stderr
		// itself: the keeper outlives a mcpmux that hands off, and its
		// host waits for the end of mcpmux's stderr.
		cmd.Stderr = struct{ io.Writer }{k.opts.Stderr}
	}
	cmd.SysProcAttr = keeperProcAttr()
	err = cmd.Start()
	r.Close() // the keeper has its own copy; ours would keep the pipe open
	if err != nil {
		w.Close()
		return nil, fmt.Errorf("starting keeper: %w", err)
	}
	p := &proc{cmd: cmd, pipe: w, exited: make(chan struct{})}
	go func() {
		err := cmd.Wait()
		close(p.exited)
		k.mu.Lock()
		defer k.mu.Unlock()
		if k.proc == p && p.pipe != nil { // not asked to stop
			k.replaceLocked(fmt.Errorf("keeper exited: %w", orExitStatus(err)))
		}
	}()
	return p, nil
}

// replaceLocked replaces the current keeper process, which is lost (why
// says how), with a new one that holds every group the old one did; if
// none can be started, it warns, once, that the upstreams are no longer
// guarded. The caller holds mu.
func (k *Keeper) replaceLocked(why error) {
	if k.lost || k.done {
		return
	}
	if old := k.proc; old.pipe != nil {
		_ = old.pipe.Close()
		old.pipe = nil
		// One that hangs rather than exited must not hold groups too.
		_ = old.cmd.Process.Kill()
	}
	if k.restarts >= maxRestarts {
		k.warnLost(fmt.Errorf("%w; replaced %d times already", why, k.restarts))
		return
	}
	k.restarts++
	p, err := k.startLocked()
	if err != nil {
		k.warnLost(errors.Join(why, err))
		return
	}
	k.proc = p
	k.logger.Warn("process keeper lost; started a new one", "err", why, "pid", p.cmd.Process.Pid, "groups", len(k.groups))
	for pgid := range k.groups {
		if _, err := fmt.Fprintf(p.pipe, "+%d\n", pgid); err != nil {
			k.replaceLocked(err)
			return
		}
	}
}

// PID returns the process id of the keeper running now.
func (k *Keeper) PID() int {
	if k == nil {
		return 0
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.proc.cmd.Process.Pid
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

// send writes one message to the keeper; one that cannot be written
// means the keeper is lost, and a new one takes over (with the groups
// after this change). The caller holds mu.
func (k *Keeper) send(op byte, pgid int) {
	if k.proc.pipe == nil {
		return
	}
	if _, err := fmt.Fprintf(k.proc.pipe, "%c%d\n", op, pgid); err != nil {
		k.replaceLocked(err)
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

// Alive reports whether a keeper is running and was not lost: only then
// can it take the children over (see HandOff).
func (k *Keeper) Alive() bool {
	if k == nil {
		return false
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	select {
	case <-k.proc.exited:
		return false
	default:
	}
	return !k.lost && k.proc.pipe != nil
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
	k.done = true
	p := k.proc
	if p.pipe == nil {
		return
	}
	_, err := io.WriteString(p.pipe, handOffLine(afterStdin, afterTerm))
	err = errors.Join(err, p.pipe.Close())
	p.pipe = nil
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
	k.done = true
	p := k.proc
	pipe := p.pipe
	p.pipe = nil
	k.mu.Unlock()
	if pipe == nil {
		<-p.exited
		return nil
	}
	err := pipe.Close()
	t, expired := k.clock.NewTimer(closeWait)
	defer t.Stop()
	select {
	case <-p.exited:
	case <-expired:
		_ = p.cmd.Process.Kill()
		<-p.exited
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
