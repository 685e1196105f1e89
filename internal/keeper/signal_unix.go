//go:build unix

package keeper

import (
	"errors"
	"syscall"
)

func keeperProcAttr() *syscall.SysProcAttr {
	// A session, and so a group, of its own: a host that kills mcpmux's
	// process group, or a terminal that hangs up on mcpmux's session, must
	// not take the keeper with it. No parent-death signal: the keeper's
	// work starts when mcpmux exits.
	return &syscall.SysProcAttr{Setsid: true}
}

func signalGroup(pgid int, sig syscall.Signal) { _ = syscall.Kill(-pgid, sig) }

// groupGone reports whether no process is left in the group pgid, but
// zombies: the parent of a killed mcpmux's children may take its time to
// reap them.
func groupGone(pgid int) bool {
	return errors.Is(syscall.Kill(-pgid, 0), syscall.ESRCH) || onlyZombies(pgid)
}

// spare returns the process groups the keeper must never end: its own,
// and that of its parent, mcpmux.
func spare() []int {
	own := syscall.Getpgrp()
	parent, err := syscall.Getpgid(syscall.Getppid())
	if err != nil {
		return []int{own}
	}
	return []int{own, parent}
}
