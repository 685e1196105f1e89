package store

import (
	"bufio"
	"bytes"
	"context"
	"encoding/gob"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/mcpmux/mcpmux/internal/clock"
)

// DefaultChildTimeout is how long a child process may take for one use of
// the store beyond its wait for the lock, before it counts as hung.
const DefaultChildTimeout = 10 * time.Second

// maxCrashText bounds what is kept of a child's stderr that is not a log
// record: a Go panic's message and the start of its stack.
const maxCrashText = 16 << 10

// Child says how to run a use of the store in a child process: Badger
// panics on goroutines of its own when some damaged files are opened,
// which no recover can see, and would take the whole process down with
// it. The child reads one job from stdin, does it, writes the result to
// stdout and exits; its log records arrive on stderr as JSON and are
// logged by the parent. A child that crashes or hangs means the store is
// damaged.
type Child struct {
	// Path and Args start a process that calls [ServeChild]: mcpmux
	// itself, with a hidden subcommand.
	Path string
	Args []string
	// Env is added to the child's environment, which is the parent's.
	Env []string
	// Timeout bounds one use beyond its wait for the lock, not counting
	// the time a busy machine holds the child back (see hangLimit). Zero
	// means DefaultChildTimeout.
	Timeout time.Duration
	// Clock times the child. Nil means the system clock.
	Clock clock.Clock
}

// ServeChild is the child's side of [Child]: it reads one job from stdin,
// does it, and writes the result to stdout. Its log records go to stderr
// as JSON lines. It returns an error only if it cannot read the job or
// write the result; the job's own failure is part of the result. ctx
// ending (mcpmux is stopping) ends waiting for the store's lock.
func ServeChild(ctx context.Context, stdin io.Reader, stdout, stderr io.Writer) error {
	// A mcpmux that exits does not wait for its last write (see
	// Recorder.FinalWait): the write goes on, and the pipes to the gone
	// parent must not end it halfway.
	signal.Ignore(syscall.SIGPIPE)
	var j job
	if err := gob.NewDecoder(stdin).Decode(&j); err != nil {
		return fmt.Errorf("reading store job: %w", err)
	}
	// Its parent kills a child that hangs; one whose parent has exited
	// ends itself, a second after the parent's limit would have.
	go exitWhenHung(j.LockWait + DefaultChildTimeout + time.Second)
	logger := slog.New(slog.NewJSONHandler(stderr, &slog.HandlerOptions{Level: j.LogLevel}))
	res, err := j.run(ctx, logger)
	res.setErr(err)
	if err := gob.NewEncoder(stdout).Encode(res); err != nil {
		return fmt.Errorf("writing store result: %w", err)
	}
	return nil
}

// run runs j in a child process and returns its result. When ctx ends,
// the child is asked to stop (SIGTERM); one that has not finished within
// its time limit is killed, and the store counts as damaged.
func (c *Child) run(ctx context.Context, j *job, logger *slog.Logger) (*result, error) {
	var in bytes.Buffer
	if err := gob.NewEncoder(&in).Encode(j); err != nil {
		return nil, fmt.Errorf("encoding store job: %w", err)
	}
	started := clock.Or(c.Clock).Now()
	var out bytes.Buffer
	cmd := exec.Command(c.Path, c.Args...)
	cmd.Env = append(os.Environ(), c.Env...)
	cmd.SysProcAttr = childProcAttr()
	cmd.Stdin, cmd.Stdout = &in, &out
	cmd.WaitDelay = time.Second
	stderr, stderrW, err := os.Pipe()
	if err != nil {
		return nil, fmt.Errorf("starting store process: %w", err)
	}
	cmd.Stderr = stderrW
	err = cmd.Start()
	stderrW.Close()
	if err != nil {
		stderr.Close()
		// Not wrapped: a missing executable is not a missing store.
		return nil, fmt.Errorf("starting store process: %s", err)
	}
	relayed := make(chan string, 1)
	go func() { relayed <- relayLogs(stderr, logger) }()
	waited := make(chan error, 1)
	go func() { waited <- cmd.Wait() }()

	limit := j.LockWait + cmp0(c.Timeout, DefaultChildTimeout)
	hang := hangLimit{pid: cmd.Process.Pid, limit: limit}
	timer, expired := clock.Or(c.Clock).NewTimer(limit)
	defer timer.Stop()
	var waitErr error
	hung := false
	stopping := ctx.Done()
	if j.Op == opWrite {
		// A write is not stopped halfway: what it takes on it finishes,
		// within its time limit, even if mcpmux exits meanwhile.
		stopping = nil
	}
	for done := false; !done; {
		select {
		case waitErr = <-waited:
			done = true
		case <-stopping:
			stopping = nil
			signalChild(cmd, syscall.SIGTERM)
		case <-expired:
			if more := hang.more(); more > 0 {
				timer.Reset(more) // held back by a busy machine, not hung
				continue
			}
			hung = true
			signalChild(cmd, syscall.SIGKILL)
		}
	}
	crash := <-relayed
	logger.Debug("store process done", "job", j.Op, "took", clock.Or(c.Clock).Now().Sub(started).Round(time.Millisecond), "err", waitErr)
	switch {
	case hung:
		return nil, fmt.Errorf("%w: the store process did not finish within %s", errDamaged, limit+hang.granted)
	case waitErr == nil:
		res := new(result)
		if err := gob.NewDecoder(&out).Decode(res); err != nil {
			return nil, fmt.Errorf("reading the store process's result: %w", err)
		}
		return res, res.err()
	case crashed(waitErr, crash):
		return nil, fmt.Errorf("%w: the store process crashed: %s", errDamaged, firstLine(crash, waitErr))
	case ctx.Err() != nil:
		return nil, context.Cause(ctx)
	}
	return nil, fmt.Errorf("store process: %w: %s", waitErr, firstLine(crash, waitErr))
}

