//go:build unix

package keeper

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/mcpmux/mcpmux/internal/testutil"
)

// keeperEnv makes the test binary act as the keeper process.
const keeperEnv = "MCPMUX_KEEPER_TEST"

func TestMain(m *testing.M) {
	if os.Getenv(keeperEnv) == "1" {
		ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
		Serve(ctx, os.Stdin, os.Stderr, ServeOptions{})
		stop()
		os.Exit(0)
	}
	// The race detector sleeps a second before a process exits; the
	// keeper would pay it at every Close.
	if os.Getenv("GORACE") == "" {
		os.Setenv("GORACE", "atexit_sleep_ms=0")
	}
	os.Exit(m.Run())
}

// startKeeper starts the test binary as a keeper, closed at cleanup.
func startKeeper(tb testing.TB) *Keeper {
	tb.Helper()
	if runtime.GOOS != "linux" {
		tb.Skip("the tests count processes in /proc, which is Linux's")
	}
	// In the keeper's environment only, its replacements' too.
	k, err := Start(Options{Path: os.Args[0], Env: []string{keeperEnv + "=1"}, Stderr: os.Stderr})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() {
		if err := k.Close(); err != nil {
			tb.Errorf("Close() = %v", err)
		}
	})
	return k
}

// startGroup starts sh -c script as the leader of a new process group,
// with marker in its environment, and kills the group at cleanup.
func startGroup(tb testing.TB, script, marker string) *exec.Cmd {
	tb.Helper()
	cmd := exec.Command("sh", "-c", script)
	cmd.Env = append(os.Environ(), marker)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		tb.Fatal(err)
	}
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }()
	tb.Cleanup(func() {
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		<-exited
	})
	return cmd
}

// waitMarked waits until as many processes as want carry marker.
func waitMarked(tb testing.TB, marker string, want int) {
	tb.Helper()
	var got []testutil.Process
	if !testutil.Await(func() bool { got = testutil.Marked(marker); return len(got) == want }) {
		tb.Fatalf("%d processes with %s, want %d: %+v", len(got), marker, want, got)
	}
}

func marker(tb testing.TB) string {
	return fmt.Sprintf("MCPMUX_KEEPER_TEST_MARKER=%s-%d", tb.Name(), os.Getpid())
}

// When its pipe closes, the keeper ends the groups it holds, those that
// ignore SIGTERM included, and leaves alone those handed back.
func TestKeeperEndsHeldGroups(t *testing.T) {
	k := startKeeper(t)
	held, back := marker(t)+"-held", marker(t)+"-back"
	// A wrapper that ignores SIGTERM, with a child in its group.
	stubborn := startGroup(t, `trap "" TERM; sleep 1000 & wait`, held)
	polite := startGroup(t, `sleep 1000 & wait`, held)
	returned := startGroup(t, `sleep 1000 & wait`, back)
	waitMarked(t, held, 4)
	waitMarked(t, back, 2)
	for _, c := range []*exec.Cmd{stubborn, polite, returned} {
		k.Add(c.Process.Pid)
	}
	k.Remove(returned.Process.Pid)
	if err := k.Close(); err != nil {
		t.Fatalf("Close() = %v", err)
	}
	waitMarked(t, held, 0)
	if left := testutil.Marked(back); len(left) != 2 {
		t.Errorf("the group handed back has %d processes left, want its 2", len(left))
	}
}

// A group held twice is held until both let it go.
func TestKeeperCountsHolders(t *testing.T) {
	k := startKeeper(t)
	m := marker(t)
	g := startGroup(t, `sleep 1000`, m)
	k.Add(g.Process.Pid)
	k.Add(g.Process.Pid)
	k.Remove(g.Process.Pid)
	if !k.holds(g.Process.Pid) {
		t.Fatal("group let go after one of two Removes")
	}
	if err := k.Close(); err != nil {
		t.Fatal(err)
	}
	waitMarked(t, m, 0)
}

