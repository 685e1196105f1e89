package filelock_test

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/mcpmux/mcpmux/internal/filelock"
)

// TestExcludes: a lock taken through one open file keeps a second open of
// the same file out until it is released.
func TestExcludes(t *testing.T) {
	path := filepath.Join(t.TempDir(), "lock file ü")
	open := func() *os.File {
		f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o600)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { f.Close() })
		return f
	}
	a, b := open(), open()
	if err := filelock.Lock(a); err != nil {
		t.Fatalf("Lock(a) = %v", err)
	}
	if err := filelock.TryLock(b); !errors.Is(err, filelock.ErrLocked) {
		t.Fatalf("TryLock(b) while a holds it = %v, want ErrLocked", err)
	}
	if err := filelock.Unlock(a); err != nil {
		t.Fatalf("Unlock(a) = %v", err)
	}
	if err := filelock.TryLock(b); err != nil {
		t.Fatalf("TryLock(b) after a let go = %v, want nil", err)
	}
	_ = filelock.Unlock(b)
}
