package testutil

import (
	"bufio"
	"errors"
	"io"
	"os/exec"
	"testing"
	"time"
)

// RelayLines copies newline-delimited messages from src to dst, each in
// one Write, until src ends; it returns nil at the end of src. It does
// nothing else (no decoding, no checks): the floor that any relay of
// MCP's stdio messages, mcpmux among them, is measured against.
func RelayLines(dst io.Writer, src io.Reader) error {
	r := bufio.NewReaderSize(src, 64<<10)
	var long []byte // a line longer than the buffer, collected
	for {
		frag, err := r.ReadSlice('\n')
		switch {
		case errors.Is(err, bufio.ErrBufferFull):
			long = append(long, frag...)
			continue
		case len(long) > 0:
			frag = append(long, frag...)
			long = long[:0]
		}
		if len(frag) > 0 {
			if _, werr := dst.Write(frag); werr != nil {
				return werr
			}
		}
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
	}
}

// StartRelay runs the command name with args as a child and relays lines
// between the client's side (in, what the client writes; out, what it
// reads) and the child's stdin and stdout, as a minimal stdio proxy
// would, on two goroutines of this process. The relay ends when in ends;
// out is closed when the child's stdout ends. At cleanup the child's
// stdin is closed and the child reaped, killed if it has not exited
// within 5s.
func StartRelay(tb testing.TB, in io.Reader, out io.WriteCloser, name string, args ...string) {
	tb.Helper()
	cmd := exec.Command(name, args...)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		tb.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		tb.Fatal(err)
	}
	cmd.WaitDelay = 5 * time.Second
	if err := cmd.Start(); err != nil {
		tb.Fatalf("starting %s: %v", name, err)
	}
	toChild := make(chan struct{})
	go func() {
		defer close(toChild)
		_ = RelayLines(stdin, in)
		stdin.Close()
	}()
	fromChild := make(chan struct{})
	go func() {
		defer close(fromChild)
		_ = RelayLines(out, stdout)
		out.Close()
	}()
	tb.Cleanup(func() {
		stdin.Close()
		done := make(chan struct{})
		go func() {
			_ = cmd.Wait()
			close(done)
		}()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			_ = cmd.Process.Kill()
			<-done
		}
		<-fromChild
	})
}
