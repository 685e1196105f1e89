package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os/exec"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/mark3labs/mcp-go/client/transport"
	"github.com/mark3labs/mcp-go/mcp"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/mcpmux/mcpmux/internal/testutil"
)

// withMetrics is a prepare function for startMcpmuxWith: serve with a side
// listener for /metrics on a free loopback port.
func withMetrics(cmd *exec.Cmd) {
	cmd.Args = append(cmd.Args, "--metrics", "127.0.0.1:0")
}

var metricsURL = regexp.MustCompile(`mcpmux serving metrics url=(http://\S+/metrics)`)

// metricsEndpoint waits for mcpmux to log the URL of its /metrics.
func metricsEndpoint(tb testing.TB, m *mcpmux) string {
	tb.Helper()
	var url string
	testutil.WaitFor(tb, "mcpmux to log its metrics URL", func() bool {
		if sm := metricsURL.FindStringSubmatch(m.stderr.String()); sm != nil {
			url = sm[1]
		}
		return url != ""
	})
	if n := strings.Count(m.stderr.String(), "mcpmux serving metrics"); n != 1 {
		tb.Errorf("the metrics URL was logged %d times, want once", n)
	}
	return url
}

// scrape returns the text of a GET of url.
func scrape(tb testing.TB, ctx context.Context, url string) []byte {
	tb.Helper()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		tb.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		tb.Fatalf("GET %s = %d %s", url, resp.StatusCode, body)
	}
	return body
}

// series parses Prometheus text into "name{label="v",...}" → value, the
// labels sorted by name.
func series(tb testing.TB, text []byte) map[string]float64 {
	tb.Helper()
	parser := expfmt.NewTextParser(model.UTF8Validation)
	families, err := parser.TextToMetricFamilies(bytes.NewReader(text))
	if err != nil {
		tb.Fatalf("parsing the metrics: %v\n%s", err, text)
	}
	out := map[string]float64{}
	for name, f := range families {
		for _, m := range f.GetMetric() {
			var labels []string
			for _, l := range m.GetLabel() {
				labels = append(labels, fmt.Sprintf("%s=%q", l.GetName(), l.GetValue()))
			}
			key := name
			if len(labels) > 0 {
				key += "{" + strings.Join(labels, ",") + "}"
			}
			switch {
			case m.Counter != nil:
				out[key] = m.GetCounter().GetValue()
			case m.Gauge != nil:
				out[key] = m.GetGauge().GetValue()
			case m.Histogram != nil:
				out[key+"_count"] = float64(m.GetHistogram().GetSampleCount())
			case m.Untyped != nil:
				out[key] = m.GetUntyped().GetValue()
			}
		}
	}
	return out
}

// promtoolCheck runs `promtool check metrics` on text, or skips saying
// why when promtool is absent.
func promtoolCheck(tb testing.TB, text []byte) {
	tb.Helper()
	bin, err := exec.LookPath("promtool")
	if err != nil {
		tb.Skip("promtool is not installed (Debian package prometheus; .ci/run installs it): `promtool check metrics` not run")
	}
	cmd := exec.Command(bin, "check", "metrics")
	cmd.Stdin = bytes.NewReader(text)
	if out, err := cmd.CombinedOutput(); err != nil {
		tb.Errorf("promtool check metrics: %v\n%s", err, out)
	}
}

