package keeper

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// prSetChildSubreaper is PR_SET_CHILD_SUBREAPER of prctl(2).
const prSetChildSubreaper = 36

// scanInterval is how often Reap looks for orphans when no child has
// changed state.
const scanInterval = time.Second

// BecomeSubreaper makes this process a child subreaper: orphans among its
// descendants are re-parented to it instead of to init, so that [Keeper.Reap]
// can find them. A subreaper must reap what it is given; only a process that
// runs Reap should call it.
func BecomeSubreaper() error {
	if _, _, errno := syscall.RawSyscall(syscall.SYS_PRCTL, prSetChildSubreaper, 1, 0); errno != 0 {
		return fmt.Errorf("becoming a child subreaper: %w", errno)
	}
	return nil
}

// Reap looks at this process's children whenever one changes state, and
// every second, until
// ctx ends: an orphan re-parented to it hands its process group to k (so
// that it ends with mcpmux), and is reaped once it has exited. Children
// that lead their own process group are never reaped here: every process
// mcpmux starts with exec does (the upstreams, the keeper, the store
// children), and the code that started it waits for it. An orphan that
// leads a group of its own stays a zombie until mcpmux exits.
func (k *Keeper) Reap(ctx context.Context) {
	if k == nil {
		return
	}
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGCHLD)
	defer signal.Stop(sigs)
	orphans := make(map[int]bool) // groups handed to k for orphans
	for {
		k.scan(orphans)
		// Gaining an orphan sends no signal: look again now and then.
		t, tick := k.clock.NewTimer(scanInterval)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-sigs:
		case <-tick:
		}
		t.Stop()
	}
}

// scan hands the groups of new orphans to k, takes back those of orphan
// groups that are gone, and reaps orphans that are zombies.
func (k *Keeper) scan(orphans map[int]bool) {
	self, own := os.Getpid(), syscall.Getpgrp()
	for _, c := range children(self) {
		switch {
		case c.pid == k.PID():
		case c.pgid == own:
			// mcpmux's own group, which its host's processes may share:
			// never the keeper's to end. (A child caught between fork and
			// its setpgid shows it too.)
		case c.state == 'Z' && c.pgid != c.pid:
			var ws syscall.WaitStatus
			_, _ = syscall.Wait4(c.pid, &ws, syscall.WNOHANG, nil)
		case c.state != 'Z' && !k.holds(c.pgid):
			// An orphan, or a child this process has just started and
			// not handed over yet: holding it too is harmless.
			orphans[c.pgid] = true
			k.Add(c.pgid)
			k.logger.Debug("holding the process group of an orphan", "pid", c.pid, "pgid", c.pgid)
		}
	}
	for pgid := range orphans {
		if groupGone(pgid) {
			delete(orphans, pgid)
			k.Remove(pgid)
		}
	}
}

// child is what scan needs to know of a child process.
type child struct {
	pid, pgid int
	state     byte
}

// children returns the children of pid, from the /proc/<pid>/task/*/children
// files the kernel keeps.
func children(pid int) []child {
	files, _ := filepath.Glob(fmt.Sprintf("/proc/%d/task/*/children", pid))
	var out []child
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		for _, field := range strings.Fields(string(data)) {
			if c, ok := readChild(field); ok {
				out = append(out, c)
			}
		}
	}
	return out
}

// readChild reads the state and process group of the process pid from
// /proc/<pid>/stat: "pid (comm) state ppid pgrp ...", where comm may hold
// spaces and parentheses.
func readChild(pid string) (child, bool) {
	data, err := os.ReadFile("/proc/" + pid + "/stat")
	end := bytes.LastIndexByte(data, ')')
	if err != nil || end < 0 {
		return child{}, false
	}
	fields := strings.Fields(string(data[end+1:])) // state ppid pgrp ...
	if len(fields) < 3 || len(fields[0]) != 1 {
		return child{}, false
	}
	c := child{state: fields[0][0]}
	c.pid, err = strconv.Atoi(pid)
	if err != nil {
		return child{}, false
	}
	if c.pgid, err = strconv.Atoi(fields[2]); err != nil {
		return child{}, false
	}
	return c, true
}
