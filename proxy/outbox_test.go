package proxy_test

import (
	"bufio"
	"context"
	"io"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mcpmux/mcpmux/internal/testutil"
	"github.com/mcpmux/mcpmux/proxy"
)

// TestClientThatStopsReading: a client that stops reading mcpmux's output
// holds up neither mcpmux's end nor more of mcpmux's memory than the
// outbox's bound: at the end of its input, Serve returns although the
// answers are not read; a client that keeps sending while it reads
// nothing finds mcpmux no longer reading its input once that much waits,
// as a pipe would, and Serve still returns at the end of its context (as
// at SIGTERM).
func TestClientThatStopsReading(t *testing.T) {
	t.Run("stdin EOF", func(t *testing.T) {
		testutil.CheckNoGoroutineLeak(t)
		inR, inW := io.Pipe()
		outR, outW := io.Pipe()
		served := make(chan error, 1)
		go func() { served <- proxy.New(proxy.Options{}).Serve(context.Background(), inR, outW) }()
		io.WriteString(inW, `{"jsonrpc":"2.0","id":0,"method":"ping"}`+"\n")
		inW.Close()
		waitServed(t, served)
		if line, err := bufio.NewReader(outR).ReadString('\n'); err != nil || !strings.Contains(line, `"id":0`) {
			t.Errorf("the answer, read late = %q, %v", line, err)
		}
		outR.Close()
	})
	t.Run("flood, then SIGTERM", func(t *testing.T) {
		testutil.CheckNoGoroutineLeak(t)
		inR, inW := io.Pipe()
		outR, outW := io.Pipe()
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		served := make(chan error, 1)
		go func() { served <- proxy.New(proxy.Options{}).Serve(ctx, inR, outW) }()
		// Pings (answered on the reading goroutine), until mcpmux stops
		// taking them: the answers not read fill the outbox.
		var sent atomic.Int64
		stopped := make(chan struct{})
		go func() {
			defer close(stopped)
			ping := []byte(`{"jsonrpc":"2.0","id":1,"method":"ping"}` + "\n")
			for range 1 << 20 { // bounded: 40 MB of pings, 40 times the outbox
				if _, err := inW.Write(ping); err != nil {
					return
				}
				sent.Add(1)
			}
		}()
		var last int64
		testutil.WaitFor(t, "mcpmux to stop reading the client", func() bool {
			n := sent.Load()
			full := n == last && n > 0
			last = n
			return full
		})
		if n := sent.Load(); n >= 1<<20 {
			t.Fatalf("mcpmux read all %d pings of a client that reads nothing", n)
		}
		cancel()
		waitServed(t, served)
		t.Logf("mcpmux took %d pings before it stopped reading", sent.Load())
		inW.Close()
		outR.Close() // the goroutine writing into the pipe nobody reads ends
		<-stopped
	})
}

// waitServed waits for Serve's return.
func waitServed(t *testing.T, served <-chan error) {
	t.Helper()
	select {
	case err := <-served:
		if err != nil {
			t.Errorf("Serve = %v", err)
		}
	case <-time.After(testutil.WaitTimeout):
		t.Fatal("Serve did not return: the client that does not read holds it")
	}
}
