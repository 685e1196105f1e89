package upstream_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mcpmux/mcpmux/internal/httpserver"
	"github.com/mcpmux/mcpmux/internal/jsonrpc"
	"github.com/mcpmux/mcpmux/internal/testutil"
	"github.com/mcpmux/mcpmux/registry"
	"github.com/mcpmux/mcpmux/upstream"
)

var kinds = []httpserver.Kind{httpserver.Streamable, httpserver.SSE}

// remoteServer returns the configuration of a remote server named name at
// url, that backs off from 20ms to 200ms.
func remoteServer(name string, kind httpserver.Kind, url string) *registry.Server {
	return &registry.Server{
		Name:    name,
		URL:     url,
		Type:    string(kind),
		Backoff: registry.Backoff{Initial: ms(20), Max: ms(200)},
	}
}

// recorder keeps what a supervisor reports through OnNotification,
// OnCatalogue and OnRequest.
type recorder struct {
	mu         sync.Mutex
	notes      []note
	catalogues []*registry.Catalogue
}

type note struct {
	method string
	params json.RawMessage
}

func (r *recorder) options() upstream.Options {
	return upstream.Options{
		OnNotification: func(_, method string, params json.RawMessage) {
			r.mu.Lock()
			defer r.mu.Unlock()
			r.notes = append(r.notes, note{method, params})
		},
		OnCatalogue: func(_ string, c *registry.Catalogue) {
			r.mu.Lock()
			defer r.mu.Unlock()
			r.catalogues = append(r.catalogues, c)
		},
	}
}

// noted returns the params of the notifications of method received so far.
func (r *recorder) noted(method string) []json.RawMessage {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []json.RawMessage
	for _, n := range r.notes {
		if n.method == method {
			out = append(out, n.params)
		}
	}
	return out
}

// tools returns the names of the tools in the latest catalogue.
func (r *recorder) tools() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.catalogues) == 0 {
		return nil
	}
	var names []string
	for _, raw := range r.catalogues[len(r.catalogues)-1].Tools {
		var t struct{ Name string }
		_ = json.Unmarshal(raw, &t)
		names = append(names, t.Name)
	}
	slices.Sort(names)
	return names
}

func TestRemoteCatalogueCallsAndNotifications(t *testing.T) {
	for _, kind := range kinds {
		t.Run(string(kind), func(t *testing.T) {
			testutil.CheckLeaks(t)
			url, ctl := httpserver.Start(t, kind, httpserver.Options{})
			rec := &recorder{}
			r := supervise(t, remoteServer("a", kind, url), rec.options())
			if st := r.waitState(upstream.StateReady); st.PID != 0 {
				t.Errorf("remote upstream has PID %d, want 0", st.PID)
			}
			testutil.WaitFor(t, "the catalogue", func() bool { return rec.tools() != nil })
			if got, want := rec.tools(), []string{"echo", "notify", "sample", "slow", "whoami"}; !slices.Equal(got, want) {
				t.Errorf("catalogue tools = %q, want %q", got, want)
			}

			raw := r.request(t, "tools/call", `{"name":"echo","arguments":{"message":"héllo \"you\""}}`)
			want, _ := json.Marshal(httpserver.EchoResult(`héllo "you"`))
			if !bytes.Equal(raw, want) {
				t.Errorf("echo result =\n%s\nwant byte for byte\n%s", raw, want)
			}

			raw = r.request(t, "tools/call", `{"name":"slow","arguments":{"ms":100},"_meta":{"progressToken":"tok-1"}}`)
			if !bytes.Contains(raw, []byte("slept 100 ms")) {
				t.Errorf("slow result = %s", raw)
			}
			progress := rec.noted("notifications/progress")
			if len(progress) == 0 || !bytes.Contains(progress[0], []byte(`"progressToken":"tok-1"`)) {
				t.Errorf("progress notifications = %s, want some for tok-1", progress)
			}

			// Sent outside any request: only a GET stream carries them.
			testutil.WaitFor(t, "the GET stream", func() bool { return ctl.Streams() == 1 })
			ctl.AddTool("late")
			testutil.WaitFor(t, "a catalogue with the new tool", func() bool { return slices.Contains(rec.tools(), "late") })
			ctl.Broadcast("notifications/resources/updated", map[string]any{"uri": "file:///x"})
			testutil.WaitFor(t, "resources/updated", func() bool {
				got := rec.noted("notifications/resources/updated")
				return len(got) == 1 && string(got[0]) == `{"uri":"file:///x"}`
			})
			if got := r.mustCall("late", nil); got != "late" {
				t.Errorf("late = %q", got)
			}
		})
	}
}

