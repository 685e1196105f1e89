package bench

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/mcpmux/mcpmux/internal/testutil"
)

func TestMain(m *testing.M) {
	code := m.Run()
	testutil.RemoveBuilds()
	os.Exit(code)
}

// BenchmarkTSClient runs testdata/tsclient.cjs: the official TypeScript
// SDK client (pinned: testutil.SDKVersion) calls echo on an upstream
// directly, through the linerelay binary and through the mcpmux binary
// (built without -race, with a registry in a fresh data dir), interleaved
// call by call, then with 16 calls in flight. It reports the median call
// of each, the calls per second of each, mcpmux/direct, what mcpmux adds
// over what the relay adds, and mcpmux's share of direct's throughput.
// Each iteration is one run of the script (its ratios' medians are
// reported); TSCLIENT_CALLS sets its calls per side (default 2000).
func BenchmarkTSClient(b *testing.B) {
	modules := testutil.NPMModules(b, testutil.SDKPkg, testutil.SDKVersion)
	node, err := exec.LookPath("node")
	if err != nil {
		b.Skip("node not found on PATH")
	}
	script, err := filepath.Abs("testdata/tsclient.cjs")
	if err != nil {
		b.Fatal(err)
	}
	calls := 2000
	if n, err := strconv.Atoi(os.Getenv("TSCLIENT_CALLS")); err == nil && n > 0 {
		calls = n
	}
	mcpmux := testutil.BuildMcpmuxNoRace(b)
	relay := testutil.LineRelayPath(b)
	for _, u := range upstreams {
		b.Run(u.name, func(b *testing.B) {
			up := u.start(b)
			cfg := filepath.Join(b.TempDir(), "config.json")
			data, _ := json.Marshal(map[string]any{"mcpServers": map[string]any{"a": map[string]any{"command": up.name, "args": up.args}}})
			if err := os.WriteFile(cfg, data, 0o644); err != nil {
				b.Fatal(err)
			}
			spec, _ := json.Marshal(map[string]any{
				"sides": []map[string]any{
					{"name": "direct", "command": up.name, "args": up.args, "tool": "echo"},
					{"name": "relay", "command": relay, "args": append([]string{up.name}, up.args...), "tool": "echo"},
					{"name": "mcpmux", "command": mcpmux, "args": []string{"serve", "--config", cfg, "--data-dir", b.TempDir()}, "tool": "a__echo"},
				},
				"calls": calls,
			})
			type side struct {
				US        float64 `json:"us"`
				CallsPerS float64 `json:"calls_per_s"`
			}
			var last map[string]side
			var ratios, relayRatios, rateRatios []float64
			for b.Loop() {
				cmd := exec.Command(node, script, string(spec))
				cmd.Env = append(os.Environ(), "NODE_PATH="+modules, "MCPMUX_LOG_LEVEL=warn")
				cmd.Stderr = os.Stderr
				out, err := cmd.Output()
				if err != nil {
					b.Fatalf("node %s: %v", script, err)
				}
				if err := json.Unmarshal(out, &last); err != nil {
					b.Fatalf("decoding the script's output %q: %v", out, err)
				}
				d, r, m := last["direct"], last["relay"], last["mcpmux"]
				ratios = append(ratios, m.US/d.US)
				relayRatios = append(relayRatios, (m.US-d.US)/max(r.US-d.US, 1))
				rateRatios = append(rateRatios, m.CallsPerS/d.CallsPerS)
			}
			for _, name := range []string{"direct", "relay", "mcpmux"} {
				b.ReportMetric(last[name].US, name+"-us")
				b.ReportMetric(last[name].CallsPerS, name+"-calls/s")
			}
			b.ReportMetric(medianF(ratios), "mcpmux/direct")
			b.ReportMetric(medianF(relayRatios), "mcpmux/relay-added")
			b.ReportMetric(medianF(rateRatios), "mcpmux/direct-throughput")
		})
	}
}
