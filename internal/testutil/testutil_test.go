package testutil

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"slices"
	"strings"
	"testing"
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
	old := pollTimeout
	pollTimeout = 200 * time.Millisecond
	t.Cleanup(func() { pollTimeout = old })
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
