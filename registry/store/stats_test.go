package store

import (
	"sync"
	"testing"
	"time"

	"github.com/mcpmux/mcpmux/internal/testutil"
)

func TestRecordCall(t *testing.T) {
	s, dir := newTestStore(t, Options{})
	now := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	s.now = func() time.Time { return now }
	record := func(server, tool string, failed bool) {
		t.Helper()
		if err := s.RecordCall(server, tool, 10*time.Millisecond, failed); err != nil {
			t.Fatalf("RecordCall(%q, %q) = %v", server, tool, err)
		}
	}
	record("a", "search", false)
	record("a", "search", true)
	record("a", "search", false)
	record("a", "fetch/x", false)
	record("b", "search", false)

	// Buffered: nothing is written yet, but ToolStats sees it.
	if stored, err := s.storedStats("a"); len(stored) != 0 || err != nil {
		t.Errorf("stored statistics before Flush = %+v, %v; want none", stored, err)
	}
	checkStats(t, s, "a", map[string][2]int64{"search": {3, 1}, "fetch/x": {1, 0}})
	if err := s.Flush(); err != nil {
		t.Fatalf("Flush() = %v", err)
	}
	if stored, err := s.storedStats("a"); len(stored) != 2 || err != nil {
		t.Errorf("stored statistics after Flush = %+v, %v; want two tools", stored, err)
	}
	checkStats(t, s, "a", map[string][2]int64{"search": {3, 1}, "fetch/x": {1, 0}})

	// Stored and pending merge.
	record("a", "search", true)
	checkStats(t, s, "a", map[string][2]int64{"search": {4, 2}, "fetch/x": {1, 0}})
	checkStats(t, s, "b", map[string][2]int64{"search": {1, 0}})

	// Close flushes.
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = openTestStore(t, dir, Options{})
	stats := checkStats(t, s, "a", map[string][2]int64{"search": {4, 2}, "fetch/x": {1, 0}})
	search := stats["search"]
	if n := search.Latency.Count(); n != 4 {
		t.Errorf("search latency count = %d, want 4", n)
	}
	if !search.LastCall.Equal(now) {
		t.Errorf("search LastCall = %v, want %v", search.LastCall, now)
	}
	checkQuantile(t, search.Latency, 0.5, 10*time.Millisecond)
}

// checkStats checks the calls and errors of each of server's tools.
func checkStats(t *testing.T, s *DB, server string, want map[string][2]int64) map[string]CallStats {
	t.Helper()
	stats, err := s.ToolStats(server)
	if err != nil {
		t.Fatalf("ToolStats(%q) = %v", server, err)
	}
	got := make(map[string][2]int64)
	for tool, st := range stats {
		got[tool] = [2]int64{st.Calls, st.Errors}
	}
	if len(got) != len(want) {
		t.Errorf("ToolStats(%q) calls, errors = %v, want %v", server, got, want)
	}
	for tool, w := range want {
		if got[tool] != w {
			t.Errorf("ToolStats(%q)[%q] calls, errors = %v, want %v", server, tool, got[tool], w)
		}
	}
	return stats
}

func TestRecordCallConcurrentFlush(t *testing.T) {
	s, _ := newTestStore(t, Options{})
	const workers, calls = 8, 500
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for i := range calls {
				if err := s.RecordCall("a", "tool", time.Duration(i)*time.Millisecond, w == 0); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	stop := make(chan struct{})
	flushed := make(chan struct{})
	go func() {
		defer close(flushed)
		for {
			select {
			case <-stop:
				return
			default:
			}
			if err := s.Flush(); err != nil {
				t.Error(err)
				return
			}
		}
	}()
	wg.Wait()
	close(stop)
	<-flushed
	checkStats(t, s, "a", map[string][2]int64{"tool": {workers * calls, calls}})
}

func TestRecordCallBackgroundFlush(t *testing.T) {
	saved := flushInterval
	t.Cleanup(func() { flushInterval = saved }) // after the store has closed
	flushInterval = 10 * time.Millisecond
	s, _ := newTestStore(t, Options{})
	if err := s.RecordCall("a", "tool", time.Millisecond, false); err != nil {
		t.Fatal(err)
	}
	testutil.WaitFor(t, "the call written by the flush loop", func() bool {
		stored, err := s.storedStats("a")
		if err != nil {
			t.Fatal(err)
		}
		return stored["tool"].Calls == 1
	})
}

func BenchmarkRecordCall(b *testing.B) {
	s, _ := newTestStore(b, Options{})
	tools := []string{"search", "fetch", "read_file", "write_file"}
	b.Run("serial", func(b *testing.B) {
		i := 0
		for b.Loop() {
			i++
			if err := s.RecordCall("github", tools[i%len(tools)], time.Duration(i)*time.Microsecond, false); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("parallel", func(b *testing.B) {
		b.RunParallel(func(pb *testing.PB) {
			i := 0
			for pb.Next() {
				i++
				if err := s.RecordCall("github", tools[i%len(tools)], time.Duration(i)*time.Microsecond, false); err != nil {
					b.Error(err)
					return
				}
			}
		})
	})
}
