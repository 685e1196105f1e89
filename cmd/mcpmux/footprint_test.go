package main

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/mcpmux/mcpmux/internal/testutil"
	"github.com/mcpmux/mcpmux/registry"
	"github.com/mcpmux/mcpmux/registry/store"
)

// maxRSS is the most memory mcpmux itself may hold serving ten upstreams.
const maxRSS = 40 << 20

// manyServers writes a configuration of n test servers and returns it with
// the name of one tool of each.
func manyServers(tb testing.TB, n int) (config string, servers []string, tools []string) {
	tb.Helper()
	entries := map[string]any{}
	for i := range n {
		name := fmt.Sprintf("s%02d", i)
		entries[name] = testutil.TestServer(tb, "-name", name)
		servers = append(servers, name)
		tools = append(tools, name+"__echo")
	}
	return writeConfig(tb, entries), servers, tools
}

// BenchmarkStartupToFirstToolsList measures, with the catalogues of 20
// upstreams cached and each upstream taking 3s to start, the time from
// starting mcpmux to the answer of its first tools/list. Run it with
// -benchtime=5x or so: each iteration also waits for mcpmux to stop.
func BenchmarkStartupToFirstToolsList(b *testing.B) {
	testutil.CheckNoChildren(b)
	dataDir := b.TempDir()
	config, _, tools := manyServers(b, 20)
	args := []string{"--config", config, "--data-dir", dataDir}
	first := serveProcess(b, nil, args...)
	want := len(first.waitTools(tools...))
	first.stop()

	b.ResetTimer()
	for range b.N {
		b.StartTimer()
		p := serveProcess(b, []string{"TESTSERVER_ARGS=-start-delay 3s"}, args...)
		got := p.tools()
		b.StopTimer()
		if len(got) != want {
			b.Fatalf("first tools/list = %d tools, want the %d cached", len(got), want)
		}
		p.stop()
	}
}

// TestServeRSS checks that mcpmux serving ten upstreams, and recording
// their calls, holds less than maxRSS itself (children excluded).
func TestServeRSS(t *testing.T) {
	testutil.CheckNoChildren(t)
	rss, peak := serveTenAndMeasure(t)
	t.Logf("mcpmux with 10 upstreams: VmRSS %.1f MB, VmHWM %.1f MB", mb(rss), mb(peak))
	if rss > maxRSS || peak > maxRSS {
		t.Errorf("mcpmux VmRSS %.1f MB, VmHWM %.1f MB; want both under %.0f MB", mb(rss), mb(peak), mb(maxRSS))
	}
}

// BenchmarkServeRSS reports what TestServeRSS checks.
func BenchmarkServeRSS(b *testing.B) {
	testutil.CheckNoChildren(b)
	var rss, peak int64
	for range b.N {
		rss, peak = serveTenAndMeasure(b)
	}
	b.ReportMetric(mb(rss), "MB-rss")
	b.ReportMetric(mb(peak), "MB-peak-rss")
	if rss > maxRSS || peak > maxRSS {
		b.Errorf("mcpmux VmRSS %.1f MB, VmHWM %.1f MB; want both under %.0f MB", mb(rss), mb(peak), mb(maxRSS))
	}
}

func mb(n int64) float64 { return float64(n) / (1 << 20) }

// serveTenAndMeasure runs mcpmux with ten upstreams, calls each a few
// times, waits until the calls are in the store (so that the store has been
// opened, written and closed), and returns mcpmux's resident memory now and
// at its peak.
func serveTenAndMeasure(tb testing.TB) (rss, peak int64) {
	tb.Helper()
	dataDir := tb.TempDir()
	config, servers, tools := manyServers(tb, 10)
	p := serveProcess(tb, nil, "--config", config, "--data-dir", dataDir)
	p.waitTools(tools...)
	for range 5 {
		for _, tool := range tools {
			p.call(10*time.Second, tool, map[string]any{"message": strings.Repeat("x", 1000)})
		}
	}
	srvs := make([]*registry.Server, len(servers))
	for i, name := range servers {
		srvs[i] = &registry.Server{Name: name}
	}
	testutil.WaitFor(tb, "the calls in the store", func() bool {
		ctx, cancel := context.WithTimeout(context.Background(), testutil.WaitTimeout)
		defer cancel()
		sums, _ := store.NewHandle(dataDir, store.HandleOptions{}).Summarize(ctx, srvs, time.Now())
		return len(sums) > 0 && sums[len(sums)-1].Calls.Calls == 5
	})
	rss, peak = procMemory(tb, p.cmd.Process.Pid)
	p.stop()
	return rss, peak
}