func TestRemoteListChangedInCallRefreshesCatalogue(t *testing.T) {
	testutil.CheckLeaks(t)
	url, _ := httpserver.Start(t, httpserver.Streamable, httpserver.Options{})
	rec := &recorder{}
	r := supervise(t, remoteServer("a", httpserver.Streamable, url), rec.options())
	r.waitState(upstream.StateReady)
	r.mustCall("notify", nil)
	testutil.WaitFor(t, "a catalogue with the added tool", func() bool { return slices.Contains(rec.tools(), "added") })
}

func TestRemoteSecretsReachServerButNotLogs(t *testing.T) {
	for _, kind := range kinds {
		t.Run(string(kind), func(t *testing.T) {
			testutil.CheckLeaks(t)
			const header, query = "hdr-secret-1", "url-secret-2"
			url, ctl := httpserver.Start(t, kind, httpserver.Options{})
			srv := remoteServer("a", kind, url+"?token="+query)
			srv.Headers = map[string]string{"X-Api-Key": header}
			srv.HealthCheck = registry.HealthCheck{Interval: ms(250), Threshold: 2}
			r := supervise(t, srv, upstream.Options{})
			r.waitState(upstream.StateReady)
			r.mustCall("echo", map[string]any{"message": "x"})
			for _, req := range ctl.Requests() {
				if got := req.Header.Get("X-Api-Key"); got != header {
					t.Errorf("%s %s carried X-Api-Key %q, want %q", req.HTTPMethod, req.Method, got, header)
				}
			}

			ctl.Close() // failures get logged, with the URL in mcp-go's errors
			r.waitState(upstream.StateBackoff)
			_, err := r.call("echo", map[string]any{"message": "y"})
			// Unless the log names the server's address, it proves nothing.
			testutil.WaitFor(t, "a failure naming the address", func() bool { return strings.Contains(r.log.String(), ctl.Addr()) })
			for what, text := range map[string]string{"log": r.log.String(), "LastError": r.Status().LastError, "error": err.Error()} {
				if strings.Contains(text, header) || strings.Contains(text, query) {
					t.Errorf("%s shows a secret:\n%s", what, text)
				}
			}
		})
	}
}

func TestRemoteSessionExpiryReinitializes(t *testing.T) {
	testutil.CheckLeaks(t)
	url, ctl := httpserver.Start(t, httpserver.Streamable, httpserver.Options{Name: "a"})
	r := supervise(t, remoteServer("a", httpserver.Streamable, url), upstream.Options{})
	r.waitState(upstream.StateReady)
	r.mustCall("whoami", nil)

	ctl.Restart() // the server forgets the session: HTTP 404 from now on
	if got := r.mustCall("echo", map[string]any{"message": "after"}); got != "after" {
		t.Errorf("echo after the session expired = %q", got)
	}
	st := r.Status()
	if st.State != upstream.StateReady || st.Restarts != 1 || !strings.Contains(st.LastError, "session expired") {
		t.Errorf("after the session expired: %+v, want ready after 1 restart for the expired session", st)
	}
	if n := countOf(ctl.Methods(), "initialize"); n != 2 {
		t.Errorf("server saw %d initialize requests, want 2", n)
	}
	if got := r.mustCall("whoami", nil); got != "a" {
		t.Errorf("whoami = %q", got)
	}
}

