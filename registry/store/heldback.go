package store

import "time"

// maxStretch bounds how far a busy machine stretches a store child's
// time limit: to this many times the limit, whatever it held it back.
const maxStretch = 10

// hangLimit tells a store child that hangs from one that a busy machine
// holds back. Its time limit counts wall-clock time less the time the
// child spent runnable but waiting for a CPU (see heldBack): a child
// that only waited for its turn on a loaded machine is slow, not hung,
// and its store is not damaged. Where that time cannot be read (not
// Linux), the limit is wall-clock time, as it always was.
type hangLimit struct {
	pid     int
	limit   time.Duration
	granted time.Duration // held-back time added to the limit so far
	// heldBack reads the child's held-back time; nil means heldBack.
	heldBack func(pid int) (time.Duration, bool)
}

// more returns how much longer the child may run once its limit and
// what was granted before have passed: the time it was held back since,
// 0 if none (it hangs), or if it has had maxStretch times its limit.
func (h *hangLimit) more() time.Duration {
	read := h.heldBack
	if read == nil {
		read = heldBack
	}
	waited, ok := read(h.pid)
	if !ok {
		return 0
	}
	extra := min(waited-h.granted, (maxStretch-1)*h.limit-h.granted)
	if extra <= 0 {
		return 0
	}
	h.granted += extra
	return extra
}