// procMemory reads VmRSS and VmHWM of pid, in bytes.
func procMemory(tb testing.TB, pid int) (rss, peak int64) {
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

// TestMemoryReturnedAfterHugeResult passes a 60 MB result through mcpmux
// and checks that mcpmux's resident memory then falls below the size of
// the result: the memory it took goes back to the system. Its client
// reads raw lines: mcp-go's client decoded the 60 MB result, and call
// decoded it again, in this race-built process, and that took most of the
// package's time (160s of a run at load 30, when the package ran out of
// go test's time).
func TestMemoryReturnedAfterHugeResult(t *testing.T) {
	testutil.CheckNoChildren(t)
	const size = 60 << 20
	p, stdout, stdin := startProcess(t, nil, "--config", writeConfig(t, map[string]any{"a": testutil.TestServer(t, "-name", "a")}), "--no-registry")
	c := &rawClient{tb: t, w: stdin, r: bufio.NewReaderSize(stdout, 1<<20)}
	c.request(1, "initialize", `{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"cmd-test","version":"1"}}`)
	c.send(`{"jsonrpc":"2.0","method":"notifications/initialized"}`)
	// A call right after initialize waits for its upstream.
	if line := c.request(2, "tools/call", fmt.Sprintf(`{"name":"a__big","arguments":{"bytes":%d}}`, size)); !hasRun(line, `"text":"`, 'x', size, `"`) {
		t.Fatalf("a__big returned %d bytes, want a text of %d x: %.300s", len(line), size, line)
	}
	var rss, peak int64
	if !testutil.Await(func() bool { rss, peak = procMemory(t, p.cmd.Process.Pid); return rss < size*3/4 }) {
		t.Fatalf("after a %.0f MB result mcpmux holds %.1f MB (peak %.1f MB); want less than %.0f MB", mb(size), mb(rss), mb(peak), mb(size*3/4))
	}
	t.Logf("after a %.0f MB result: VmRSS %.1f MB, VmHWM %.1f MB", mb(size), mb(rss), mb(peak))
}

// rawClient speaks JSON-RPC lines to a mcpmux process without decoding
// more of them than their ids.
type rawClient struct {
	tb testing.TB
	w  io.Writer
	r  *bufio.Reader
}

// send writes one line.
func (c *rawClient) send(line string) {
	c.tb.Helper()
	if _, err := io.WriteString(c.w, line+"\n"); err != nil {
		c.tb.Fatalf("writing to mcpmux: %v", err)
	}
}

// request sends a request with a numeric id and returns the line of its
// response, skipping every other line (notifications, mcpmux's requests).
// A read that never ends is the test's timeout's to catch.
func (c *rawClient) request(id int, method, params string) []byte {
	c.tb.Helper()
	c.send(fmt.Sprintf(`{"jsonrpc":"2.0","id":%d,"method":%q,"params":%s}`, id, method, params))
	for {
		line, err := c.r.ReadBytes('\n')
		if err != nil {
			c.tb.Fatalf("reading the response to %s: %v", method, err)
		}
		// The id is near the start of a response, wherever its members
		// are; a request of mcpmux's has a method.
		head := line[:min(len(line), 100)]
		if bytes.Contains(head, fmt.Appendf(nil, `"id":%d,`, id)) || bytes.Contains(head, fmt.Appendf(nil, `"id":%d}`, id)) {
			if !bytes.Contains(head, []byte(`"method"`)) {
				return line
			}
		}
	}
}

// hasRun reports whether line holds before, then n times c, then after,
// as bytes.Contains would with a pattern of n bytes, without one (it
// falls back to Rabin-Karp, a loop over every byte that -race slows).
func hasRun(line []byte, before string, c byte, n int, after string) bool {
	i := bytes.Index(line, []byte(before))
	if i < 0 {
		return false
	}
	rest := line[i+len(before):]
	return len(rest) >= n+len(after) && bytes.Count(rest[:n], []byte{c}) == n && bytes.HasPrefix(rest[n:], []byte(after))
}

// maxKeeperOwn is the most memory of its own the process keeper may hold:
// its anonymous pages (heap, stacks, written data). The pages of the
// mcpmux binary it maps are file pages, shared with mcpmux on most
// systems; on some virtual machines' file systems the kernel counts them
// as private dirty, so private memory would measure the file system, not
// the keeper.
const maxKeeperOwn = 8 << 20

// TestKeeperMemory checks that the process keeper (mcpmux re-executed to
// end the upstreams if mcpmux is killed) holds less than maxKeeperOwn of
// its own.
func TestKeeperMemory(t *testing.T) {
	testutil.CheckNoChildren(t)
	m := keeperMemory(t)
	t.Logf("keeper: VmRSS %.1f MB, PSS %.1f MB, private %.1f MB, anonymous %.1f MB", mb(m.rss), mb(m.pss), mb(m.private), mb(m.anon))
	if m.anon > maxKeeperOwn {
		t.Errorf("keeper holds %.1f MB of its own (anonymous), want under %.0f MB", mb(m.anon), mb(maxKeeperOwn))
	}
}

// BenchmarkKeeperMemory reports what TestKeeperMemory checks.
func BenchmarkKeeperMemory(b *testing.B) {
	testutil.CheckNoChildren(b)
	var m memory
	for range b.N {
		m = keeperMemory(b)
	}
	b.ReportMetric(mb(m.rss), "MB-rss")
	b.ReportMetric(mb(m.pss), "MB-pss")
	b.ReportMetric(mb(m.private), "MB-private")
	b.ReportMetric(mb(m.anon), "MB-anon")
}

// memory is what /proc/<pid>/smaps_rollup says of a process, in bytes.
type memory struct{ rss, pss, private, anon int64 }

// keeperMemory runs mcpmux with one upstream and returns what its keeper
// holds while it runs.
func keeperMemory(tb testing.TB) memory {
	tb.Helper()
	config, _, tools := manyServers(tb, 1)
	p := serveProcess(tb, nil, "--config", config, "--data-dir", tb.TempDir())
	p.waitTools(tools...)
	defer p.stop()
	for _, c := range testutil.Descendants(p.cmd.Process.Pid) {
		if strings.HasSuffix(c.Cmdline, " "+keeperCommand) {
			return smaps(tb, c.PID)
		}
	}
	tb.Fatalf("no keeper among mcpmux's children: %+v", testutil.Descendants(p.cmd.Process.Pid))
	return memory{}
}

// smaps reads the memory of pid from /proc/<pid>/smaps_rollup.
func smaps(tb testing.TB, pid int) memory {
	tb.Helper()
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/smaps_rollup", pid))
	if err != nil {
		tb.Skipf("no /proc: %v", err)
	}
	var m memory
	for line := range strings.Lines(string(data)) {
		key, value, _ := strings.Cut(line, ":")
		fields := strings.Fields(value)
		if len(fields) != 2 || fields[1] != "kB" {
			continue
		}
		kb, _ := strconv.ParseInt(fields[0], 10, 64)
		switch key {
		case "Rss":
			m.rss = kb << 10
		case "Pss":
			m.pss = kb << 10
		case "Private_Clean", "Private_Dirty":
			m.private += kb << 10
		case "Anonymous":
			m.anon = kb << 10
		}
	}
	return m
}