func TestRemoteExpiredSessionFoundByHealthCheck(t *testing.T) {
	testutil.CheckLeaks(t)
	url, ctl := httpserver.Start(t, httpserver.Streamable, httpserver.Options{})
	srv := remoteServer("a", httpserver.Streamable, url)
	srv.HealthCheck = registry.HealthCheck{Interval: ms(250), Threshold: 3}
	r := supervise(t, srv, upstream.Options{})
	r.waitState(upstream.StateReady)
	ctl.Restart()
	testutil.WaitFor(t, "a restart", func() bool { st := r.Status(); return st.State == upstream.StateReady && st.Restarts == 1 })
	if st := r.Status(); !strings.Contains(st.LastError, "session expired") {
		t.Errorf("LastError = %q, want the expired session", st.LastError)
	}
}

func TestRemoteServerDownFailsFastAndRecovers(t *testing.T) {
	for _, kind := range kinds {
		t.Run(string(kind), func(t *testing.T) {
			testutil.CheckLeaks(t)
			url, ctl := httpserver.Start(t, kind, httpserver.Options{Name: "a"})
			srv := remoteServer("a", kind, url)
			srv.HealthCheck = registry.HealthCheck{Interval: ms(250), Threshold: 2}
			r := supervise(t, srv, upstream.Options{})
			r.waitState(upstream.StateReady)
			inFlight := make(chan error, 1)
			go func() {
				_, err := r.call("slow", map[string]any{"ms": 600000})
				inFlight <- err
			}()
			testutil.WaitFor(t, "the slow call to reach the server", func() bool { return slices.Contains(ctl.Methods(), "tools/call") })

			ctl.Close()
			err := <-inFlight // when the server goes, not at the call's bound
			if !errors.Is(err, upstream.ErrConnectionLost) || !strings.Contains(err.Error(), `upstream "a"`) {
				t.Errorf("the call in flight returned %v after the server closed, want a lost connection naming the server", err)
			}
			st := r.waitState(upstream.StateBackoff) // noticed without another call
			t.Logf("call in flight: %v; noticed: %s", err, st.LastError)
			_, err = r.call("whoami", nil)
			if !errors.Is(err, upstream.ErrUnavailable) || !strings.Contains(err.Error(), `upstream "a"`) || !strings.Contains(err.Error(), "connection refused") {
				t.Errorf("call with the server down = %v, want an error naming the server and the refused connection", err)
			}

			httpserver.Start(t, kind, httpserver.Options{Name: "a", Addr: ctl.Addr()})
			testutil.WaitFor(t, "recovery", func() bool { st := r.Status(); return st.State == upstream.StateReady && st.Restarts >= 1 })
			if got := r.mustCall("whoami", nil); got != "a" {
				t.Errorf("whoami after recovery = %q", got)
			}
		})
	}
}

