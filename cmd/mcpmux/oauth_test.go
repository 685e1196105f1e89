package main

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/mark3labs/mcp-go/client"
	"github.com/mark3labs/mcp-go/client/transport"
	"github.com/mark3labs/mcp-go/mcp"

	"github.com/mcpmux/mcpmux/internal/httpserver"
	"github.com/mcpmux/mcpmux/internal/testutil"
	"github.com/mcpmux/mcpmux/upstream/oauth"
	"github.com/mcpmux/mcpmux/upstream/oauth/oauthtest"
)

// protectedUpstream is a remote MCP server behind an OAuth authorization
// server: its /mcp wants a token.
func protectedUpstream(t *testing.T) *oauthtest.Server {
	t.Helper()
	mcpURL, _ := httpserver.Start(t, httpserver.Streamable, httpserver.Options{Name: "remote"})
	target, _ := url.Parse(mcpURL)
	rp := &httputil.ReverseProxy{
		Rewrite: func(r *httputil.ProxyRequest) {
			r.SetURL(target)
			r.Out.URL.Path = target.Path
			r.Out.Header.Del("Authorization")
		},
		FlushInterval: -1,
		Transport:     &http.Transport{},
	}
	t.Cleanup(rp.Transport.(*http.Transport).CloseIdleConnections)
	return oauthtest.New(t, rp)
}

// oauthEnv gives the test a token store of its own, with no keychain.
func oauthEnv(t *testing.T) string {
	dir := t.TempDir()
	t.Setenv(oauthDirEnv, dir)
	t.Setenv("MCPMUX_OAUTH_KEYCHAIN", "off")
	t.Setenv(oauth.KeyEnv, "")
	return dir
}

// A serve started before the login lists what it can and never waits for
// a person; `mcpmux login` in another process logs in; the running serve
// picks the token up, connects and sends list_changed. No token reaches a
// log line or any file in the clear.
func TestServePicksUpLogin(t *testing.T) {
	testutil.CheckLeaks(t)
	store := oauthEnv(t)
	defer func(d time.Duration) { oauth.WatchEvery = d }(oauth.WatchEvery)
	oauth.WatchEvery = 20 * time.Millisecond
	as := protectedUpstream(t)
	cfg := writeConfig(t, map[string]any{"remote": map[string]any{"url": as.URL() + "/mcp"}})
	t.Setenv(oauth.BrowserEnv, "true") // serve's own login page goes nowhere
	s := serveInProcess(t, "--config", cfg, "--no-registry")
	if got := s.tools(); slices.Contains(got, "remote__whoami") {
		t.Fatalf("tools before login = %v", got)
	}
	testutil.WaitFor(t, "needs login in the log", func() bool { return strings.Contains(s.stderr.String(), "mcpmux login remote") })

	out, errOut := loginNoBrowser(t, cfg, "remote")
	s.waitNote("notifications/tools/list_changed", hangGuard)
	s.waitTools("remote__whoami")
	if got := s.call(hangGuard, "remote__whoami", nil); got != "remote" {
		t.Errorf("whoami = %q", got)
	}
	for _, b := range []string{s.stderr.String(), out, errOut} {
		if strings.Contains(b, "access-token-") || strings.Contains(b, "refresh-token-") {
			t.Errorf("a token in the output:\n%s", b)
		}
	}
	var found []string
	_ = filepath.Walk(store, func(p string, fi os.FileInfo, err error) error {
		if err == nil && !fi.IsDir() {
			if data, _ := os.ReadFile(p); strings.Contains(string(data), "-token-") {
				found = append(found, p)
			}
		}
		return nil
	})
	if len(found) > 0 {
		t.Errorf("tokens in the clear in %v", found)
	}
	st, _, err := runLine(t, "status", "--config", cfg, "--data-dir", t.TempDir())
	if err != nil || !strings.Contains(st, "logged in") || !strings.Contains(st, "refresh token held") {
		t.Errorf("status = %v\n%s", err, st)
	}
	if strings.Contains(st, "-token-") {
		t.Errorf("a token in status:\n%s", st)
	}
	out, _, err = runLine(t, "logout", "--config", cfg, "remote")
	if err != nil || !strings.Contains(out, "revoked") {
		t.Errorf("mcpmux logout = %v, %s", err, out)
	}
	// The catalogue stays listed; a call says what to run.
	resp := s.send(hangGuard, "tools/call", map[string]any{"name": "remote__whoami", "arguments": map[string]any{}})
	if resp.Error == nil || !strings.Contains(resp.Error.Message, "mcpmux login remote") {
		t.Errorf("call after logout = %+v, want an error naming mcpmux login remote", resp)
	}
	if got := s.tools(); !slices.Contains(got, "remote__whoami") {
		t.Errorf("tools after logout = %v, want the catalogue still listed", got)
	}
}

