package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mcpmux/mcpmux/internal/testutil"
)

// TestPrometheusScrapesMetrics is the check: mcpmux under stdio
// with --metrics, two real upstreams, 22 calls, and a real Prometheus
// (Debian's) scraping the side listener; sum(mcpmux_tool_calls_total)
// and mcpmux_upstream_up are read back from Prometheus' HTTP API, and
// promtool checks the text.
func TestPrometheusScrapesMetrics(t *testing.T) {
	prom, err := exec.LookPath("prometheus")
	if err != nil {
		t.Skip("prometheus is not installed (Debian package prometheus; .ci/run installs it): the scrape check is not run")
	}
	ts := testutil.TestServerPath(t)
	mcpmuxBin(t)
	ctx := testContext(t, 2*testTimeout)
	cfg := writeConfig(t, map[string]any{
		"a": map[string]any{"command": ts, "args": []string{"-name", "a"}},
		"b": map[string]any{"command": ts, "args": []string{"-name", "b"}},
	})
	m := startMcpmuxWith(t, ctx, cfg, t.TempDir(), withMetrics)
	metrics := metricsEndpoint(t, m)
	waitForTools(t, ctx, m.client, "a__", "b__")
	for i := range 22 {
		tool := []string{"a__echo", "b__echo", "a__fail", "b__add"}[i%4]
		if _, err := rawRequest(ctx, m.client, "tools/call", json.RawMessage(fmt.Sprintf(`{"name":%q,"arguments":{"message":"hi","a":1,"b":2}}`, tool))); err != nil {
			t.Fatalf("call %d (%s): %v", i, tool, err)
		}
	}
	promtoolCheck(t, scrape(t, ctx, metrics))

	api := startPrometheus(t, ctx, prom, strings.TrimSuffix(strings.TrimPrefix(metrics, "http://"), "/metrics"))
	var sum string
	var up []promSample
	deadline := time.Now().Add(90 * time.Second)
	for {
		s := promQuery(t, ctx, api, "sum(mcpmux_tool_calls_total)")
		up = promQuery(t, ctx, api, "mcpmux_upstream_up")
		if len(s) == 1 {
			sum = s[0].Value
		}
		if sum == "22" && len(up) == 2 || time.Now().After(deadline) {
			break
		}
		time.Sleep(500 * time.Millisecond)
	}
	if sum != "22" {
		t.Errorf("Prometheus has sum(mcpmux_tool_calls_total) = %q, want 22", sum)
	}
	servers := map[string]string{}
	for _, s := range up {
		servers[s.Metric["server"]] = s.Value
	}
	if servers["a"] != "1" || servers["b"] != "1" || len(servers) != 2 {
		t.Errorf("Prometheus has mcpmux_upstream_up = %v, want a and b at 1", servers)
	}
}

// startPrometheus runs Prometheus on a free loopback port with a temporary
// configuration that scrapes target (host:port) every second, and returns
// its base URL once it is ready. It is stopped at cleanup.
func startPrometheus(t *testing.T, ctx context.Context, bin, target string) string {
	t.Helper()
	dir := t.TempDir()
	conf := filepath.Join(dir, "prometheus.yml")
	yml := fmt.Sprintf("global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\nscrape_configs:\n  - job_name: mcpmux\n    static_configs:\n      - targets: [%q]\n", target)
	if err := os.WriteFile(conf, []byte(yml), 0o644); err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	out := &testutil.SyncBuffer{}
	cmd := exec.Command(bin, "--config.file="+conf, "--storage.tsdb.path="+filepath.Join(dir, "data"),
		"--web.listen-address="+addr, "--log.level=warn")
	cmd.Stdout, cmd.Stderr = out, out
	cmd.WaitDelay = 5 * time.Second
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting prometheus: %v", err)
	}
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }()
	t.Cleanup(func() {
		_ = cmd.Process.Signal(os.Interrupt)
		select {
		case <-exited:
		case <-time.After(10 * time.Second):
			_ = cmd.Process.Kill()
			<-exited
		}
		if t.Failed() {
			t.Logf("prometheus output:\n%s", out.String())
		}
	})
	base := "http://" + addr
	testutil.WaitFor(t, "prometheus to be ready", func() bool {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, base+"/-/ready", nil)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	})
	return base
}

// promSample is one sample of an instant query's vector.
type promSample struct {
	Metric map[string]string
	Value  string
}

// promQuery runs an instant query through Prometheus' HTTP API.
func promQuery(t *testing.T, ctx context.Context, base, query string) []promSample {
	t.Helper()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, base+"/api/v1/query?query="+url.QueryEscape(query), nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("querying prometheus: %v", err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	var r struct {
		Status string
		Data   struct {
			Result []struct {
				Metric map[string]string
				Value  [2]any
			}
		}
	}
	if err := json.Unmarshal(body, &r); err != nil || r.Status != "success" {
		t.Fatalf("prometheus query %q = %s (%v)", query, body, err)
	}
	var out []promSample
	for _, s := range r.Data.Result {
		v, _ := s.Value[1].(string)
		out = append(out, promSample{Metric: s.Metric, Value: v})
	}
	return out
}
