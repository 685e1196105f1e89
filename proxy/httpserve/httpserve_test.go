package httpserve_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/mcpmux/mcpmux/internal/testutil"
	"github.com/mcpmux/mcpmux/proxy"
	"github.com/mcpmux/mcpmux/proxy/httpserve"
)

const token = "s3cret-token-of-the-test"

const initialize = `{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"t","version":"1"}}}`

// serve runs an HTTP front with opts on 127.0.0.1 until the test ends,
// and returns its base URL and its log.
func serve(t *testing.T, opts httpserve.Options) (string, *testutil.SyncBuffer) {
	t.Helper()
	return serveProxy(t, proxy.New(proxy.Options{}), opts)
}

// serveProxy is serve in front of srv.
func serveProxy(t *testing.T, srv *proxy.Server, opts httpserve.Options) (string, *testutil.SyncBuffer) {
	t.Helper()
	testutil.CheckNoGoroutineLeak(t)
	return startServe(t, srv, opts)
}

// startServe is serveProxy without the leak check, for a test that runs
// several servers and checks once.
func startServe(t *testing.T, srv *proxy.Server, opts httpserve.Options) (string, *testutil.SyncBuffer) {
	t.Helper()
	log := &testutil.SyncBuffer{}
	opts.Logger = slog.New(slog.NewTextHandler(log, &slog.HandlerOptions{Level: slog.LevelDebug}))
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- httpserve.New(srv, opts).Serve(ctx, ln) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Serve = %v", err)
		}
		http.DefaultClient.CloseIdleConnections()
	})
	return "http://" + ln.Addr().String(), log
}

// post sends body to url with headers and returns the status, the
// session id and the body.
func post(t *testing.T, url, body string, headers map[string]string) (int, string, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json, text/event-stream")
	for k, v := range headers {
		if k == "Host" {
			req.Host = v
			continue
		}
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header.Get("Mcp-Session-Id"), string(b)
}

func TestAuthAndOrigin(t *testing.T) {
	base, log := serve(t, httpserve.Options{Token: token})
	url := base + "/mcp"
	host := strings.TrimPrefix(base, "http://")
	tests := []struct {
		name    string
		headers map[string]string
		want    int
	}{
		{"no token", nil, http.StatusUnauthorized},
		{"wrong token", map[string]string{"Authorization": "Bearer not-" + token}, http.StatusUnauthorized},
		{"token without the scheme", map[string]string{"Authorization": token}, http.StatusUnauthorized},
		{"right token", map[string]string{"Authorization": "Bearer " + token}, http.StatusOK},
		{"right token, own origin", map[string]string{"Authorization": "Bearer " + token, "Origin": base}, http.StatusOK},
		{"right token, loopback origin", map[string]string{"Authorization": "Bearer " + token, "Origin": "http://localhost:3000"}, http.StatusOK},
		{"foreign origin", map[string]string{"Authorization": "Bearer " + token, "Origin": "http://evil.example.com"}, http.StatusForbidden},
		{"null origin", map[string]string{"Authorization": "Bearer " + token, "Origin": "null"}, http.StatusForbidden},
		{"rebound host", map[string]string{"Authorization": "Bearer " + token, "Host": "evil.example.com"}, http.StatusForbidden},
		{"rebound host and origin", map[string]string{"Host": "evil.example.com:" + host[strings.LastIndex(host, ":")+1:], "Origin": "http://evil.example.com"}, http.StatusForbidden},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, session, body := post(t, url, initialize, tt.headers)
			if code != tt.want {
				t.Fatalf("POST /mcp = %d %q, want %d", code, body, tt.want)
			}
			if code == http.StatusOK && session == "" {
				t.Errorf("initialize answered without Mcp-Session-Id")
			}
		})
	}
	resp, err := http.Get(base + "/sse")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("GET /sse without a token = %d, want 401", resp.StatusCode)
	}
	// A probe carries no token: it gets the status, and nothing else.
	for path, want := range map[string]string{"/healthz": "ok\n", "/readyz": "ready\n"} {
		resp, err := http.Get(base + path)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK || string(b) != want {
			t.Errorf("GET %s without a token = %d %q, want 200 %q", path, resp.StatusCode, b, want)
		}
	}
	if strings.Contains(log.String(), token) {
		t.Errorf("the token is in the log:\n%s", log.String())
	}
}

// fakeAddr is a listener that says it is bound to a public address,
// while it listens on loopback: the test sends nothing anywhere else.
type fakeAddr struct{ net.Listener }

func (fakeAddr) Addr() net.Addr { return &net.TCPAddr{IP: net.ParseIP("192.0.2.1"), Port: 8080} }

