package httpserve_test

import (
	"bufio"
	"context"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/mcpmux/mcpmux/internal/sessiontoken"
	"github.com/mcpmux/mcpmux/internal/testutil"
	"github.com/mcpmux/mcpmux/proxy"
	"github.com/mcpmux/mcpmux/proxy/httpserve"
)

const (
	sessionKey  = "dGhlLXNlc3Npb24ta2V5LW9mLXRoZS1wb3J0YWJsZS10ZXN0"
	anotherKey  = "YW5vdGhlci1zZXNzaW9uLWtleS1vZi10aGUtcG9ydGFibGUtdGVzdA"
	initialized = `{"jsonrpc":"2.0","method":"notifications/initialized"}`
)

// replica starts one of several servers: the test checks for leaks once,
// before the first (see startServe).
func replica(t *testing.T, opts httpserve.Options) (string, *testutil.SyncBuffer) {
	t.Helper()
	return startServe(t, proxy.New(proxy.Options{}), opts)
}

func keys(t *testing.T, text string) *sessiontoken.Keys {
	t.Helper()
	k, err := sessiontoken.Parse(text)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// TestPortableSession: two replicas that share the key serve one session
// in turn, the second resuming it from its id alone; a replica with
// another key, a tampered id and an expired one get 404, so that the
// client initializes anew.
func TestPortableSession(t *testing.T) {
	testutil.CheckNoGoroutineLeak(t)
	a, _ := replica(t, httpserve.Options{Keys: keys(t, sessionKey)})
	b, bLog := replica(t, httpserve.Options{Keys: keys(t, anotherKey+","+sessionKey)}) // rotating: seals under another, opens both
	other, _ := replica(t, httpserve.Options{Keys: keys(t, anotherKey)})
	expiring := keys(t, sessionKey)
	expiring.Now = func() time.Time { return time.Now().Add(sessiontoken.DefaultMaxAge + time.Minute) }
	late, _ := replica(t, httpserve.Options{Keys: expiring})
	local, _ := replica(t, httpserve.Options{})

	code, session, body := post(t, a+"/mcp", initialize, nil)
	if code != http.StatusOK || !sessiontoken.IsToken(session) {
		t.Fatalf("initialize = %d %q, session id %q: want a sealed one", code, body, session)
	}
	sid := map[string]string{"Mcp-Session-Id": session}
	if code, _, body := post(t, b+"/mcp", initialized, sid); code != http.StatusAccepted {
		t.Fatalf("notifications/initialized at the other replica = %d %q", code, body)
	}
	if code, _, body := post(t, b+"/mcp", `{"jsonrpc":"2.0","id":2,"method":"tools/list"}`, sid); code != http.StatusOK || !strings.Contains(body, `"tools":[]`) {
		t.Fatalf("tools/list at the other replica = %d %q", code, body)
	}
	if !strings.Contains(bLog.String(), "session resumed from its id") {
		t.Errorf("the other replica did not log the resumption:\n%s", bLog.String())
	}
	if code, _, body := post(t, a+"/mcp", `{"jsonrpc":"2.0","id":3,"method":"ping"}`, sid); code != http.StatusOK {
		t.Fatalf("ping back at the first replica = %d %q", code, body)
	}
	if code, _, _ := post(t, a+"/mcp/p/nope", `{"jsonrpc":"2.0","id":4,"method":"ping"}`, sid); code != http.StatusNotFound {
		t.Errorf("the session at another URL = %d, want 404", code)
	}

	tampered := []byte(session)
	tampered[len(tampered)/2] ^= 1
	for _, c := range []struct {
		name, url, id string
	}{
		{"a replica of another key", other, session},
		{"an expired id", late, session},
		{"a tampered id", b, string(tampered)},
		{"an id of no session", b, "0123456789abcdef0123456789abcdef"},
		{"a replica without a key", local, session},
	} {
		ping := `{"jsonrpc":"2.0","id":5,"method":"ping"}`
		if code, _, body := post(t, c.url+"/mcp", ping, map[string]string{"Mcp-Session-Id": c.id}); code != http.StatusNotFound {
			t.Errorf("%s: %d %q, want 404", c.name, code, body)
		}
	}

	// A change of the session's state comes back with its new id, which
	// carries it to the next replica.
	code, reissued, body := post(t, b+"/mcp", `{"jsonrpc":"2.0","id":6,"method":"logging/setLevel","params":{"level":"debug"}}`, sid)
	if code != http.StatusOK || !strings.HasPrefix(body, "{") {
		t.Fatalf("logging/setLevel = %d %q, want a JSON body", code, body)
	}
	st, err := keys(t, sessionKey+","+anotherKey).Open(reissued)
	if err != nil || st.LogLevel != "debug" || reissued == session {
		t.Fatalf("logging/setLevel's new session id %q: %+v, %v; want the level in it", reissued, st, err)
	}
	first, _ := keys(t, sessionKey).Open(session)
	if st.ID != first.ID || st.Created != first.Created || st.Protocol != "2025-11-25" || string(st.ClientInfo) != `{"name":"t","version":"1"}` {
		t.Errorf("the new id holds %+v; want the session's %+v", st, first)
	}
}

// TestListeningStreamTakeOver: a replica that takes over a session's
// listening stream sends one list_changed per list kind.
func TestListeningStreamTakeOver(t *testing.T) {
	k := keys(t, sessionKey)
	testutil.CheckNoGoroutineLeak(t)
	a, _ := replica(t, httpserve.Options{Keys: k})
	b, _ := replica(t, httpserve.Options{Keys: k})
	_, session, _ := post(t, a+"/mcp", initialize, nil)
	sid := map[string]string{"Mcp-Session-Id": session}
	post(t, a+"/mcp", initialized, sid)

	ctx, cancel := context.WithTimeout(context.Background(), testutil.WaitTimeout)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, b+"/mcp", nil)
	req.Header.Set("Accept", "text/event-stream")
	req.Header.Set("Mcp-Session-Id", session)
	req.Header.Set("Last-Event-ID", "0-7") // the other replica's numbering
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET at the other replica = %d", resp.StatusCode)
	}
	want := map[string]bool{
		"notifications/tools/list_changed":     true,
		"notifications/prompts/list_changed":   true,
		"notifications/resources/list_changed": true,
	}
	got := map[string]int{}
	sc := bufio.NewScanner(resp.Body)
	for len(got) < len(want) && sc.Scan() {
		line := sc.Text()
		for m := range want {
			if strings.HasPrefix(line, "data: ") && strings.Contains(line, `"`+m+`"`) {
				got[m]++
			}
		}
	}
	for m := range want {
		if got[m] != 1 {
			t.Errorf("%s sent %d times, want once (got %v)", m, got[m], got)
		}
	}
}

