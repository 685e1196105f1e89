package upstream

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"sort"
	"sync"
	"syscall"
	"time"

	"github.com/mcpmux/mcpmux/internal/clock"
	"github.com/mcpmux/mcpmux/internal/command"
	"github.com/mcpmux/mcpmux/registry"
)

// process is one running child of a stdio upstream. It owns the child until
// it has been reaped: the child runs in its own process group, and stop
// closes its stdin, then sends SIGTERM and finally SIGKILL to the group.
type process struct {
	cmd    *exec.Cmd
	stdin  io.WriteCloser
	stdout io.ReadCloser // read by the connection (see conn.readStdout)
	logger *slog.Logger
	groups Groups // told of the child's process group; may be nil

	exited     chan struct{} // closed once the child has been reaped
	exitErr    error         // the child's exit status; set before exited closes
	stderrDone chan struct{} // closed once the child's stderr has been read to its end

	exitedAt time.Time // when the child was reaped; set before exited closes

	mu           sync.Mutex
	lastStderr   string    // the last non-empty line the child wrote to stderr
	lastStderrAt time.Time // when it was read
}

// exitReason returns why the child ended; call it after exited is closed.
func (p *process) exitReason() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	return &exitError{err: p.exitErr, lastStderr: lastWords(p.exitErr, p.lastStderr, p.lastStderrAt, p.exitedAt)}
}

// lastWordsWindow is how long before its exit a child's last stderr line
// may have been read to count as why it exited.
const lastWordsWindow = 3 * time.Second

// lastWords returns the last stderr line of a child that ended with
// exitErr, read at at, if it says why the child exited: a crash's message
// comes last, just before the exit. A line from long before (a banner
// from start-up, the log of an earlier request) is leftover text, not a
// reason; and a child ended by a signal to stop (SIGTERM, SIGINT, SIGHUP,
// SIGKILL) ended because of the signal, whatever it wrote.
func lastWords(exitErr error, line string, at, exited time.Time) string {
	if line == "" || exited.Sub(at) > lastWordsWindow || stopSignal(exitErr) {
		return ""
	}
	return line
}

// stopSignal reports whether err says a process was ended by a signal
// that asks a process to stop, not by a fault of its own.
func stopSignal(err error) bool {
	var ee *exec.ExitError
	if !errors.As(err, &ee) {
		return false
	}
	ws, ok := ee.Sys().(syscall.WaitStatus)
	if !ok || !ws.Signaled() {
		return false
	}
	switch ws.Signal() {
	case syscall.SIGTERM, syscall.SIGINT, syscall.SIGHUP, syscall.SIGKILL:
		return true
	}
	return false
}

// stopTimeouts bound each step of stopping a child.
type stopTimeouts struct {
	afterStdin time.Duration // wait after closing stdin before SIGTERM
	afterTerm  time.Duration // wait after SIGTERM before SIGKILL
}

// startProcess starts the child of srv, with o.Env over its environment,
// and hands its process group to o.Groups, if set. Its stderr lines are
// logged; its stdout is the connection's to read.
func startProcess(srv *registry.Server, o *Options) (*process, error) {
	logger, groups := o.logger(), o.Groups
	env := append(mergeEnv(os.Environ(), srv.Env), o.Env...) // the last of a name wins
	cmd, err := command.New(srv.Command, srv.Args, env, sysProcAttr())
	if err != nil {
		return nil, fmt.Errorf("starting %q: %w", srv.Command, err)
	}
	cmd.Dir = srv.Cwd
	if groups != nil {
		keptByKeeper(cmd.SysProcAttr)
	}

	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, fmt.Errorf("opening stdin: %w", err)
	}
	// Plain pipes rather than StdoutPipe: Wait must not depend on the pipes
	// being drained, or a grandchild holding them open (npx's node, say)
	// would hide the exit of the child itself.
	stdout, stdoutW, err := os.Pipe()
	if err != nil {
		return nil, fmt.Errorf("opening stdout: %w", err)
	}
	stderr, stderrW, err := os.Pipe()
	if err != nil {
		closeAll(stdout, stdoutW)
		return nil, fmt.Errorf("opening stderr: %w", err)
	}
	cmd.Stdout, cmd.Stderr = stdoutW, stderrW
	err = cmd.Start()
	closeAll(stdoutW, stderrW) // the child has its own copies now
	if err != nil {
		closeAll(stdin, stdout, stderr)
		return nil, fmt.Errorf("starting %q: %w", srv.Command, err)
	}
	if err := contain(cmd, logger); err != nil {
		_ = cmd.Wait()
		closeAll(stdin, stdout, stderr)
		return nil, fmt.Errorf("starting %q: %w", srv.Command, err)
	}

	if groups != nil {
		groups.Add(cmd.Process.Pid) // its own group: Setpgid
	}
	p := &process{cmd: cmd, stdin: stdin, logger: logger, groups: groups, exited: make(chan struct{}),
		stderrDone: make(chan struct{})}
	p.stdout = stdout
	go p.readStderr(stderr, newStderrLog(logger, srv.LogStderr, clock.Or(o.Clock).Now))
	go p.wait()
	return p, nil
}

