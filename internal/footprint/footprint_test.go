package footprint

import (
	"os"
	"runtime"
	"strconv"
	"strings"
	"testing"
)

// rssFile reads how much of this process's memory is file-backed, in kB.
func rssFile(t *testing.T) int {
	t.Helper()
	data, err := os.ReadFile("/proc/self/status")
	if err != nil {
		t.Skipf("no /proc: %v", err)
	}
	for _, line := range strings.Split(string(data), "\n") {
		if rest, ok := strings.CutPrefix(line, "RssFile:"); ok {
			n, _ := strconv.Atoi(strings.Fields(rest)[0])
			return n
		}
	}
	t.Skip("no RssFile in /proc/self/status")
	return 0
}

// TestRelease checks that Release drops the executable's pages and that
// the process runs on: what it uses next faults back in.
func TestRelease(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("drops code pages on Linux only")
	}
	before := rssFile(t)
	Release()
	after := rssFile(t)
	t.Logf("RssFile %d kB -> %d kB", before, after)
	if after >= before {
		t.Errorf("RssFile after Release = %d kB, want less than the %d kB before", after, before)
	}
	if s := strings.Repeat("x", 3); s != "xxx" { // code runs on after its pages were dropped
		t.Fatal(s)
	}
}
