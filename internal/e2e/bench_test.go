package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/mark3labs/mcp-go/client"
	"github.com/mark3labs/mcp-go/mcp"
)

// benchTimeout bounds one sub-benchmark, setup included.
const benchTimeout = 5 * time.Minute

// BenchmarkToolCall measures one echo call to server-everything, made
// directly and through mcpmux, one call at a time. Both clients speak
// 2025-11-25, so the two differ only by mcpmux's hop. The mcpmux binary is
// built with -race unless MCPMUX_BENCH_NORACE=1.
func BenchmarkToolCall(b *testing.B) {
	bin := everythingBin(b)
	pinned := client.WithProtocolVersion(mcp.LATEST_LEGACY_PROTOCOL_VERSION)
	b.Run("direct", func(b *testing.B) {
		ctx := testContext(b, benchTimeout)
		benchEcho(b, ctx, startDirect(b, ctx, bin, pinned), "echo")
	})
	b.Run("mcpmux", func(b *testing.B) {
		ctx := testContext(b, benchTimeout)
		m := startMcpmux(b, ctx, writeConfig(b, map[string]any{"everything": map[string]any{"command": bin}}), pinned)
		waitForTools(b, ctx, m.client, "everything__")
		benchEcho(b, ctx, m.client, "everything__echo")
	})
}

func benchEcho(b *testing.B, ctx context.Context, c *client.Client, tool string) {
	req := mcp.CallToolRequest{}
	req.Params.Name = tool
	req.Params.Arguments = map[string]any{"message": "bench"}
	for b.Loop() {
		res, err := c.CallTool(ctx, req)
		if err != nil || res.IsError {
			b.Fatalf("CallTool(%s) = %+v, %v", tool, res, err)
		}
	}
}

// BenchmarkColdFirstToolsList measures a new user's first session: five
// real npm upstreams (three server-everything, two server-memory) and no
// registry yet. Each iteration starts the five directly, in parallel, and
// times the slowest one's start (spawn, initialize, tools/list answered);
// and starts mcpmux on a fresh data dir and times its start (spawn,
// initialize, the first tools/list answered, complete). The two take
// turns at going first, since whatever runs second competes with the
// first's exiting processes. It reports the medians of both, of what
// mcpmux adds to the slowest upstream's own start, and of the time from
// the last upstream's becoming ready (in mcpmux://status) to the answer of
// the first list, which is what the wait itself costs, free of the noise
// of five node processes starting on a shared machine. Run it with
// -benchtime=10x or so, and MCPMUX_BENCH_NORACE=1.
func BenchmarkColdFirstToolsList(b *testing.B) {
	servers := map[string]any{}
	for i := range 3 {
		servers[fmt.Sprintf("everything%d", i)] = everything(b)
	}
	for i := range 2 {
		servers[fmt.Sprintf("memory%d", i)] = memory(b)
	}
	cfg := writeConfig(b, servers)
	mcpmuxBin(b) // built before anything is timed
	var direct, mux, added, afterReady []time.Duration
	for i := 0; b.Loop(); i++ {
		var slowest time.Duration
		var tools int
		var run muxRun
		if i%2 == 0 {
			slowest, tools = startDirectly(b, servers)
			run = startThroughMcpmux(b, cfg)
		} else {
			run = startThroughMcpmux(b, cfg)
			slowest, tools = startDirectly(b, servers)
		}
		if run.tools != tools {
			b.Fatalf("first tools/list through mcpmux has %d tools, directly %d", run.tools, tools)
		}
		b.Logf("slowest upstream %s; mcpmux %s, its first list %s after its last upstream was ready",
			slowest.Round(time.Millisecond), run.took.Round(time.Millisecond), run.afterReady.Round(10*time.Microsecond))
		direct, mux, added = append(direct, slowest), append(mux, run.took), append(added, run.took-slowest)
		afterReady = append(afterReady, run.afterReady)
	}
	b.ReportMetric(medianMs(direct), "slowest-upstream-ms")
	b.ReportMetric(medianMs(mux), "mcpmux-ms")
	b.ReportMetric(medianMs(added), "added-ms")
	b.ReportMetric(medianMs(afterReady), "after-last-ready-ms")
}

// medianMs returns the median of ds in milliseconds.
func medianMs(ds []time.Duration) float64 {
	s := slices.Clone(ds)
	slices.Sort(s)
	m := s[len(s)/2]
	if len(s)%2 == 0 {
		m = (s[len(s)/2-1] + s[len(s)/2]) / 2
	}
	return float64(m.Microseconds()) / 1000
}

// startDirectly starts every server with a client of its own, all at once,
// and returns how long the slowest took to answer its tools/list, and how
// many tools they list in all.
func startDirectly(b *testing.B, servers map[string]any) (slowest time.Duration, tools int) {
	ctx := testContext(b, benchTimeout)
	var mu sync.Mutex
	var wg sync.WaitGroup
	var clients []*client.Client
	start := time.Now()
	for _, entry := range servers {
		e := entry.(map[string]any)
		wg.Go(func() {
			var env []string
			if m, ok := e["env"].(map[string]string); ok {
				for k, v := range m {
					env = append(env, k+"="+v)
				}
			}
			c, err := client.NewStdioMCPClient(e["command"].(string), env)
			if err == nil {
				_, err = initialize(ctx, c)
			}
			var res *mcp.ListToolsResult
			if err == nil {
				res, err = c.ListTools(ctx, mcp.ListToolsRequest{})
			}
			took := time.Since(start)
			mu.Lock()
			defer mu.Unlock()
			if c != nil {
				clients = append(clients, c)
			}
			if err != nil {
				b.Errorf("starting %s directly: %v", e["command"], err)
				return
			}
			slowest = max(slowest, took)
			tools += len(res.Tools)
		})
	}
	wg.Wait()
	for _, c := range clients {
		_ = c.Close()
	}
	if b.Failed() {
		b.FailNow()
	}
	return slowest, tools
}

// muxRun is one start of mcpmux.
type muxRun struct {
	took       time.Duration // from spawn to the answer of the first tools/list
	afterReady time.Duration // from the last upstream's ready to that answer
	tools      int           // how many tools it listed
}

// startThroughMcpmux starts mcpmux with the configuration at cfg and a
// fresh data dir, lists its tools once and reads mcpmux://status.
func startThroughMcpmux(b *testing.B, cfg string) muxRun {
	ctx := testContext(b, benchTimeout)
	start := time.Now()
	m := startMcpmux(b, ctx, cfg)
	res, err := m.client.ListTools(ctx, mcp.ListToolsRequest{})
	answered := time.Now()
	if err != nil {
		b.Fatalf("first tools/list through mcpmux: %v", err)
	}
	status, err := m.client.ReadResource(ctx, mcp.ReadResourceRequest{Params: mcp.ReadResourceParams{URI: "mcpmux://status"}})
	if err != nil || len(status.Contents) == 0 {
		b.Fatalf("reading mcpmux://status: %v", err)
	}
	var st struct {
		Upstreams []struct {
			State string
			Since time.Time
		}
	}
	if err := json.Unmarshal([]byte(status.Contents[0].(mcp.TextResourceContents).Text), &st); err != nil {
		b.Fatalf("decoding mcpmux://status: %v", err)
	}
	var lastReady time.Time
	for _, u := range st.Upstreams {
		if u.State != "ready" {
			b.Fatalf("an upstream is %s after the first list", u.State)
		}
		if u.Since.After(lastReady) {
			lastReady = u.Since
		}
	}
	m.stop()
	return muxRun{took: answered.Sub(start), afterReady: answered.Sub(lastReady), tools: len(res.Tools)}
}
