package e2e

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mcpmux/mcpmux/internal/jsonrpc"
	"github.com/mcpmux/mcpmux/internal/testutil"
)

// TestHTTPFloodSpares: over HTTP, one session floods a tool that never
// answers, past its bound; another session's calls are answered all the
// while; one session more than maxSessions is refused.
func TestHTTPFloodSpares(t *testing.T) {
	ctx := testContext(t, testTimeout)
	data, _ := json.Marshal(map[string]any{
		"maxInFlight": 64, "maxInFlightTotal": 96, "maxSessions": 3,
		"mcpServers": map[string]any{
			"slow":  testutil.TestServer(t, "-name", "slow"),
			"other": testutil.TestServer(t, "-name", "other"),
		},
	})
	cfg := filepath.Join(t.TempDir(), "config.json")
	if err := os.WriteFile(cfg, data, 0o644); err != nil {
		t.Fatal(err)
	}
	m := startMcpmuxHTTP(t, ctx, cfg, nil)
	quiet := newHTTPSession(t, ctx, m.base)
	// The first list waits for both catalogues: the calls that follow name
	// tools the catalogue knows, and count against their upstream's share.
	if got := quiet.call(`{"jsonrpc":"2.0","id":"l","method":"tools/list"}`); !strings.Contains(got, `"slow__hang"`) || !strings.Contains(got, `"other__echo"`) {
		t.Fatalf("tools/list = %.300s", got)
	}
	flood := openSSESession(t, ctx, m.base)
	// Two sessions: each may have 96/2 = 48 in flight, 36 on one upstream.
	const calls, admitted = 200, 36
	for i := range calls {
		flood.post(fmt.Sprintf(`{"jsonrpc":"2.0","id":%d,"method":"tools/call","params":{"name":"slow__hang","arguments":{}}}`, i))
	}
	for busy := 0; busy < calls-admitted; {
		msg := flood.next()
		if msg.Error == nil || msg.Error.Code != jsonrpc.CodeBusy {
			t.Fatalf("flooding session got %+v, want only refusals", msg)
		}
		busy++
	}
	for i := range 20 {
		got := quiet.call(fmt.Sprintf(`{"jsonrpc":"2.0","id":%d,"method":"tools/call","params":{"name":"other__echo","arguments":{"message":"quiet %d"}}}`, i, i))
		if !strings.Contains(got, fmt.Sprintf(`"quiet %d"`, i)) {
			t.Fatalf("quiet session's call %d during the flood = %s", i, got)
		}
	}
	got := quiet.call(`{"jsonrpc":"2.0","id":"h","method":"tools/call","params":{"name":"slow__hang","arguments":{}}}`, "h-timeout")
	if strings.Contains(got, "too many") {
		t.Errorf("the quiet session's call to the flooded upstream was refused: %s", got)
	}
	newHTTPSession(t, ctx, m.base) // the third
	code, body := postMCP(t, ctx, m.base, "", initializeLine)
	if code != http.StatusServiceUnavailable || !strings.Contains(body, "maxSessions") {
		t.Errorf("a fourth session = %d %s, want 503 naming maxSessions", code, body)
	}
}

const initializeLine = `{"jsonrpc":"2.0","id":"init","method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"flood","version":"1"}}}`

// postMCP posts one message to /mcp in session id ("" for none) and
// returns the status and body; the client takes a JSON body.
func postMCP(tb testing.TB, ctx context.Context, base, id, body string) (int, string) {
	code, _, b := postMCPSession(tb, ctx, base, id, body)
	return code, b
}