// A keeper that is killed while mcpmux runs is replaced at once by one
// that holds the same groups: they have no parent-death signal, and
// without it a mcpmux killed next would leave them running. The new
// keeper ends them when its pipe closes, as the first would have.
func TestKeeperReplacedWhenLost(t *testing.T) {
	k := startKeeper(t)
	m := marker(t)
	g := startGroup(t, `trap "" TERM; sleep 1000 & wait`, m)
	waitMarked(t, m, 2)
	k.Add(g.Process.Pid)
	first := k.PID()
	if err := syscall.Kill(first, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	testutil.WaitFor(t, "a new keeper", func() bool { return k.PID() != first && k.Alive() })
	if got := testutil.Marked(m); len(got) != 2 {
		t.Fatalf("the lost keeper's group has %d processes, want its 2 still running", len(got))
	}
	if err := k.Close(); err != nil {
		t.Fatalf("Close() = %v", err)
	}
	waitMarked(t, m, 0)
}

// A nil Keeper (mcpmux runs without one) does nothing.
func TestNilKeeper(t *testing.T) {
	var k *Keeper
	k.Add(1)
	k.Remove(1)
	k.Reap(context.Background())
	if err := k.Close(); err != nil || k.PID() != 0 {
		t.Errorf("nil Keeper: Close() = %v, PID() = %d", err, k.PID())
	}
}

func TestApply(t *testing.T) {
	groups := map[int]bool{}
	for _, tt := range []struct {
		line string
		ok   bool
	}{
		{"+12", true}, {"+13", true}, {"-12", true},
		{"+x", false}, {"12", false}, {"+1", false}, {"-", false}, {"+-5", false}, {"+99", false},
	} {
		if err := apply(groups, tt.line, []int{99}); (err == nil) != tt.ok {
			t.Errorf("apply(%q) = %v, want ok %t", tt.line, err, tt.ok)
		}
	}
	if len(groups) != 1 || !groups[13] {
		t.Errorf("groups = %v, want only 13", groups)
	}
}

// A subreaper finds the orphans re-parented to it: it holds their group,
// reaps them once they exit, and lets the group go once it is empty.
func TestReapOrphans(t *testing.T) {
	k := startKeeper(t)
	if err := BecomeSubreaper(); err != nil {
		t.Skipf("cannot test: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	reaped := make(chan struct{})
	go func() { defer close(reaped); k.Reap(ctx) }()
	defer func() { cancel(); <-reaped }()

	m := marker(t)
	// The subshell exits at once: its sleep is orphaned, and re-parented to
	// this process, in the wrapper's group.
	wrapper := startGroup(t, `(sleep 1000 &); exec sleep 1000`, m)
	pgid := wrapper.Process.Pid
	waitMarked(t, m, 2)
	testutil.WaitFor(t, "the orphan's group held", func() bool { return k.holds(pgid) })
	var orphan int
	for _, p := range testutil.Marked(m) {
		if p.PID != wrapper.Process.Pid {
			orphan = p.PID
		}
	}
	if err := syscall.Kill(-pgid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	testutil.WaitFor(t, "the orphan reaped and its group let go", func() bool {
		_, err := os.Stat(fmt.Sprintf("/proc/%d", orphan))
		return errors.Is(err, os.ErrNotExist) && !k.holds(pgid)
	})
}

// A mcpmux that exits hands its groups over and returns at once: the
// keeper ends them after the hand-off's wait, SIGTERM first and SIGKILL
// for those that ignore it, and exits.
func TestKeeperHandOff(t *testing.T) {
	k := startKeeper(t)
	m := marker(t)
	stubborn := startGroup(t, `trap "" TERM; sleep 1000 & wait`, m+"-stubborn")
	plain := startGroup(t, `sleep 1000 & wait`, m+"-plain")
	waitMarked(t, m+"-stubborn", 2)
	waitMarked(t, m+"-plain", 2)
	for _, c := range []*exec.Cmd{stubborn, plain} {
		k.Add(c.Process.Pid)
	}
	k.HandOff(50*time.Millisecond, 50*time.Millisecond)
	if k.Alive() {
		t.Error("Alive() = true after HandOff")
	}
	waitMarked(t, m+"-stubborn", 0)
	waitMarked(t, m+"-plain", 0)
	testutil.WaitFor(t, "the keeper to exit once all are gone", func() bool {
		select {
		case <-k.proc.exited:
			return true
		default:
			return false
		}
	})
}

// The keeper runs in a session of its own, so that a host that kills
// mcpmux's process group, or hangs up its terminal, does not reach it.
func TestKeeperOwnSession(t *testing.T) {
	k := startKeeper(t)
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", k.PID()))
	if err != nil {
		t.Fatal(err)
	}
	// "pid (comm) state ppid pgrp session ..."
	f := strings.Fields(string(data[strings.LastIndexByte(string(data), ')')+1:]))
	pgid, _ := strconv.Atoi(f[2])
	sid, _ := strconv.Atoi(f[3])
	if sid != k.PID() || pgid != k.PID() {
		t.Errorf("keeper %d: session %d, group %d; want both its own", k.PID(), sid, pgid)
	}
}

func TestParseHandOff(t *testing.T) {
	for _, tt := range []struct {
		line string
		want *handOff
	}{
		{handOffLine(time.Second, 2*time.Second), &handOff{time.Second, 2 * time.Second}},
		{"stop 0s 0s", &handOff{}},
		{"stop 1s", nil},
		{"stop -1s 1s", nil},
		{"stop 1h 1s", nil},
		{"stop x 1s", nil},
	} {
		got, err := parseHandOff(strings.TrimSpace(tt.line))
		if (err == nil) != (tt.want != nil) || (got != nil && *got != *tt.want) {
			t.Errorf("parseHandOff(%q) = %v, %v; want %v", tt.line, got, err, tt.want)
		}
	}
}
