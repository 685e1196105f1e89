package store

import (
	"errors"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/mcpmux/mcpmux/internal/testutil"
)

// Two processes that find the store damaged at once must move it aside
// once: the second must not move aside the fresh store the first made.
func TestStoreCorruptRepairedOnceUnderRace(t *testing.T) {
	testutil.CheckNoGoroutineLeak(t)
	for round := range 5 {
		dir := filepath.Join(t.TempDir(), "store")
		s := openTestStore(t, dir, Options{})
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, "MANIFEST"), []byte("garbage"), 0o600); err != nil {
			t.Fatal(err)
		}
		var wg sync.WaitGroup
		results := make([]error, 2)
		stores := make([]*DB, 2)
		for i := range 2 {
			wg.Go(func() { stores[i], results[i] = Open(dir, Options{}) })
		}
		wg.Wait()
		opened := 0
		for i, err := range results {
			switch {
			case err == nil:
				opened++
				_ = stores[i].Close()
			case !errors.Is(err, ErrLocked):
				t.Errorf("round %d: Open = %v, want success or ErrLocked", round, err)
			}
		}
		if aside, _ := filepath.Glob(dir + ".corrupt-*"); len(aside) != 1 || opened != 1 {
			t.Errorf("round %d: %d opened, moved aside %d times (%v); want 1 and 1", round, opened, len(aside), aside)
		}
	}
}