func postMCPSession(tb testing.TB, ctx context.Context, base, id, body string) (int, string, string) {
	tb.Helper()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, base+"/mcp", strings.NewReader(body))
	if err != nil {
		tb.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	if id != "" {
		req.Header.Set("Mcp-Session-Id", id)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		tb.Fatalf("POST /mcp: %v", err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header.Get("Mcp-Session-Id"), string(b)
}

// httpSession is a streamable HTTP session whose client takes JSON bodies.
type httpSession struct {
	tb       testing.TB
	ctx      context.Context
	base, id string
}

func newHTTPSession(tb testing.TB, ctx context.Context, base string) *httpSession {
	tb.Helper()
	code, id, body := postMCPSession(tb, ctx, base, "", initializeLine)
	if code != http.StatusOK || id == "" {
		tb.Fatalf("initialize = %d %s", code, body)
	}
	s := &httpSession{tb: tb, ctx: ctx, base: base, id: id}
	postMCP(tb, ctx, base, id, `{"jsonrpc":"2.0","method":"notifications/initialized"}`)
	return s
}

// call posts a request and returns its response; with a timeout
// argument, a request still unanswered after 200ms is cancelled and
// reported as that string.
func (s *httpSession) call(body string, timeout ...string) string {
	s.tb.Helper()
	if len(timeout) == 0 {
		_, got := postMCP(s.tb, s.ctx, s.base, s.id, body)
		return got
	}
	ctx, cancel := context.WithTimeout(s.ctx, 200*time.Millisecond)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, s.base+"/mcp", strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	req.Header.Set("Mcp-Session-Id", s.id)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return timeout[0]
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}

// sseSession is an HTTP+SSE session: requests are posted to its
// endpoint, answers come on its stream.
type sseSession struct {
	tb       testing.TB
	ctx      context.Context
	endpoint string
	events   chan string
}

func openSSESession(tb testing.TB, ctx context.Context, base string) *sseSession {
	tb.Helper()
	ctx, cancel := context.WithCancel(ctx)
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, base+"/sse", nil)
	req.Header.Set("Accept", "text/event-stream")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		cancel()
		tb.Fatalf("GET /sse: %v", err)
	}
	s := &sseSession{tb: tb, ctx: ctx, events: make(chan string, 1024)}
	done := make(chan struct{})
	tb.Cleanup(func() { cancel(); resp.Body.Close(); <-done })
	endpoint := make(chan string, 1)
	go func() {
		defer close(done)
		defer close(s.events)
		sc := bufio.NewScanner(resp.Body)
		sc.Buffer(nil, 1<<20)
		event := ""
		for sc.Scan() {
			line := sc.Text()
			switch {
			case strings.HasPrefix(line, "event: "):
				event = strings.TrimPrefix(line, "event: ")
			case strings.HasPrefix(line, "data: ") && event == "endpoint":
				endpoint <- strings.TrimPrefix(line, "data: ")
				event = ""
			case strings.HasPrefix(line, "data: "):
				select {
				case s.events <- strings.TrimPrefix(line, "data: "):
				case <-ctx.Done():
					return
				}
			}
		}
	}()
	select {
	case ep := <-endpoint:
		s.endpoint = base + ep
	case <-ctx.Done():
		tb.Fatal("no endpoint event on /sse")
	}
	s.post(initializeLine)
	if msg := s.next(); msg.Error != nil {
		tb.Fatalf("initialize over SSE: %+v", msg.Error)
	}
	s.post(`{"jsonrpc":"2.0","method":"notifications/initialized"}`)
	return s
}

