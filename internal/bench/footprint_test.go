package bench

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/mcpmux/mcpmux/internal/testutil"
)

// muxProcess is the mcpmux binary (built without -race) serving a lean
// client on its stdio, with a registry in a fresh data dir.
type muxProcess struct {
	cmd *exec.Cmd
	c   *client
}

// startMuxProcess starts the mcpmux binary bin with n test servers
// s000.. (each named so, with args) and returns it once it has answered
// initialize.
func startMuxProcess(tb testing.TB, bin string, n int, args ...string) *muxProcess {
	tb.Helper()
	servers := map[string]any{}
	for i := range n {
		name := fmt.Sprintf("s%03d", i)
		servers[name] = map[string]any{"command": testutil.TestServerPath(tb), "args": append([]string{"-name", name}, args...)}
	}
	data, _ := json.Marshal(map[string]any{"mcpServers": servers, "toolMode": "full"})
	cfg := filepath.Join(tb.TempDir(), "config.json")
	if err := os.WriteFile(cfg, data, 0o644); err != nil {
		tb.Fatal(err)
	}
	cmd := exec.Command(bin, "serve", "--config", cfg, "--data-dir", tb.TempDir())
	cmd.Env = append(os.Environ(), "MCPMUX_LOG_LEVEL=warn")
	cmd.Stderr = os.Stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		tb.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		tb.Fatal(err)
	}
	cmd.WaitDelay = 10 * time.Second
	if err := cmd.Start(); err != nil {
		tb.Fatal(err)
	}
	p := &muxProcess{cmd: cmd, c: newClient(tb, stdin, stdout)}
	tb.Cleanup(p.stop)
	p.c.initialize()
	return p
}

// stop closes mcpmux's stdin and waits for it to exit.
func (p *muxProcess) stop() {
	p.c.w.Close()
	_ = p.cmd.Wait()
}

// binaries are the mcpmux binaries the footprint benchmarks measure: the
// one built from this tree, and, if $MCPMUX_BENCH_BASELINE names one,
// that binary too (an older mcpmux, say, built from a worktree of the
// commit to compare with), measured in the same run, taking turns.
func binaries(tb testing.TB) []string {
	tb.Helper()
	bins := []string{testutil.BuildMcpmuxNoRace(tb)}
	if base := os.Getenv("MCPMUX_BENCH_BASELINE"); base != "" {
		bins = append(bins, base)
	}
	return bins
}

// reportFootprint reports per[k] (one value per binary, see binaries)
// under unit, the baseline's as "baseline-"+unit, and their ratio.
func reportFootprint(b *testing.B, per []float64, unit string) {
	b.ReportMetric(per[0], unit)
	if len(per) > 1 {
		b.ReportMetric(per[1], "baseline-"+unit)
		b.ReportMetric(per[0]/per[1], unit+"/baseline")
	}
}

// BenchmarkRSS reports the resident memory of mcpmux itself (children
// excluded) serving 5 upstreams with a registry, after its first list
// and 500 calls: now (MB-rss) and at its peak (MB-peak-rss); the medians
// over the iterations. With $MCPMUX_BENCH_BASELINE, that binary's too
// (see binaries).
func BenchmarkRSS(b *testing.B) {
	testutil.CheckNoChildren(b)
	bins := binaries(b)
	rss, peak := make([][]float64, len(bins)), make([][]float64, len(bins))
	for i := 0; b.Loop(); i++ {
		for k := range bins {
			j := (i + k) % len(bins) // each goes first in turn
			p := startMuxProcess(b, bins[j], 5)
			mustContain(b, p.c.call("tools/list", ""), `"s004__echo"`)
			for i := range 500 {
				p.c.call("tools/call", echoParams(fmt.Sprintf("s%03d__echo", i%5)))
			}
			r, pk := procStatus(b, p.cmd.Process.Pid)
			rss[j], peak[j] = append(rss[j], float64(r)/(1<<20)), append(peak[j], float64(pk)/(1<<20))
			p.stop()
		}
	}
	reportFootprint(b, medians(rss), "MB-rss")
	reportFootprint(b, medians(peak), "MB-peak-rss")
}

// BenchmarkStartup100 starts mcpmux with 100 test servers and a fresh
// data dir, and measures the time from its start to the answer of its
// first tools/list, which waits for all 100, and the CPU time mcpmux
// itself used until then (cpu-ms; its children excluded); the medians
// over the iterations. With $MCPMUX_BENCH_BASELINE, that binary's too
// (see binaries).
func BenchmarkStartup100(b *testing.B) {
	testutil.CheckNoChildren(b)
	testutil.TestServerPath(b)
	bins := binaries(b)
	cpu, wall := make([][]float64, len(bins)), make([][]float64, len(bins))
	for i := 0; b.Loop(); i++ {
		for k := range bins {
			j := (i + k) % len(bins)
			start := time.Now()
			p := startMuxProcess(b, bins[j], 100, "-tools", "20")
			mustContain(b, p.c.call("tools/list", ""), `"s099__tool_0019"`)
			wall[j] = append(wall[j], float64(time.Since(start).Milliseconds()))
			cpu[j] = append(cpu[j], float64(procCPU(b, p.cmd.Process.Pid).Milliseconds()))
			p.stop()
		}
	}
	reportFootprint(b, medians(wall), "first-list-ms")
	reportFootprint(b, medians(cpu), "cpu-ms")
}

// medians returns the median of each of fs.
func medians(fs [][]float64) []float64 {
	m := make([]float64, len(fs))
	for i, f := range fs {
		m[i] = medianF(f)
	}
	return m
}

// procStatus reads VmRSS and VmHWM of pid, in bytes.
func procStatus(tb testing.TB, pid int) (rss, peak int64) {
	tb.Helper()
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		tb.Skipf("no /proc: %v", err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		key, value, _ := strings.Cut(sc.Text(), ":")
		fields := strings.Fields(value)
		if len(fields) != 2 || fields[1] != "kB" {
			continue
		}
		kb, _ := strconv.ParseInt(fields[0], 10, 64)
		switch key {
		case "VmRSS":
			rss = kb << 10
		case "VmHWM":
			peak = kb << 10
		}
	}
	return rss, peak
}

// procCPU reads the user and system CPU time pid has used itself.
func procCPU(tb testing.TB, pid int) time.Duration {
	tb.Helper()
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		tb.Skipf("no /proc: %v", err)
	}
	// The fields after the command, which is in parentheses: utime and
	// stime are the 14th and 15th of the line, in clock ticks (100 a
	// second on Linux).
	rest := string(data[strings.LastIndexByte(string(data), ')')+2:])
	f := strings.Fields(rest)
	utime, _ := strconv.ParseInt(f[11], 10, 64)
	stime, _ := strconv.ParseInt(f[12], 10, 64)
	return time.Duration(utime+stime) * 10 * time.Millisecond
}