// TestProbesWithoutHost: a health checker's HTTP/1.0 request without a
// Host header, on a loopback bind with a token, gets /healthz and /readyz,
// and nothing more.
func TestProbesWithoutHost(t *testing.T) {
	base, _ := serve(t, httpserve.Options{Token: token, Keys: keys(t, sessionKey)})
	addr := strings.TrimPrefix(base, "http://")
	for path, want := range map[string]string{"/healthz": "ok\n", "/readyz": "ready\n", "/mcp": ""} {
		conn, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		_, _ = io.WriteString(conn, "GET "+path+" HTTP/1.0\r\n\r\n")
		resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		conn.Close()
		switch {
		case want == "" && resp.StatusCode != http.StatusForbidden:
			t.Errorf("GET %s HTTP/1.0 without Host = %d, want 403", path, resp.StatusCode)
		case want != "" && (resp.StatusCode != http.StatusOK || string(b) != want):
			t.Errorf("GET %s HTTP/1.0 without Host = %d %q, want 200 %q", path, resp.StatusCode, b, want)
		}
	}
}

// TestLastEventIDFromElsewhere: a Last-Event-ID that the session's
// listening stream never numbered (another replica's, or made up) starts
// the stream anew; it once left the stream locked, and the session's end
// hung on it.
func TestLastEventIDFromElsewhere(t *testing.T) {
	for _, opts := range []httpserve.Options{{}, {Keys: keys(t, sessionKey)}} {
		base, _ := serve(t, opts)
		_, session, _ := post(t, base+"/mcp", initialize, nil)
		post(t, base+"/mcp", initialized, map[string]string{"Mcp-Session-Id": session})
		for _, last := range []string{"0-999", "rdeadbeef.0-3", "7-1"} {
			ctx, cancel := context.WithTimeout(context.Background(), testutil.WaitTimeout)
			req, _ := http.NewRequestWithContext(ctx, http.MethodGet, base+"/mcp", nil)
			req.Header.Set("Accept", "text/event-stream")
			req.Header.Set("Mcp-Session-Id", session)
			req.Header.Set("Last-Event-ID", last)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			want := http.StatusOK
			if last == "7-1" {
				want = http.StatusNoContent // a response stream it never had
			}
			if resp.StatusCode != want {
				t.Errorf("GET with Last-Event-ID %s = %d, want %d", last, resp.StatusCode, want)
			}
			cancel()
			resp.Body.Close()
		}
		req, _ := http.NewRequest(http.MethodDelete, base+"/mcp", nil)
		req.Header.Set("Mcp-Session-Id", session)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Errorf("DELETE = %d", resp.StatusCode)
		}
	}
}