// loginNoBrowser runs `mcpmux login --no-browser server` as a person on
// another machine would: they open the printed URL, log in, and paste the
// address their browser is sent back to.
func loginNoBrowser(t *testing.T, cfg, server string) (stdout, stderr string) {
	t.Helper()
	var out, errOut testutil.SyncBuffer
	pr, pw := io.Pipe()
	defer pw.Close()
	done := make(chan error, 1)
	go func() {
		done <- run(context.Background(), []string{"login", "--no-browser", "--config", cfg, server}, pr, &out, &errOut)
	}()
	var authURL string
	testutil.WaitFor(t, "the login URL on stderr", func() bool {
		for _, line := range strings.Split(errOut.String(), "\n") {
			if strings.Contains(line, "/authorize?") {
				authURL = strings.TrimSpace(line)
			}
		}
		return authURL != ""
	})
	cl := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := cl.Get(authURL)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	cl.CloseIdleConnections()
	if _, err := io.WriteString(pw, resp.Header.Get("Location")+"\n"); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil || !strings.Contains(out.String(), "logged in to "+server) {
		t.Fatalf("mcpmux login = %v\nstdout %s\nstderr %s", err, out.String(), errOut.String())
	}
	return out.String(), errOut.String()
}

// serveWithCaps is serveInProcess with a client that declares caps.
func serveWithCaps(tb testing.TB, caps mcp.ClientCapabilities, args ...string) *serving {
	tb.Helper()
	clientIn, muxOut := io.Pipe()
	muxIn, clientOut := io.Pipe()
	s := &serving{stderr: new(testutil.SyncBuffer)}
	done := make(chan error, 1)
	go func() {
		done <- run(context.Background(), append([]string{"serve", "--log-level", "debug"}, args...), muxIn, muxOut, s.stderr)
		muxOut.Close()
		muxIn.Close()
	}()
	m := &muxClient{tb: tb, raw: transport.NewIO(clientIn, clientOut, nil), notes: make(chan string, 100)}
	m.c = client.NewClient(m.raw)
	m.c.OnNotification(func(n mcp.JSONRPCNotification) {
		select {
		case m.notes <- n.Method:
		default:
		}
	})
	s.stop = func() {
		_ = m.c.Close()
		select {
		case err := <-done:
			if err != nil {
				tb.Errorf("mcpmux serve = %v\n%s", err, s.stderr)
			}
		case <-time.After(hangGuard):
			tb.Fatalf("mcpmux serve did not stop\n%s", s.stderr)
		}
	}
	tb.Cleanup(s.stop)
	if err := m.c.Start(context.Background()); err != nil {
		tb.Fatal(err)
	}
	req := mcp.InitializeRequest{}
	req.Params.ProtocolVersion = "2025-11-25"
	req.Params.ClientInfo = mcp.Implementation{Name: "cmd-test", Version: "1"}
	req.Params.Capabilities = caps
	ctx, cancel := context.WithTimeout(context.Background(), hangGuard)
	defer cancel()
	if _, err := m.c.Initialize(ctx, req); err != nil {
		tb.Fatalf("initializing client: %v", err)
	}
	s.muxClient = m
	return s
}

// Under a host that declared URL elicitation, a call to an upstream that
// needs a login gets -32042 with the URL of the login serve runs itself
// (its cached catalogue still listed); opening it logs in, and the next
// call goes through, with no restart.
func TestServeURLElicitation(t *testing.T) {
	testutil.CheckLeaks(t)
	oauthEnv(t)
	defer func(d time.Duration) { oauth.WatchEvery = d }(oauth.WatchEvery)
	oauth.WatchEvery = 20 * time.Millisecond
	as := protectedUpstream(t)
	cfg := writeConfig(t, map[string]any{"remote": map[string]any{"url": as.URL() + "/mcp"}})
	t.Setenv(oauth.BrowserEnv, "true") // the page serve opens goes nowhere: the host opens it
	data := t.TempDir()
	loginNoBrowser(t, cfg, "remote")
	first := serveInProcess(t, "--config", cfg, "--data-dir", data)
	first.waitTools("remote__whoami")
	first.stop()
	if _, _, err := runLine(t, "logout", "--config", cfg, "remote"); err != nil {
		t.Fatal(err)
	}

	s := serveWithCaps(t, mcp.ClientCapabilities{Elicitation: &mcp.ElicitationCapability{URL: &struct{}{}}}, "--config", cfg, "--data-dir", data)
	if got := s.tools(); !slices.Contains(got, "remote__whoami") {
		t.Fatalf("tools = %v, want the cached catalogue", got)
	}
	var loginURL string
	testutil.WaitFor(t, "a -32042 with the login's URL", func() bool {
		resp := s.send(hangGuard, "tools/call", map[string]any{"name": "remote__whoami", "arguments": map[string]any{}})
		if resp.Error == nil || resp.Error.Code != -32042 {
			return false
		}
		var d struct {
			Elicitations []struct{ Mode, URL string }
		}
		raw, _ := json.Marshal(resp.Error.Data)
		if json.Unmarshal(raw, &d) != nil || len(d.Elicitations) != 1 || d.Elicitations[0].Mode != "url" {
			t.Fatalf("-32042 data = %s", raw)
		}
		loginURL = d.Elicitations[0].URL
		return true
	})
	if !strings.Contains(loginURL, as.URL()+"/authorize?") {
		t.Fatalf("elicitation URL = %q", loginURL)
	}
	// The person opens it; the server sends the browser to serve's callback.
	cl := &http.Client{}
	resp, err := cl.Get(loginURL)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	cl.CloseIdleConnections()
	testutil.WaitFor(t, "the call to go through", func() bool {
		resp := s.send(hangGuard, "tools/call", map[string]any{"name": "remote__whoami", "arguments": map[string]any{}})
		return resp.Error == nil
	})
}