func TestNonLoopbackNeedsToken(t *testing.T) {
	testutil.CheckNoGoroutineLeak(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	err = httpserve.New(proxy.New(proxy.Options{}), httpserve.Options{}).Serve(context.Background(), fakeAddr{ln})
	if !errors.Is(err, httpserve.ErrNeedsToken) {
		t.Fatalf("Serve on a public address without a token = %v, want ErrNeedsToken", err)
	}
	for _, tt := range []struct {
		addr string
		want bool
	}{{"127.0.0.1:8080", true}, {"localhost:0", true}, {"[::1]:80", true}, {":8080", false}, {"0.0.0.0:8080", false}, {"192.0.2.1:80", false}} {
		if got := httpserve.IsLoopback(tt.addr); got != tt.want {
			t.Errorf("IsLoopback(%q) = %v, want %v", tt.addr, got, tt.want)
		}
	}
}

func TestSessionLifecycle(t *testing.T) {
	base, _ := serve(t, httpserve.Options{})
	url := base + "/mcp"
	code, session, body := post(t, url, initialize, nil)
	if code != http.StatusOK || session == "" {
		t.Fatalf("initialize = %d %q (session %q)", code, body, session)
	}
	if !strings.Contains(body, `"serverInfo"`) || !strings.Contains(body, "data: ") {
		t.Errorf("initialize answered %q, want the result as an event", body)
	}
	sid := map[string]string{"Mcp-Session-Id": session}
	if code, _, body := post(t, url, `{"jsonrpc":"2.0","method":"notifications/initialized"}`, sid); code != http.StatusAccepted {
		t.Errorf("notifications/initialized = %d %q, want 202", code, body)
	}
	// Ids above 2^53 come back as written.
	if code, _, body := post(t, url, `{"jsonrpc":"2.0","id":9007199254740993,"method":"ping"}`, sid); code != http.StatusOK || !strings.Contains(body, `"id":9007199254740993`) {
		t.Errorf("ping = %d %q, want id 9007199254740993", code, body)
	}
	if code, _, _ := post(t, url, `{"jsonrpc":"2.0","id":2,"method":"ping"}`, map[string]string{"Mcp-Session-Id": "nope"}); code != http.StatusNotFound {
		t.Errorf("a request of an unknown session = %d, want 404", code)
	}
	if code, _, _ := post(t, url, `not json`, sid); code != http.StatusBadRequest {
		t.Errorf("a body that is not JSON = %d, want 400", code)
	}
	req, _ := http.NewRequest(http.MethodDelete, url, nil)
	req.Header.Set("Mcp-Session-Id", session)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("DELETE = %d, want 200", resp.StatusCode)
	}
	if code, _, _ := post(t, url, `{"jsonrpc":"2.0","id":3,"method":"ping"}`, sid); code != http.StatusNotFound {
		t.Errorf("a request after DELETE = %d, want 404", code)
	}
}

func TestStatelessOneShot(t *testing.T) {
	base, _ := serve(t, httpserve.Options{})
	req, _ := http.NewRequest(http.MethodPost, base+"/mcp", strings.NewReader(`{"jsonrpc":"2.0","id":"x","method":"tools/list"}`))
	req.Header.Set("Accept", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "application/json" || !strings.Contains(string(b), `"tools":[]`) {
		t.Errorf("tools/list without a session = %d %s %q, want a JSON result", resp.StatusCode, resp.Header.Get("Content-Type"), b)
	}
	if resp.Header.Get("Mcp-Session-Id") != "" {
		t.Errorf("a one-shot request got a session")
	}
	hz, err := http.Get(base + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	defer hz.Body.Close()
	b, _ = io.ReadAll(hz.Body)
	if hz.StatusCode != http.StatusOK || !strings.Contains(string(b), `"ready":0`) {
		t.Errorf("/healthz = %d %q", hz.StatusCode, b)
	}
}

// TestIdleSessionEnds: a client that leaves without DELETE, and never
// opened a stream, loses its session after Options.SessionIdle.
func TestIdleSessionEnds(t *testing.T) {
	base, _ := serve(t, httpserve.Options{SessionIdle: time.Millisecond})
	if code, session, body := post(t, base+"/mcp", initialize, nil); code != http.StatusOK || session == "" {
		t.Fatalf("initialize = %d %q", code, body)
	}
	deadline := time.Now().Add(30 * time.Second) // a hang guard: the state is waited for
	for {
		resp, err := http.Get(base + "/healthz")
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if strings.Contains(string(b), `"sessions":0`) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("the idle session is still open: /healthz = %s", b)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
