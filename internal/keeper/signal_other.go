//go:build !unix

package keeper

import "syscall"

// Without process groups there is nothing for a keeper to hold: it exits
// when mcpmux does.

func keeperProcAttr() *syscall.SysProcAttr     { return nil }
func signalGroup(pgid int, sig syscall.Signal) {}
func groupGone(pgid int) bool                  { return true }

func spare() []int { return nil }