// TestMetricsCountEveryOutcome makes a known sequence of calls to two real
// upstreams (ok, isError, JSON-RPC error, timeout, cancelled) through the
// mcpmux binary serving --metrics, and checks every counter exactly, the
// gauges, and the text with promtool.
func TestMetricsCountEveryOutcome(t *testing.T) {
	ts := testutil.TestServerPath(t)
	mcpmuxBin(t) // built before the clock starts
	ctx := testContext(t, testTimeout)
	cfg := writeConfig(t, map[string]any{
		"a": map[string]any{"command": ts, "args": []string{"-name", "a"}, "timeout": "1s"},
		"b": map[string]any{"command": ts, "args": []string{"-name", "b"}},
	})
	m := startMcpmuxWith(t, ctx, cfg, t.TempDir(), withMetrics)
	url := metricsEndpoint(t, m)
	waitForTools(t, ctx, m.client, "a__", "b__")
	tr := m.client.GetTransport()
	call := func(tool string) *transport.JSONRPCResponse {
		t.Helper()
		resp, err := rawRequest(ctx, m.client, "tools/call", json.RawMessage(fmt.Sprintf(`{"name":%q,"arguments":{"message":"hi"}}`, tool)))
		if err != nil {
			t.Fatalf("%s: %v", tool, err)
		}
		return resp
	}
	for range 3 {
		if resp := call("a__echo"); resp.Error != nil {
			t.Fatalf("a__echo: %+v", resp.Error)
		}
	}
	call("b__echo")
	for range 2 {
		call("a__fail") // isError: an error
	}
	if resp := call("b__error"); resp.Error == nil {
		t.Fatalf("b__error answered %s", resp.Result)
	}
	if resp := call("a__hang"); resp.Error == nil || resp.Error.Code != -32001 {
		t.Fatalf("a__hang = %+v, want a timeout", resp.Error)
	}
	// A call the client cancels: sent with an id of our own, cancelled
	// once it is in flight at mcpmux.
	hung, stop := context.WithCancel(ctx)
	defer stop()
	go func() {
		_, _ = tr.SendRequest(hung, transport.JSONRPCRequest{JSONRPC: "2.0", ID: mcp.NewRequestId("hang-2"), Method: "tools/call",
			Params: json.RawMessage(`{"name":"b__hang","arguments":{}}`)})
	}()
	testutil.WaitFor(t, "the hanging call to be in flight", func() bool {
		return series(t, scrape(t, ctx, url))["mcpmux_requests_in_flight"] == 1
	})
	if err := tr.SendNotification(ctx, mcp.JSONRPCNotification{JSONRPC: "2.0", Notification: mcp.Notification{
		Method: "notifications/cancelled", Params: mcp.NotificationParams{AdditionalFields: map[string]any{"requestId": "hang-2", "reason": "test"}}}}); err != nil {
		t.Fatal(err)
	}
	want := map[string]float64{
		`mcpmux_tool_calls_total{outcome="ok",server="a",tool="echo"}`:        3,
		`mcpmux_tool_calls_total{outcome="ok",server="b",tool="echo"}`:        1,
		`mcpmux_tool_calls_total{outcome="error",server="a",tool="fail"}`:     2,
		`mcpmux_tool_calls_total{outcome="error",server="b",tool="error"}`:    1,
		`mcpmux_tool_calls_total{outcome="timeout",server="a",tool="hang"}`:   1,
		`mcpmux_tool_calls_total{outcome="cancelled",server="b",tool="hang"}`: 1,
		`mcpmux_tool_call_duration_seconds{server="a"}_count`:                 6,
		`mcpmux_tool_call_duration_seconds{server="b"}_count`:                 3,
		`mcpmux_upstream_up{server="a"}`:                                      1,
		`mcpmux_upstream_up{server="b"}`:                                      1,
		`mcpmux_upstream_restarts_total{server="a"}`:                          0,
		`mcpmux_sessions`:           1,
		`mcpmux_requests_in_flight`: 0,
		`mcpmux_tool_calls_total{outcome="cancelled",server="a",tool="echo"}`:  0,
		`mcpmux_tool_calls_total{outcome="ok",server="a",tool="fail"}`:         0,
		`mcpmux_tool_calls_total{outcome="error",server="a",tool="hang"}`:      0,
		`mcpmux_tool_calls_total{outcome="timeout",server="b",tool="hang"}`:    0,
		`mcpmux_tool_calls_total{outcome="cancelled",server="a",tool="hang"}`:  0,
		`mcpmux_tool_calls_total{outcome="error",server="b",tool="hang"}`:      0,
		`mcpmux_tool_calls_total{outcome="ok",server="b",tool="hang"}`:         0,
		`mcpmux_tool_calls_total{outcome="ok",server="a",tool="hang"}`:         0,
		`mcpmux_tool_calls_total{outcome="cancelled",server="b",tool="error"}`: 0,
		`mcpmux_tool_calls_total{outcome="timeout",server="a",tool="echo"}`:    0,
		`mcpmux_tool_calls_total{outcome="error",server="a",tool="echo"}`:      0,
		`mcpmux_tool_calls_total{outcome="cancelled",server="a",tool="fail"}`:  0,
		`mcpmux_tool_calls_total{outcome="timeout",server="a",tool="fail"}`:    0,
		`mcpmux_tool_calls_total{outcome="timeout",server="b",tool="error"}`:   0,
		`mcpmux_tool_calls_total{outcome="ok",server="b",tool="error"}`:        0,
		`mcpmux_tool_calls_total{outcome="timeout",server="b",tool="echo"}`:    0,
		`mcpmux_tool_calls_total{outcome="error",server="b",tool="echo"}`:      0,
		`mcpmux_tool_calls_total{outcome="cancelled",server="b",tool="echo"}`:  0,
	}
	var text []byte
	var got map[string]float64
	testutil.WaitFor(t, "the cancelled call to be counted", func() bool {
		text = scrape(t, ctx, url)
		got = series(t, text)
		return got[`mcpmux_tool_calls_total{outcome="cancelled",server="b",tool="hang"}`] == 1 && got["mcpmux_requests_in_flight"] == 0
	})
	for k, v := range want {
		if g, ok := got[k]; !ok || g != v {
			t.Errorf("%s = %v (present %v), want %v", k, g, ok, v)
		}
	}
	var calls, toolSeries float64
	for k, v := range got {
		if strings.HasPrefix(k, "mcpmux_tool_calls_total{") {
			calls += v
			toolSeries++
		}
	}
	if calls != 9 {
		t.Errorf("sum(mcpmux_tool_calls_total) = %v, want 9: each call counts once", calls)
	}
	if toolSeries != 4*6 {
		t.Errorf("%v mcpmux_tool_calls_total series, want 24: the 6 (server, tool) called, 4 outcomes each", toolSeries)
	}
	if got[`mcpmux_catalogue_tools{server="a"}`] < 10 || got[`mcpmux_catalogue_tools{server="a"}`] != got[`mcpmux_catalogue_tools{server="b"}`] {
		t.Errorf("mcpmux_catalogue_tools a=%v b=%v: want the test server's tools, alike", got[`mcpmux_catalogue_tools{server="a"}`], got[`mcpmux_catalogue_tools{server="b"}`])
	}
	for _, name := range []string{"go_goroutines", "process_cpu_seconds_total"} {
		if _, ok := got[name]; !ok {
			t.Errorf("no %s: the Go and process collectors are missing", name)
		}
	}
	// A name no catalogue has gets an error, and no series.
	call("a__nonexistent_" + strings.Repeat("x", 10))
	if strings.Contains(string(scrape(t, ctx, url)), "nonexistent") {
		t.Errorf("a tool name from the client became a label")
	}
	promtoolCheck(t, text)
}