// exitWhenHung ends this process, a store child, once it has run for
// limit, not counting the time a busy machine held it back (see
// hangLimit).
func exitWhenHung(limit time.Duration) {
	h := hangLimit{pid: os.Getpid(), limit: limit}
	for d := limit; d > 0; d = h.more() {
		time.Sleep(d)
	}
	os.Exit(3)
}

func cmp0(d, def time.Duration) time.Duration {
	if d <= 0 {
		return def
	}
	return d
}

// relayLogs logs the child's JSON log records as logger's own, and
// returns the start of what else the child wrote to stderr: a crash's
// message and stack.
func relayLogs(r io.ReadCloser, logger *slog.Logger) string {
	defer r.Close()
	var crash strings.Builder
	br := bufio.NewReader(r)
	for {
		line, err := br.ReadBytes('\n')
		if len(bytes.TrimSpace(line)) > 0 && !relayRecord(line, logger) && crash.Len() < maxCrashText {
			crash.Write(line[:min(len(line), maxCrashText-crash.Len())])
		}
		if err != nil {
			return crash.String()
		}
	}
}

// relayRecord logs one JSON record of slog's JSONHandler, and reports
// whether line was one.
func relayRecord(line []byte, logger *slog.Logger) bool {
	var rec map[string]any
	if json.Unmarshal(line, &rec) != nil {
		return false
	}
	msg, ok := rec[slog.MessageKey].(string)
	levelName, ok2 := rec[slog.LevelKey].(string)
	if !ok || !ok2 {
		return false
	}
	var level slog.Level
	if level.UnmarshalText([]byte(levelName)) != nil {
		level = slog.LevelInfo
	}
	var attrs []any
	for k, v := range rec {
		if k != slog.MessageKey && k != slog.LevelKey && k != slog.TimeKey {
			attrs = append(attrs, slog.Any(k, v))
		}
	}
	logger.Log(context.Background(), level, msg, attrs...)
	return true
}

// crashed reports whether a child that ended with waitErr, having written
// crash to stderr, crashed rather than failed or was stopped: a Go panic or
// fatal error (exit status 2, with its message), or a fault signal.
func crashed(waitErr error, crash string) bool {
	var ee *exec.ExitError
	if !errors.As(waitErr, &ee) {
		return false
	}
	if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		switch ws.Signal() {
		case syscall.SIGSEGV, syscall.SIGBUS, syscall.SIGABRT, syscall.SIGILL, syscall.SIGFPE:
			return true
		}
		return false
	}
	return ee.ExitCode() == 2 && (strings.Contains(crash, "panic: ") || strings.Contains(crash, "fatal error: "))
}

// firstLine returns the first line of crash that says what went wrong, or
// waitErr's text.
func firstLine(crash string, waitErr error) string {
	for line := range strings.Lines(crash) {
		if line = strings.TrimSpace(line); line != "" {
			if len(line) > 200 {
				line = line[:200] + "…"
			}
			return line
		}
	}
	return waitErr.Error()
}
