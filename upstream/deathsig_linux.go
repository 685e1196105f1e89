package upstream

import "syscall"

// keptByKeeper drops the parent-death signal from a child's attributes
// when a keeper holds its process group (see Options.Groups). The signal
// would reach the child the moment mcpmux exits, a hand-off (see
// Supervisor.HandOff) included, and cut short the stop the keeper does
// politely then; the keeper also ends the group of a killed mcpmux, the
// grandchildren the signal never reaches included.
func keptByKeeper(a *syscall.SysProcAttr) {
	if a != nil {
		a.Pdeathsig = 0
	}
}
