package store

import (
	"os"
	"runtime"
	"testing"
	"time"
)

// A child held back by a busy machine gets that time on top of its
// limit, as often as it is held back again, up to maxStretch times the
// limit; one that was not held back since (it hangs) gets nothing more.
func TestHangLimitStretchesByHeldBackTime(t *testing.T) {
	var waited time.Duration
	h := hangLimit{pid: 1, limit: time.Second, heldBack: func(int) (time.Duration, bool) { return waited, true }}
	if got := h.more(); got != 0 {
		t.Errorf("more() of a child never held back = %v, want 0: it hangs", got)
	}
	waited = 3 * time.Second
	if got := h.more(); got != 3*time.Second {
		t.Errorf("more() after 3s held back = %v, want 3s", got)
	}
	if got := h.more(); got != 0 {
		t.Errorf("more() with no more held back since = %v, want 0", got)
	}
	waited = 4 * time.Second
	if got := h.more(); got != time.Second {
		t.Errorf("more() after another 1s held back = %v, want 1s", got)
	}
	waited = time.Hour
	if got, want := h.more(), (maxStretch-1)*time.Second-4*time.Second; got != want {
		t.Errorf("more() after an hour held back = %v, want %v: maxStretch times the limit in all", got, want)
	}
	if got := h.more(); got != 0 {
		t.Errorf("more() past maxStretch = %v, want 0", got)
	}

	unknown := hangLimit{pid: 1, limit: time.Second, heldBack: func(int) (time.Duration, bool) { return 0, false }}
	if got := unknown.more(); got != 0 {
		t.Errorf("more() where held-back time is unknown = %v, want 0: wall-clock time alone", got)
	}
}

// On Linux the held-back time of a live process can be read, and that of
// one that does not exist cannot.
func TestHeldBack(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("held-back time is read on Linux only")
	}
	if _, ok := heldBack(os.Getpid()); !ok {
		t.Errorf("heldBack(this process) is unknown, want it read from /proc")
	}
	if w, ok := heldBack(-1); ok {
		t.Errorf("heldBack(-1) = %v, true; want unknown", w)
	}
}
