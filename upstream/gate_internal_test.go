package upstream

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"testing/synctest"
)

// TestGateOrder: with every slot taken, a freed slot goes to the callers
// in turn, and each caller's requests in the order they queued.
func TestGateOrder(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		g := newGate(1)
		if !g.tryAcquire() {
			t.Fatal("tryAcquire on an empty gate = false")
		}
		var mu sync.Mutex
		var order []string
		queue := func(caller string, n int) {
			ctx := WithQueueKey(context.Background(), caller)
			go func() {
				if err := g.acquire(ctx); err != nil {
					t.Errorf("acquire(%s%d) = %v", caller, n, err)
					return
				}
				mu.Lock()
				order = append(order, fmt.Sprint(caller, n))
				mu.Unlock()
				g.release()
			}()
			synctest.Wait() // queued before the next
		}
		for i := range 3 {
			queue("a", i)
		}
		queue("b", 0)
		queue("b", 1)
		if got := g.waiting(); got != 5 {
			t.Errorf("waiting() = %d, want 5", got)
		}
		if g.tryAcquire() {
			t.Error("tryAcquire with a queue = true, want false: it would pass the queue")
		}
		g.release()
		synctest.Wait()
		if want := []string{"a0", "b0", "a1", "b1", "a2"}; !slices.Equal(order, want) {
			t.Errorf("served in order %v, want %v", order, want)
		}
		if !g.tryAcquire() {
			t.Error("tryAcquire once all were served = false")
		}
	})
}

// TestGateLeaveQueue: a request whose ctx ends while it waits leaves the
// queue, holding nothing, with ctx's cause; one granted as its ctx ended
// passes the slot on.
func TestGateLeaveQueue(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		g := newGate(1)
		g.tryAcquire()
		cause := errors.New("timed out")
		ctx, cancel := context.WithCancelCause(context.Background())
		done := make(chan error, 1)
		go func() { done <- g.acquire(ctx) }()
		synctest.Wait()
		cancel(cause)
		if err := <-done; !errors.Is(err, cause) {
			t.Errorf("acquire after cancel = %v, want its cause", err)
		}
		if got := g.waiting(); got != 0 {
			t.Errorf("waiting() = %d after the cancel, want 0", got)
		}
		next := make(chan error, 1)
		go func() { next <- g.acquire(context.Background()) }()
		synctest.Wait()
		g.release()
		if err := <-next; err != nil {
			t.Errorf("acquire of the next = %v", err)
		}
		g.release()
		if !g.tryAcquire() {
			t.Error("the slot was lost")
		}
	})
}

// TestGateNil: no maxConcurrency, no gate: everything passes.
func TestGateNil(t *testing.T) {
	g := newGate(0)
	for range 3 {
		if err := g.acquire(context.Background()); err != nil || !g.tryAcquire() {
			t.Fatalf("a nil gate held a request back")
		}
	}
	g.release()
	if g.waiting() != 0 {
		t.Error("a nil gate has waiters")
	}
}
