package upstream

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/mcpmux/mcpmux/registry"
)

// The upstream is told of a cancelled request once, and of no other.
// These tests run in a synctest bubble: once synctest.Wait returns,
// everything in flight has settled, so "no other cancellation" is what
// the upstream received, not what it received so far.

// lineConn returns a connection over in-memory pipes to an upstream that
// answers each tools/call a minute (of the bubble's time) after it reads
// it, and the lines the connection wrote to it so far. It must run inside
// the bubble of the test using it.
func lineConn(t *testing.T) (*conn, func() []string) {
	t.Helper()
	var mu sync.Mutex
	var lines []string
	c := memConn(t, func(line []byte, id json.RawMessage, method string, reply func(string)) {
		mu.Lock()
		lines = append(lines, string(line))
		mu.Unlock()
		if method == "tools/call" {
			time.AfterFunc(time.Minute, func() { reply(`{"jsonrpc":"2.0","id":` + string(id) + `,"result":{}}`) })
		}
	})
	return c, func() []string {
		mu.Lock()
		defer mu.Unlock()
		return slices.Clone(lines)
	}
}

// cancelled returns the request ids of the notifications/cancelled among
// lines, and the id of the tools/call whose arguments' tag is tag.
func cancelled(t *testing.T, lines []string, tag string) (ids []string, tagged string) {
	t.Helper()
	for _, line := range lines {
		var m struct {
			ID     json.RawMessage
			Method string
			Params struct {
				RequestID json.RawMessage
				Arguments struct{ Tag string }
			}
		}
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatalf("the connection wrote %q: %v", line, err)
		}
		switch {
		case m.Method == "notifications/cancelled":
			ids = append(ids, string(m.Params.RequestID))
		case m.Method == "tools/call" && m.Params.Arguments.Tag == tag:
			tagged = string(m.ID)
		}
	}
	return ids, tagged
}

func TestCancelledRequestIsCancelledOnce(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c, lines := lineConn(t)
		ctx, cancel := context.WithCancel(context.Background())
		time.AfterFunc(10*time.Second, cancel)
		var wg sync.WaitGroup
		var doomed, survivor error
		wg.Go(func() {
			_, doomed = c.request(ctx, "tools/call", json.RawMessage(`{"name":"slow","arguments":{"tag":"doomed"}}`))
		})
		wg.Go(func() {
			_, survivor = c.request(context.Background(), "tools/call", json.RawMessage(`{"name":"slow","arguments":{"tag":"survivor"}}`))
		})
		wg.Wait()
		synctest.Wait()
		if !errors.Is(doomed, context.Canceled) || survivor != nil {
			t.Errorf("doomed = %v, survivor = %v; want context.Canceled and success", doomed, survivor)
		}
		ids, want := cancelled(t, lines(), "doomed")
		if len(ids) != 1 || ids[0] != want {
			t.Errorf("the upstream saw cancellations of %v, want exactly the doomed request %s", ids, want)
		}
	})
}

// receiver is a Receiver that keeps its outcome.
type receiver struct {
	mu   sync.Mutex
	n    int
	err  error
	done chan struct{}
}

func (r *receiver) Receive(_ json.RawMessage, err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.n++; r.n == 1 {
		r.err = err
		close(r.done)
	}
}

func TestStartedRequestIsCancelledOnce(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c, lines := lineConn(t)
		s := New(&registry.Server{Name: "x"}, Options{})
		s.conn, s.status.State = c, StateReady
		reason := errors.New("cancelled by the client")
		doomed, survivor := &receiver{done: make(chan struct{})}, &receiver{done: make(chan struct{})}
		cancelDoomed, ok := s.Start("tools/call", json.RawMessage(`{"name":"slow","arguments":{"tag":"doomed"}}`), doomed)
		if !ok {
			t.Fatal("Start(doomed) = false")
		}
		cancelSurvivor, ok := s.Start("tools/call", json.RawMessage(`{"name":"slow","arguments":{"tag":"survivor"}}`), survivor)
		if !ok {
			t.Fatal("Start(survivor) = false")
		}
		time.Sleep(10 * time.Second)
		cancelDoomed(reason)
		cancelDoomed(reason) // again: nothing more
		<-doomed.done
		<-survivor.done
		cancelSurvivor(reason) // after its answer: nothing
		synctest.Wait()
		if !errors.Is(doomed.err, reason) || survivor.err != nil || doomed.n != 1 || survivor.n != 1 {
			t.Errorf("doomed = %v (%d times), survivor = %v (%d times); want the reason and success, once each", doomed.err, doomed.n, survivor.err, survivor.n)
		}
		ids, want := cancelled(t, lines(), "doomed")
		if len(ids) != 1 || ids[0] != want {
			t.Errorf("the upstream saw cancellations of %v, want exactly the doomed request %s", ids, want)
		}
	})
}