// post posts one message to the session's endpoint.
func (s *sseSession) post(body string) {
	s.tb.Helper()
	req, _ := http.NewRequestWithContext(s.ctx, http.MethodPost, s.endpoint, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		s.tb.Fatalf("POST %s: %v", s.endpoint, err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusAccepted {
		s.tb.Fatalf("POST %s = %d", s.endpoint, resp.StatusCode)
	}
}

// sseMessage is one response on the stream.
type sseMessage struct {
	ID     json.RawMessage
	Result json.RawMessage
	Error  *jsonrpc.Error
}

// next returns the next response on the stream.
func (s *sseSession) next() sseMessage {
	s.tb.Helper()
	for {
		select {
		case data, ok := <-s.events:
			if !ok {
				s.tb.Fatal("the SSE stream ended")
			}
			var m sseMessage
			if err := json.Unmarshal([]byte(data), &m); err != nil {
				s.tb.Fatalf("event %q: %v", data, err)
			}
			if m.ID != nil {
				return m
			}
		case <-s.ctx.Done():
			s.tb.Fatal("no response on the SSE stream")
		}
	}
}

// BenchmarkHTTPFlood measures a quiet HTTP session's calls (another
// upstream's echo, one at a time) alone, and while another session floods
// a tool that never answers, far past its bound, from 4 connections
// ($MCPMUX_BENCH_FLOOD_CONNS). Each
// iteration takes both turns; it reports the medians (quiet-us,
// flooded-us) and their ratio (flooded/quiet), and how many requests the
// flood sent per second (flood-req/s). The mcpmux binary is built with
// -race unless MCPMUX_BENCH_NORACE=1. Run it with -benchtime=5x or so.
func BenchmarkHTTPFlood(b *testing.B) {
	ctx := testContext(b, benchTimeout)
	cfg := writeConfig(b, map[string]any{
		"slow":  testutil.TestServer(b, "-name", "slow"),
		"other": testutil.TestServer(b, "-name", "other"),
	})
	m := startMcpmuxHTTP(b, ctx, cfg, []string{"MCPMUX_LOG_LEVEL=info"})
	quiet := newHTTPSession(b, ctx, m.base)
	flood := openSSESession(b, ctx, m.base)
	go func() {
		for range flood.events { // the refusals, read as a client would
		}
	}()
	echo := `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"other__echo","arguments":{"message":"quiet"}}}`
	calls := func(n int) []time.Duration {
		out := make([]time.Duration, n)
		for i := range out {
			start := time.Now()
			if got := quiet.call(echo); !strings.Contains(got, `"quiet"`) {
				b.Fatalf("quiet call = %s", got)
			}
			out[i] = time.Since(start)
		}
		return out
	}
	calls(20) // warm
	var alone, flooded []time.Duration
	var sent int64
	var flooding time.Duration
	for b.Loop() {
		alone = append(alone, calls(50)...)
		start := time.Now()
		stop := floodSSE(ctx, flood.endpoint, floodConns)
		flooded = append(flooded, calls(50)...)
		sent += stop()
		flooding += time.Since(start)
	}
	q, f := medianMs(alone)*1000, medianMs(flooded)*1000
	b.ReportMetric(q, "quiet-us")
	b.ReportMetric(f, "flooded-us")
	b.ReportMetric(f/q, "flooded/quiet")
	b.ReportMetric(float64(sent)/flooding.Seconds(), "flood-req/s")
}

// floodSSE posts calls to slow__hang to an HTTP+SSE session's endpoint
// from n connections, each at most 100,000 times, until the function it
// returns is called; that returns how many were posted.
func floodSSE(ctx context.Context, endpoint string, n int) (stop func() int64) {
	ctx, cancel := context.WithCancel(ctx)
	var sent atomic.Int64
	var wg sync.WaitGroup
	for range n {
		wg.Go(func() {
			for range 100_000 {
				id := sent.Add(1)
				body := fmt.Sprintf(`{"jsonrpc":"2.0","id":"f%d","method":"tools/call","params":{"name":"slow__hang","arguments":{}}}`, id)
				req, _ := http.NewRequestWithContext(ctx, http.MethodPost, endpoint, strings.NewReader(body))
				req.Header.Set("Content-Type", "application/json")
				resp, err := http.DefaultClient.Do(req)
				if err != nil {
					return // stopped
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
			}
		})
	}
	return func() int64 {
		cancel()
		wg.Wait()
		return sent.Load()
	}
}

// floodConns is how many connections BenchmarkHTTPFlood floods from:
// $MCPMUX_BENCH_FLOOD_CONNS, default 4.
var floodConns = func() int {
	if n, err := strconv.Atoi(os.Getenv("MCPMUX_BENCH_FLOOD_CONNS")); err == nil && n > 0 {
		return n
	}
	return 4
}()