// TestMetricsListenerGuard: the side listener answers only /metrics (and
// / when something is mounted there), under serve --http's Host rules.
func TestMetricsListenerGuard(t *testing.T) {
	cfg := writeConfig(t, map[string]any{"a": map[string]any{"command": testutil.TestServerPath(t), "args": []string{"-name", "a"}}})
	mcpmuxBin(t)
	ctx := testContext(t, testTimeout)
	m := startMcpmuxWith(t, ctx, cfg, t.TempDir(), withMetrics)
	url := metricsEndpoint(t, m)
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	req.Host = "evil.example:80"
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusForbidden {
		t.Errorf("GET /metrics with Host evil.example = %d, want 403 (DNS rebinding)", resp.StatusCode)
	}
	// mcpmux status names the URL of the running serve.
	testutil.WaitFor(t, "mcpmux status to print the metrics URL", func() bool {
		out, _ := exec.CommandContext(ctx, mcpmuxBin(t), "status", "--config", cfg, "--data-dir", m.dataDir).CombinedOutput()
		return strings.Contains(string(out), strings.TrimSuffix(url, "/metrics"))
	})
}

// TestMetricsNeedTokenOffLoopback: --metrics on a non-loopback address
// without a token is refused before anything starts, as --http is.
func TestMetricsNeedTokenOffLoopback(t *testing.T) {
	cfg := writeConfig(t, map[string]any{"a": map[string]any{"command": testutil.TestServerPath(t)}})
	mcpmuxBin(t)
	ctx := testContext(t, testTimeout)
	cmd := exec.CommandContext(ctx, mcpmuxBin(t), "serve", "--config", cfg, "--data-dir", t.TempDir(), "--metrics", "0.0.0.0:0")
	cmd.Env = append(cmd.Environ(), "MCPMUX_TOKEN=")
	out, err := cmd.CombinedOutput()
	if err == nil || !strings.Contains(string(out), "--metrics") || !strings.Contains(string(out), "token") {
		t.Errorf("serve --metrics 0.0.0.0:0 without a token = %v\n%s", err, out)
	}
}

var _ = time.Second
