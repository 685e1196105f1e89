package main

import (
	"os"
	"os/exec"
	"testing"
)

// readOnly makes dirs unwritable until the test ends. root writes where
// permissions forbid it, so for root they are made immutable (chattr +i).
func readOnly(t *testing.T, dirs ...string) {
	t.Helper()
	for _, dir := range dirs {
		if os.Geteuid() != 0 {
			if err := os.Chmod(dir, 0o500); err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = os.Chmod(dir, 0o700) })
			continue
		}
		if out, err := exec.Command("chattr", "+i", dir).CombinedOutput(); err != nil {
			t.Skipf("cannot make %s read-only for root: chattr: %v %s", dir, err, out)
		}
		t.Cleanup(func() { _ = exec.Command("chattr", "-i", dir).Run() })
	}
}
