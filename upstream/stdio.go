package upstream

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"syscall"
	"time"

	"github.com/mcpmux/mcpmux/internal/jsonrpc"
	"github.com/mcpmux/mcpmux/registry"
)

// stdoutGrace is how long a child may live on after closing its stdout
// before the connection is declared dead anyway.
const stdoutGrace = time.Second

// stdioPeer is the peer of a stdio upstream: its child [process]. It
// reads the child's stdout itself (see readStdout), handing each line to
// conn.dispatch, and is the [replier] of what the child sends: responses
// go to the request of the [stdioTransport] waiting for them, answers to
// the child's own requests onto its stdin, which they share with the
// transport.
type stdioPeer struct {
	proc   *process        // nil only in tests
	tr     *stdioTransport // matches the child's responses to requests
	stdin  *lockedWriter   // the child's stdin
	logger *slog.Logger
	stops  stopTimeouts
}

var (
	_ peer    = (*stdioPeer)(nil)
	_ replier = (*stdioPeer)(nil)
)

// dialStdio starts the child of srv and connects to its pipes. The child
// belongs to the conn until close returns.
func dialStdio(srv *registry.Server, o *Options, notes *noteQueue) (*conn, error) {
	proc, err := startProcess(srv, o)
	if err != nil {
		return nil, err
	}
	stdin := &lockedWriter{w: proc.stdin}
	l := &stdioPeer{
		proc:   proc,
		tr:     newStdioTransport(stdin),
		stdin:  stdin,
		logger: o.logger(),
		stops:  o.stopTimeouts(),
	}
	c := newConn(l.tr, l, srv, o, notes.push)
	c.notes = notes
	go c.readStdout(proc.stdout, l, o.MaxMessageSize)
	go func() {
		<-proc.exited
		c.die(proc.exitReason())
	}()
	return c, nil
}

// fatal: a write that finds the child's stdin closed means the child can
// never be reached, though it may live on.
func (l *stdioPeer) fatal(err error) (error, bool) {
	if brokenPipe(err) {
		return fmt.Errorf("writing to upstream: %w", err), false
	}
	return nil, false
}

// deathGrace: a closed stream or a failed write means the child is
// exiting; its exit status, the better explanation, follows closely.
func (l *stdioPeer) deathGrace() time.Duration { return stdoutGrace + time.Second }

func (l *stdioPeer) explain(err error) error { return err }

// release fails the requests still waiting for the child.
func (l *stdioPeer) release() { _ = l.tr.close() }

func (l *stdioPeer) stop(ctx context.Context) {
	if l.proc != nil {
		_ = l.proc.stop(ctx, l.stops)
	}
}

func (l *stdioPeer) leave() {
	if l.proc != nil {
		l.proc.handOff()
	}
}

func (l *stdioPeer) pid() int {
	if l.proc == nil {
		return 0
	}
	return l.proc.cmd.Process.Pid
}

// readStdout reads the child's stdout and hands each line on, on this one
// goroutine (see conn.dispatch). A line longer than maxSize is skipped; the
// request it answers, if that can be told, fails with an error that names
// the limit. At EOF the child is exiting; the connection dies with its
// exit status.
func (c *conn) readStdout(stdout io.ReadCloser, l *stdioPeer, maxSize int) {
	defer c.stdoutClosed(l.proc.exited)
	defer stdout.Close()
	r := jsonrpc.NewReader(stdout, maxSize)
	for {
		line, err := r.Next()
		switch tooLarge := jsonrpc.AsTooLarge(err); {
		case tooLarge != nil:
			c.dropTooLarge(tooLarge, l)
		case err != nil:
			return
		default:
			c.dispatch(line, l)
		}
	}
}

// stdoutClosed waits for the child to exit after its stdout ended, so that
// the connection dies with the exit status as its reason; a child that
// lives on without stdout is useless and dies with a reason of its own.
func (c *conn) stdoutClosed(exited <-chan struct{}) {
	t := time.NewTimer(stdoutGrace)
	defer t.Stop()
	select {
	case <-exited:
	case <-t.C:
		c.die(errors.New("upstream closed its stdout"))
	}
}

// deliver hands a response from the child to the request waiting for it.
func (l *stdioPeer) deliver(id json.RawMessage, resp *jsonrpc.Message) {
	l.tr.deliver(id, resp)
}

// answer writes the response to one of the child's requests.
func (l *stdioPeer) answer(id, result json.RawMessage, err error) {
	if _, werr := l.stdin.Write(answerMessage(id, result, err)); werr != nil {
		l.logger.Debug("answering upstream request", "err", werr)
	}
}

// lockedWriter serialises whole messages on the child's stdin, which both
// the transport (requests) and conn (answers to the child's own requests)
// write to.
type lockedWriter struct {
	mu sync.Mutex
	w  io.WriteCloser

	rawOnce  sync.Once
	raw      syscall.RawConn // w's, if it is a file the runtime polls; nil otherwise
	rawWrite func(fd uintptr) bool
	p        []byte // what rawWrite writes, and what it did; mu is held
	n        int
	err      error
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

func (l *lockedWriter) Close() error { return l.w.Close() }

// tryWrite writes p whole unless another message is being written, in
// which case it reports false and writes nothing. It does not block the
// caller: what the pipe does not take at once is written on a goroutine,
// which holds the writer until it is done; f, if the write fails, is told
// why, once.
func (l *lockedWriter) tryWrite(p []byte, f writeFailer) bool {
	if !l.mu.TryLock() {
		return false
	}
	n, err := l.writeNow(p)
	switch {
	case err == nil && n == len(p):
		l.mu.Unlock()
	case err != nil && !errors.Is(err, syscall.EAGAIN) && !errors.Is(err, syscall.EINTR):
		l.mu.Unlock()
		f.writeFailed(err)
	default:
		go func() {
			defer l.mu.Unlock()
			if _, err := l.w.Write(p[n:]); err != nil {
				f.writeFailed(err)
			}
		}()
	}
	return true
}

// writeFailer is told that a write of tryWrite's failed.
type writeFailer interface{ writeFailed(error) }

// writeNow writes what of p the pipe takes without waiting; with a writer
// that cannot tell, it writes p whole. l.mu is held.
func (l *lockedWriter) writeNow(p []byte) (int, error) {
	l.rawOnce.Do(func() {
		if sc, ok := l.w.(syscall.Conn); ok {
			if raw, err := sc.SyscallConn(); err == nil {
				l.raw = raw
				l.rawWrite = func(fd uintptr) bool {
					l.n, l.err = writeNoWait(fd, l.p)
					return true // never wait for the pipe: tryWrite finishes on a goroutine
				}
			}
		}
	})
	if l.raw == nil {
		return l.w.Write(p)
	}
	l.p = p
	err := l.raw.Write(l.rawWrite)
	n, werr := max(l.n, 0), l.err
	l.p, l.n, l.err = nil, 0, nil
	if err != nil {
		return n, err
	}
	return n, werr
}
