package testutil

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"
)

// fakeTB records cleanups and errors instead of acting on them.
type fakeTB struct {
	testing.TB
	cleanups []func()
	errors   []string
}

func (f *fakeTB) Helper()           {}
func (f *fakeTB) Cleanup(fn func()) { f.cleanups = append(f.cleanups, fn) }
func (f *fakeTB) Errorf(format string, args ...any) {
	f.errors = append(f.errors, fmt.Sprintf(format, args...))
}

func (f *fakeTB) runCleanups() {
	for _, fn := range slices.Backward(f.cleanups) {
		fn()
	}
}

func shortPoll(t *testing.T) {
	old := leakTimeout
	leakTimeout = 200 * time.Millisecond
	t.Cleanup(func() { leakTimeout = old })
}

func TestTestServerPathBuildsOnce(t *testing.T) {
	p1 := TestServerPath(t)
	p2 := TestServerPath(t)
	if p1 != p2 {
		t.Fatalf("paths differ: %q vs %q", p1, p2)
	}
	info, err := os.Stat(p1)
	if err != nil || info.Mode()&0o111 == 0 {
		t.Fatalf("not an executable: %v %v", info, err)
	}
}

func TestParseStat(t *testing.T) {
	p, ok := parseStat([]byte("123 (we) ird (name) S 45 123 0 0"))
	if !ok || p.pid != 123 || p.ppid != 45 || p.state != 'S' {
		t.Fatalf("got %+v %v", p, ok)
	}
	if _, ok := parseStat([]byte("garbage")); ok {
		t.Fatal("parsed garbage")
	}
}

func TestCheckNoChildrenReportsLiveChild(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("needs /proc")
	}
	shortPoll(t)
	cmd := exec.Command("sleep", "30")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	fake := &fakeTB{TB: t}
	CheckNoChildren(fake)
	fake.runCleanups()
	if len(fake.errors) != 1 || !strings.Contains(fake.errors[0], fmt.Sprintf("%d: sleep 30", cmd.Process.Pid)) {
		t.Errorf("errors = %q", fake.errors)
	}

	_ = cmd.Process.Kill()
	_ = cmd.Wait()
	fake = &fakeTB{TB: t}
	CheckNoChildren(fake)
	fake.runCleanups()
	if len(fake.errors) != 0 {
		t.Errorf("errors after kill = %q", fake.errors)
	}
}

// settleGoroutines waits for goroutines of earlier tests to finish, so
// that they do not hide the leak under test.
func settleGoroutines() {
	for n := -1; n != runtime.NumGoroutine(); time.Sleep(50 * time.Millisecond) {
		n = runtime.NumGoroutine()
	}
}

func TestCheckNoGoroutineLeak(t *testing.T) {
	shortPoll(t)
	settleGoroutines()
	fake := &fakeTB{TB: t}
	CheckNoGoroutineLeak(fake)
	release := make(chan struct{})
	done := make(chan struct{})
	go func() { <-release; close(done) }()
	fake.runCleanups()
	if len(fake.errors) != 1 || !strings.Contains(fake.errors[0], "TestCheckNoGoroutineLeak") {
		t.Errorf("errors = %.300q", fake.errors)
	}
	close(release)
	<-done

	fake = &fakeTB{TB: t}
	CheckNoGoroutineLeak(fake)
	fake.runCleanups()
	if len(fake.errors) != 0 {
		t.Errorf("errors without leak = %.300q", fake.errors)
	}
}

func TestRelayLines(t *testing.T) {
	long := strings.Repeat("x", 200<<10)
	in := "a\n\n" + long + "\nlast"
	var out bytes.Buffer
	if err := RelayLines(&out, strings.NewReader(in)); err != nil {
		t.Fatalf("RelayLines = %v", err)
	}
	if out.String() != in {
		t.Errorf("RelayLines wrote %d bytes, want the %d it read, unchanged", out.Len(), len(in))
	}
}

func TestWaitForWaitsForTheCondition(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		start := time.Now()
		var ready atomic.Bool
		time.AfterFunc(3*time.Second, func() { ready.Store(true) })
		WaitFor(t, "the timer", ready.Load)
		if d := time.Since(start); d < 3*time.Second || d > 3*time.Second+maxPoll {
			t.Errorf("WaitFor returned after %s, want within %s of 3s", d, maxPoll)
		}
	})
}

func TestCountInFileAndSyncBufferCount(t *testing.T) {
	path := filepath.Join(t.TempDir(), "log")
	if err := os.WriteFile(path, []byte("a x\nb x\nc\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if n := CountInFile(path, "x"); n != 2 {
		t.Errorf("CountInFile(x) = %d, want 2", n)
	}
	if n := CountInFile(filepath.Join(t.TempDir(), "none"), "x"); n != 0 {
		t.Errorf("CountInFile of a missing file = %d, want 0", n)
	}
	var b SyncBuffer
	fmt.Fprint(&b, "level=WARN a x\nlevel=INFO b x\n\nlevel=WARN c")
	if n := b.Count("level=WARN"); n != 2 {
		t.Errorf("Count(level=WARN) = %d, want 2", n)
	}
	if n := b.Count("level=WARN", "x"); n != 1 {
		t.Errorf("Count(level=WARN, x) = %d, want 1", n)
	}
}