func TestRemoteSamplingReachesOnRequest(t *testing.T) {
	testutil.CheckLeaks(t)
	url, _ := httpserver.Start(t, httpserver.Streamable, httpserver.Options{})
	var mu sync.Mutex
	var asked []note
	opts := upstream.Options{OnRequest: func(ctx context.Context, server, method string, params json.RawMessage) (json.RawMessage, error) {
		mu.Lock()
		asked = append(asked, note{method, params})
		mu.Unlock()
		var p struct {
			Messages []struct{ Content struct{ Text string } }
		}
		if err := json.Unmarshal(params, &p); err != nil || len(p.Messages) == 0 {
			return nil, &jsonrpc.Error{Code: -32602, Message: "no message"}
		}
		text, _ := json.Marshal("sampled: " + p.Messages[0].Content.Text)
		return json.RawMessage(`{"role":"assistant","content":{"type":"text","text":` + string(text) + `},"model":"test"}`), nil
	}}
	r := supervise(t, remoteServer("a", httpserver.Streamable, url), opts)
	r.waitState(upstream.StateReady)
	if got := r.mustCall("sample", map[string]any{"message": "hi"}); got != "sampled: hi" {
		t.Errorf("sample = %q, want the client's answer", got)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(asked) != 1 || asked[0].method != "sampling/createMessage" || !bytes.Contains(asked[0].params, []byte(`"hi"`)) {
		t.Errorf("OnRequest saw %+v, want one sampling/createMessage of hi", asked)
	}
}

func TestRemoteCancelledCallTellsServer(t *testing.T) {
	for _, kind := range kinds {
		t.Run(string(kind), func(t *testing.T) {
			testutil.CheckLeaks(t)
			url, ctl := httpserver.Start(t, kind, httpserver.Options{Name: "a"})
			r := supervise(t, remoteServer("a", kind, url), upstream.Options{})
			r.waitState(upstream.StateReady)

			ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
			defer cancel()
			_, err := callCtx(ctx, r.Supervisor, "slow", map[string]any{"ms": 600000})
			if !errors.Is(err, context.DeadlineExceeded) {
				t.Errorf("slow call = %v, want the deadline", err)
			}
			testutil.WaitFor(t, "the server to cancel the call", func() bool { return ctl.Cancelled() == 1 })
			testutil.WaitFor(t, "notifications/cancelled for the call", func() bool { return cancelledCall(ctl, "slow") })
			if got := r.mustCall("whoami", nil); got != "a" {
				t.Errorf("whoami after the cancellation = %q", got)
			}
		})
	}
}

func TestRemoteHTTPAtSSEServerSuggestsType(t *testing.T) {
	testutil.CheckLeaks(t)
	url, _ := httpserver.Start(t, httpserver.SSE, httpserver.Options{})
	r := supervise(t, remoteServer("a", httpserver.Streamable, url), upstream.Options{})
	if st := r.waitState(upstream.StateBackoff); !strings.Contains(st.LastError, `set "type": "sse"`) {
		t.Errorf("LastError = %q, want a hint to set the type", st.LastError)
	}
}

func TestRemoteRedirectToOtherHostRefused(t *testing.T) {
	testutil.CheckLeaks(t)
	var leaked atomic.Int32
	other := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { leaked.Add(1) }))
	defer other.Close()
	redirect := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, strings.Replace(other.URL, "127.0.0.1", "localhost", 1)+"/mcp", http.StatusTemporaryRedirect)
	}))
	defer redirect.Close()
	srv := remoteServer("a", httpserver.Streamable, redirect.URL+"/mcp")
	srv.Headers = map[string]string{"Authorization": "Bearer secret"}
	r := supervise(t, srv, upstream.Options{})
	if st := r.waitState(upstream.StateBackoff); !strings.Contains(st.LastError, "refusing a redirect to http://localhost:") {
		t.Errorf("LastError = %q, want the redirect refused", st.LastError)
	}
	r.stop()
	if n := leaked.Load(); n != 0 {
		t.Errorf("the other host got %d requests, want none", n)
	}
}

// cancelledCall reports whether the server was told that the call of tool
// was cancelled.
func cancelledCall(ctl *httpserver.Control, tool string) bool {
	var id json.RawMessage
	for _, req := range ctl.Requests() {
		var p struct {
			Name      string
			RequestID json.RawMessage
		}
		_ = json.Unmarshal(req.Params, &p)
		switch {
		case req.Method == "tools/call" && p.Name == tool:
			id = req.ID
		case req.Method == "notifications/cancelled" && id != nil && bytes.Equal(p.RequestID, id):
			return true
		}
	}
	return false
}

// request sends a raw request within 10s and returns the raw result.
func (r *running) request(tb testing.TB, method, params string) json.RawMessage {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	raw, err := r.Request(ctx, method, json.RawMessage(params))
	if err != nil {
		tb.Fatalf("%s: %s: %v", r.Name(), method, err)
	}
	return raw
}

func countOf(list []string, s string) int {
	n := 0
	for _, x := range list {
		if x == s {
			n++
		}
	}
	return n
}
