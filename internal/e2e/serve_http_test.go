package e2e

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/mcpmux/mcpmux/internal/testutil"
)

// httpMcpmux is mcpmux serve --http running as a subprocess.
type httpMcpmux struct {
	cmd    *exec.Cmd
	stderr *testutil.SyncBuffer
	base   string // http://127.0.0.1:PORT
	exited chan struct{}
}

var servingURL = regexp.MustCompile(`mcpmux serving over HTTP url=http://(127\.0\.0\.1:\d+)/mcp`)

// startMcpmuxHTTP runs mcpmux serve --http 127.0.0.1:0 with the
// configuration at cfgPath and the extra arguments, waits for its log
// line with the URL, and stops it with SIGTERM at cleanup.
func startMcpmuxHTTP(tb testing.TB, ctx context.Context, cfgPath string, env []string, args ...string) *httpMcpmux {
	tb.Helper()
	m := &httpMcpmux{stderr: &testutil.SyncBuffer{}, exited: make(chan struct{})}
	m.cmd = exec.Command(mcpmuxBin(tb), append([]string{"serve", "--http", "127.0.0.1:0", "--config", cfgPath, "--data-dir", tb.TempDir()}, args...)...)
	m.cmd.Env = append(append(os.Environ(), "MCPMUX_LOG_LEVEL=debug", "GORACE=atexit_sleep_ms=0"), env...)
	m.cmd.Stderr = m.stderr
	m.cmd.WaitDelay = time.Second
	if err := m.cmd.Start(); err != nil {
		tb.Fatalf("starting mcpmux: %v", err)
	}
	procs := trackDescendants(m.cmd.Process.Pid, m.exited)
	go func() { _ = m.cmd.Wait(); close(m.exited) }()
	tb.Cleanup(func() {
		_ = m.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-m.exited:
		case <-time.After(15 * time.Second):
			tb.Errorf("mcpmux did not exit within 15s of SIGTERM; killing it")
			_ = m.cmd.Process.Kill()
			<-m.exited
		}
		if left := procs.killSurvivors(2 * time.Second); left != "" {
			tb.Errorf("processes outlived mcpmux:\n%s", left)
		}
		if tb.Failed() {
			tb.Logf("mcpmux stderr:\n%s", m.stderr.String())
		}
	})
	for {
		if sm := servingURL.FindStringSubmatch(m.stderr.String()); sm != nil {
			m.base = "http://" + sm[1]
			return m
		}
		select {
		case <-m.exited:
			tb.Fatalf("mcpmux exited before it listened:\n%s", m.stderr.String())
		case <-ctx.Done():
			tb.Fatalf("mcpmux did not log its URL:\n%s", m.stderr.String())
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// twoSessions is what testdata/twosessions.cjs reports.
type twoSessions struct {
	Samples   []string `json:"samples"`
	Runs      []tsRun  `json:"runs"`
	Cancelled tsRun    `json:"cancelled"`
	Kept      tsRun    `json:"kept"`
	After     string   `json:"after"`
	A, B      tsSeen
}

type tsRun struct {
	OK    bool   `json:"ok"`
	Text  string `json:"text"`
	Error string `json:"error"`
}

type tsSeen struct {
	Sampling []string `json:"sampling"`
	Progress []struct {
		Label    string    `json:"label"`
		Progress []float64 `json:"progress"`
	} `json:"progress"`
}

// TestTwoSessionsOverHTTPNeverCross runs two sessions of the official
// TypeScript client at once against mcpmux serve --http, over streamable
// HTTP and over HTTP+SSE, with server-everything as the upstream over
// stdio and over streamable HTTP: each session's sampling requests reach
// it alone and its answers go back to its own calls (over stdio, whose
// wire does not tie a request to a call, the calls are staggered so
// that their order tells); progress with the
// same tokens in both sessions reaches each its own; a call one session
// cancels leaves the other's alone.
func TestTwoSessionsOverHTTPNeverCross(t *testing.T) {
	testutil.CheckNoChildren(t)
	modules := testutil.NPMModules(t, testutil.SDKPkg, testutil.SDKVersion)
	node, err := exec.LookPath("node")
	if err != nil {
		t.Skip("node is not on PATH")
	}
	script, err := filepath.Abs("testdata/twosessions.cjs")
	if err != nil {
		t.Fatal(err)
	}
	upstreams := map[string]func(t *testing.T, ctx context.Context) string{
		"stdio": func(t *testing.T, ctx context.Context) string {
			return writeConfig(t, map[string]any{"everything": everything(t)})
		},
		"streamableHttp": func(t *testing.T, ctx context.Context) string {
			return remoteConfig(t, remoteModes[0], startEverythingRemote(t, ctx, remoteModes[0]), nil)
		},
	}
	for _, up := range []string{"stdio", "streamableHttp"} {
		for _, kind := range []string{"streamable", "sse"} {
			t.Run(up+"/"+kind, func(t *testing.T) {
				ctx := testContext(t, testTimeout)
				m := startMcpmuxHTTP(t, ctx, upstreams[up](t, ctx), nil)
				url := m.base + "/mcp"
				if kind == "sse" {
					url = m.base + "/sse"
				}
				args := []string{script, url, kind, "everything__"}
				if up == "stdio" {
					args = append(args, "staggered") // see requester in proxy
				}
				cmd := exec.CommandContext(ctx, node, args...)
				cmd.Env = append(os.Environ(), "NODE_PATH="+modules)
				stderr := &testutil.SyncBuffer{}
				cmd.Stderr = stderr
				out, err := cmd.Output()
				if err != nil {
					t.Fatalf("twosessions.cjs: %v\n%s", err, stderr.String())
				}
				var got twoSessions
				if err := json.Unmarshal(out, &got); err != nil {
					t.Fatalf("twosessions.cjs printed %q: %v", out, err)
				}
				checkTwoSessions(t, &got)
			})
		}
	}
}

func checkTwoSessions(t *testing.T, got *twoSessions) {
	t.Helper()
	for i, asker := range []string{"A", "B", "A", "B"} {
		if s := got.Samples[i]; !strings.Contains(s, "answer of "+asker) {
			t.Errorf("sampling call %d of %s got %q, want the answer of %s", i, asker, s, asker)
		}
	}
	if !strings.Contains(got.After, "answer of A") {
		t.Errorf("A's sampling after the cancellation got %q", got.After)
	}
	for name, seen := range map[string]tsSeen{"A": got.A, "B": got.B} {
		for _, text := range seen.Sampling {
			if !strings.Contains(text, "asked by "+name) {
				t.Errorf("session %s got the sampling request %q of another session", name, text)
			}
		}
		for _, p := range seen.Progress {
			if p.Label == "cancelled" {
				continue
			}
			// Both sessions' calls have the same tokens: progress of the
			// other's would repeat a step. The last step may come after
			// the response, when mcpmux no longer routes it.
			if n := len(p.Progress); n < 2 || !slices.Equal(p.Progress, []float64{1, 2, 3, 4}[:n]) {
				t.Errorf("session %s, call %q: progress %v, want 1, 2, 3, 4 (the last may be missing)", name, p.Label, p.Progress)
			}
		}
	}
	if n := len(got.A.Sampling); n != 3 {
		t.Errorf("session A got %d sampling requests, want 3", n)
	}
	if n := len(got.B.Sampling); n != 2 {
		t.Errorf("session B got %d sampling requests, want 2", n)
	}
	for i, r := range got.Runs {
		if !r.OK {
			t.Errorf("long run %d failed: %s", i, r.Error)
		}
	}
	if got.Cancelled.OK {
		t.Errorf("A's cancelled call succeeded: %q", got.Cancelled.Text)
	}
	if !got.Kept.OK {
		t.Errorf("B's call, which A's cancellation must leave alone, failed: %s", got.Kept.Error)
	}
}

// TestServeHTTPToken runs mcpmux serve --http with MCPMUX_TOKEN: requests
// without it or with another get 401, with it 200, and the token is in no
// line of mcpmux's log, at debug level, whatever the requests carried.
func TestServeHTTPToken(t *testing.T) {
	testutil.CheckNoChildren(t)
	const token = "e2e-token-never-logged-4711"
	ctx := testContext(t, testTimeout)
	m := startMcpmuxHTTP(t, ctx, writeConfig(t, map[string]any{}), []string{"MCPMUX_TOKEN=" + token})
	for _, tt := range []struct {
		auth string
		want int
	}{{"", http.StatusUnauthorized}, {"Bearer " + token + "x", http.StatusUnauthorized}, {"Bearer " + token, http.StatusOK}} {
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, m.base+"/mcp", strings.NewReader(
			`{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"t","version":"1"}}}`))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Accept", "application/json, text/event-stream")
		if tt.auth != "" {
			req.Header.Set("Authorization", tt.auth)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != tt.want {
			t.Errorf("POST /mcp with Authorization %q = %d, want %d", tt.auth, resp.StatusCode, tt.want)
		}
	}
	http.DefaultClient.CloseIdleConnections()
	if log := m.stderr.String(); strings.Contains(log, token) {
		t.Errorf("the token is in mcpmux's log:\n%s", log)
	}
}

// TestServeHTTPGracefulStop sends SIGTERM to mcpmux serve --http while a
// call runs: the call still gets its answer (within the 5s grace), and
// then mcpmux exits.
func TestServeHTTPGracefulStop(t *testing.T) {
	testutil.CheckNoChildren(t)
	ctx := testContext(t, testTimeout)
	cfg := writeConfig(t, map[string]any{"ts": map[string]any{"command": testutil.TestServerPath(t)}})
	m := startMcpmuxHTTP(t, ctx, cfg, nil)
	url := m.base + "/mcp"
	postMsg := func(session, body string) *http.Response {
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Accept", "application/json, text/event-stream")
		if session != "" {
			req.Header.Set("Mcp-Session-Id", session)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		return resp
	}
	resp := postMsg("", `{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"t","version":"1"}}}`)
	session := resp.Header.Get("Mcp-Session-Id")
	resp.Body.Close()
	postMsg(session, `{"jsonrpc":"2.0","method":"notifications/initialized"}`).Body.Close()
	list := postMsg(session, `{"jsonrpc":"2.0","id":2,"method":"tools/list"}`)
	b, _ := io.ReadAll(list.Body)
	list.Body.Close()
	if !strings.Contains(string(b), "ts__slow") {
		t.Fatalf("tools/list = %s, want ts__slow", b)
	}
	call := postMsg(session, `{"jsonrpc":"2.0","id":3,"method":"tools/call","params":{"name":"ts__slow","arguments":{"ms":1500}}}`)
	defer call.Body.Close()
	r := bufio.NewReader(call.Body)
	if _, err := r.ReadString('\n'); err != nil { // the priming event: the call is under way
		t.Fatal(err)
	}
	if err := m.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	rest, _ := io.ReadAll(r)
	if !strings.Contains(string(rest), `"id":3,"result"`) {
		t.Errorf("the call in flight at SIGTERM got %q, want its result", rest)
	}
	select {
	case <-m.exited:
	case <-ctx.Done():
		t.Fatal("mcpmux did not exit after SIGTERM")
	}
}
