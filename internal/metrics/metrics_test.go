package metrics

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/mcpmux/mcpmux/proxy"
	"github.com/mcpmux/mcpmux/proxy/httpserve"
)

type fakeSource struct{}

func (fakeSource) Upstreams() []Upstream {
	return []Upstream{{Server: "a", Up: true, Restarts: 2}, {Server: "b"}}
}
func (fakeSource) Sessions() int              { return 3 }
func (fakeSource) InFlight() int              { return 4 }
func (fakeSource) ToolCounts() map[string]int { return map[string]int{"a": 5} }

// TestToolLabelsBounded: past MaxToolsPerServer names per server, calls
// count under "_other"; every call still counts once.
func TestToolLabelsBounded(t *testing.T) {
	m := New()
	for i := range MaxToolsPerServer + 10 {
		m.Call("a", fmt.Sprintf("t%d", i), time.Millisecond, proxy.CallOK)
	}
	m.Call("a", "t0", time.Millisecond, proxy.CallError)
	m.Call("b", "t0", time.Millisecond, proxy.CallTimeout)
	if n := testutil.CollectAndCount(m.calls); n != 4*(MaxToolsPerServer+1)+4 {
		t.Errorf("%d series, want %d", n, 4*(MaxToolsPerServer+1)+4)
	}
	if got := testutil.ToFloat64(m.calls.WithLabelValues("a", otherTool, "ok")); got != 10 {
		t.Errorf("_other = %v, want 10", got)
	}
	if got := testutil.ToFloat64(m.calls.WithLabelValues("a", "t0", "error")); got != 1 {
		t.Errorf("a/t0 error = %v, want 1", got)
	}
}

// TestScrapeSeries: the scrape-time series come from the Source, and the
// whole exposition is valid (promtool's lint rules, as client_golang
// checks them).
func TestScrapeSeries(t *testing.T) {
	m := New()
	m.Observe(fakeSource{})
	want := `
# HELP mcpmux_upstream_up Whether the upstream server is ready (1) or not (0: starting, backing off, stopped, idle).
# TYPE mcpmux_upstream_up gauge
mcpmux_upstream_up{server="a"} 1
mcpmux_upstream_up{server="b"} 0
# HELP mcpmux_upstream_restarts_total Connections to the upstream server made after one was lost or an attempt failed (0 again when a reload replaces it).
# TYPE mcpmux_upstream_restarts_total counter
mcpmux_upstream_restarts_total{server="a"} 2
mcpmux_upstream_restarts_total{server="b"} 0
# HELP mcpmux_catalogue_tools Tools of the upstream server in the merged catalogue that clients see.
# TYPE mcpmux_catalogue_tools gauge
mcpmux_catalogue_tools{server="a"} 5
mcpmux_catalogue_tools{server="b"} 0
# HELP mcpmux_requests_in_flight Requests of clients waiting for their answer, in every session.
# TYPE mcpmux_requests_in_flight gauge
mcpmux_requests_in_flight 4
# HELP mcpmux_sessions Client sessions open (1 over stdio).
# TYPE mcpmux_sessions gauge
mcpmux_sessions 3
`
	if err := testutil.GatherAndCompare(m.Gatherer(), strings.NewReader(want), "mcpmux_upstream_up", "mcpmux_upstream_restarts_total",
		"mcpmux_catalogue_tools", "mcpmux_requests_in_flight", "mcpmux_sessions"); err != nil {
		t.Error(err)
	}
	problems, err := testutil.GatherAndLint(m.Gatherer(), "mcpmux_upstream_up", "mcpmux_upstream_restarts_total", "mcpmux_catalogue_tools",
		"mcpmux_requests_in_flight", "mcpmux_sessions", "mcpmux_tool_calls_total", "mcpmux_tool_call_duration_seconds")
	if err != nil || len(problems) > 0 {
		t.Errorf("lint: %v %+v", err, problems)
	}
}

// TestSideListener: /metrics and the mounted root behind the guard, the
// token when one is set, and no listener off loopback without one.
func TestSideListener(t *testing.T) {
	m := New()
	m.Observe(fakeSource{})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	root := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "status page") })
	go func() { done <- m.Serve(ctx, ln, ServeOptions{Token: "side-token", Root: root}) }()
	base := "http://" + ln.Addr().String()
	get := func(path, token, host string) (int, string) {
		req, _ := http.NewRequest(http.MethodGet, base+path, nil)
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		if host != "" {
			req.Host = host
		}
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		return res.StatusCode, string(b)
	}
	if code, body := get("/metrics", "side-token", ""); code != 200 || !strings.Contains(body, "mcpmux_sessions 3") {
		t.Errorf("/metrics = %d %.200s", code, body)
	}
	if code, body := get("/", "side-token", ""); code != 200 || body != "status page" {
		t.Errorf("/ = %d %s", code, body)
	}
	if code, _ := get("/metrics", "", ""); code != http.StatusUnauthorized {
		t.Errorf("/metrics without the token = %d, want 401", code)
	}
	if code, _ := get("/metrics", "side-token", "attacker.example"); code != http.StatusForbidden {
		t.Errorf("/metrics with Host attacker.example = %d, want 403", code)
	}
	cancel()
	if err := <-done; err != nil {
		t.Errorf("Serve = %v", err)
	}
	off, err := net.Listen("tcp", "0.0.0.0:0")
	if err != nil {
		t.Skip("cannot listen on 0.0.0.0:", err)
	}
	if err := m.Serve(context.Background(), off, ServeOptions{}); err != httpserve.ErrNeedsToken {
		t.Errorf("Serve off loopback without a token = %v, want ErrNeedsToken", err)
	}
}