func closeAll(cs ...io.Closer) {
	for _, c := range cs {
		_ = c.Close()
	}
}

// mergeEnv returns base with env's entries set over it, in a stable order.
func mergeEnv(base []string, env map[string]string) []string {
	keys := make([]string, 0, len(env))
	for k := range env {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	out := make([]string, 0, len(base)+len(keys))
	out = append(out, base...)
	for _, k := range keys {
		out = append(out, k+"="+env[k])
	}
	return out
}

// stderrDrain bounds how long an exit waits for the rest of the child's
// stderr.
const stderrDrain = 250 * time.Millisecond

// wait reaps the child as soon as it exits.
func (p *process) wait() {
	p.exitErr = p.cmd.Wait()
	p.exitedAt = time.Now()
	// Members of the group that outlive the leader would be orphans.
	killGroup(p.cmd, syscall.SIGKILL)
	if p.groups != nil {
		p.groups.Remove(p.cmd.Process.Pid)
	}
	// The last words of a dying child are why it died: read them before
	// anyone asks. A holder of the pipe outside the group (a daemon it
	// started) may keep it open for good, so the wait is short.
	timer := time.NewTimer(stderrDrain)
	select {
	case <-p.stderrDone:
	case <-timer.C:
	}
	timer.Stop()
	close(p.exited)
}

// readStderr logs the child's stderr line by line (see stderrLog), and
// remembers the last line for the error of its exit. Very long lines are
// cut rather than buffered without bound.
func (p *process) readStderr(r io.ReadCloser, l *stderrLog) {
	defer close(p.stderrDone)
	defer r.Close()
	readLines(r, func(text []byte, cut int) {
		line := string(text)
		l.log(line, cut)
		p.noteStderr(line)
	})
	l.flush()
}

// noteStderr remembers the last stderr line for error messages.
func (p *process) noteStderr(line string) {
	const max = 300
	if len(line) > max {
		line = line[:max] + "…"
	}
	p.mu.Lock()
	p.lastStderr, p.lastStderrAt = line, time.Now()
	p.mu.Unlock()
}

// stop ends the child and waits until it has been reaped: stdin is closed
// (a well-behaved server exits on EOF), then the group gets SIGTERM, then
// SIGKILL. ctx cuts the graceful steps short.
func (p *process) stop(ctx context.Context, t stopTimeouts) error {
	_ = p.stdin.Close()
	if p.waitExit(ctx, t.afterStdin) {
		return p.exitErr
	}
	killGroup(p.cmd, syscall.SIGTERM)
	if p.waitExit(ctx, t.afterTerm) {
		return p.exitErr
	}
	killGroup(p.cmd, syscall.SIGKILL)
	<-p.exited
	return p.exitErr
}

// handOff closes the child's stdin and returns without waiting for it:
// mcpmux is exiting, and its keeper, which holds the child's group, gives
// the child the rest of the stop (see Supervisor.HandOff). If the child
// exits before mcpmux does, wait still reaps it.
func (p *process) handOff() {
	_ = p.stdin.Close()
}

// waitExit reports whether the child exits within d.
func (p *process) waitExit(ctx context.Context, d time.Duration) bool {
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case <-p.exited:
		return true
	case <-timer.C:
		return false
	case <-ctx.Done():
		return false
	}
}

// Groups is told of the process groups of an upstream's children: each
// child leads a group of its own, handed over once it has started and
// taken back once it has been reaped and its group killed. Its methods are
// safe for concurrent use.
type Groups interface {
	Add(pgid int)
	Remove(pgid int)
}
