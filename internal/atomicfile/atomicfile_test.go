package atomicfile

import (
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"testing"
)

// Write and WriteSync replace the file with its permissions, make the
// directory, and leave no temporary file behind, on success or failure;
// readers at any moment see one whole version.
func TestWrite(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "sub", "f.json")
	for i, write := range []func(string, []byte, os.FileMode) error{Write, WriteSync} {
		data := []byte{'a' + byte(i)}
		if err := write(path, data, 0o640); err != nil {
			t.Fatal(err)
		}
		got, err := os.ReadFile(path)
		if err != nil || string(got) != string(data) {
			t.Fatalf("read %q, %v; want %q", got, err, data)
		}
		if fi, _ := os.Stat(path); runtime.GOOS != "windows" && fi.Mode().Perm() != 0o640 {
			t.Errorf("mode %v, want 0640", fi.Mode().Perm())
		}
	}
	old := make([]byte, 1<<16)
	new := make([]byte, 1<<16)
	for i := range new {
		old[i], new[i] = 'o', 'n'
	}
	if err := Write(path, old, 0o600); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	wg.Go(func() {
		for range 50 {
			if err := Write(path, new, 0o600); err != nil {
				t.Error(err)
			}
			if err := Write(path, old, 0o600); err != nil {
				t.Error(err)
			}
		}
	})
	for range 200 {
		got, err := os.ReadFile(path)
		if err != nil || len(got) != len(old) || got[0] != got[len(got)-1] {
			t.Fatalf("a reader saw %d bytes (%v), not one whole version", len(got), err)
		}
	}
	wg.Wait()
	// A failure (the target is a directory) removes the temporary file.
	if err := Write(filepath.Join(dir, "sub"), []byte("x"), 0o600); err == nil {
		t.Error("writing over a directory: no error")
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Errorf("left in %s: %v, want only sub", dir, entries)
	}
	if entries, _ := os.ReadDir(filepath.Join(dir, "sub")); len(entries) != 1 {
		t.Errorf("left in sub: %v, want only f.json", entries)
	}
}
