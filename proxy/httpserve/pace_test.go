package httpserve_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mcpmux/mcpmux/internal/clock"
	"github.com/mcpmux/mcpmux/internal/jsonrpc"
	"github.com/mcpmux/mcpmux/internal/testutil"
	"github.com/mcpmux/mcpmux/proxy"
	"github.com/mcpmux/mcpmux/proxy/httpserve"
	"github.com/mcpmux/mcpmux/registry"
)

// fakeClock is a clock whose time moves only when the test advances it.
type fakeClock struct {
	mu     sync.Mutex
	now    time.Time
	timers []*fakeTimer
}

type fakeTimer struct {
	c  *fakeClock
	at time.Time
	ch chan time.Time
	on bool // armed: neither fired nor stopped
}

func newFakeClock() *fakeClock { return &fakeClock{now: time.Unix(1_000_000, 0)} }

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) NewTimer(d time.Duration) (clock.Timer, <-chan time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	t := &fakeTimer{c: c, at: c.now.Add(d), ch: make(chan time.Time, 1), on: true}
	c.timers = append(c.timers, t)
	return t, t.ch
}

func (c *fakeClock) NewTicker(time.Duration) (clock.Ticker, <-chan time.Time) {
	panic("fakeClock: no tickers")
}

func (c *fakeClock) AfterFunc(time.Duration, func()) clock.Timer { panic("fakeClock: no AfterFunc") }

// armed returns how many timers wait to fire.
func (c *fakeClock) armed() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := 0
	for _, t := range c.timers {
		if t.on {
			n++
		}
	}
	return n
}

// advance moves the time on by d and fires the timers due.
func (c *fakeClock) advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
	for _, t := range c.timers {
		if t.on && !t.at.After(c.now) {
			t.on = false
			t.ch <- c.now
		}
	}
}

func (t *fakeTimer) Stop() bool {
	t.c.mu.Lock()
	defer t.c.mu.Unlock()
	was := t.on
	t.on = false
	return was
}

func (t *fakeTimer) Reset(time.Duration) bool { panic("fakeClock: no Reset") }

// jsonClient posts messages of one streamable HTTP session and takes
// each response as a JSON body.
type jsonClient struct {
	t        *testing.T
	base, id string
}

func (c *jsonClient) post(ctx context.Context, body string) (string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.base+"/mcp", strings.NewReader(body))
	if err != nil {
		return "", err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	if c.id != "" {
		req.Header.Set("Mcp-Session-Id", c.id)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	if c.id == "" {
		c.id = resp.Header.Get("Mcp-Session-Id")
	}
	b, err := io.ReadAll(resp.Body)
	return string(b), err
}

// must posts body and returns the response, failing the test on error.
func (c *jsonClient) must(body string) string {
	c.t.Helper()
	got, err := c.post(context.Background(), body)
	if err != nil {
		c.t.Fatalf("POST %s: %v", body, err)
	}
	return got
}

func openJSONSession(t *testing.T, base string) *jsonClient {
	t.Helper()
	c := &jsonClient{t: t, base: base}
	if got := c.must(initialize); !strings.Contains(got, `"result"`) || c.id == "" {
		t.Fatalf("initialize = %s", got)
	}
	c.must(`{"jsonrpc":"2.0","method":"notifications/initialized"}`)
	return c
}

func hangCall(id string) string {
	return `{"jsonrpc":"2.0","id":` + id + `,"method":"tools/call","params":{"name":"s__hang","arguments":{}}}`
}

// busyCode reports whether a response is the refusal of a request past a
// bound.
func busyCode(resp string) bool {
	var m struct{ Error *jsonrpc.Error }
	return json.Unmarshal([]byte(resp), &m) == nil && m.Error != nil && m.Error.Code == jsonrpc.CodeBusy
}

// TestFloodingSessionIsPaced: a session that keeps sending requests once
// they are refused for being past its bound has its refusals at once for
// a burst, and then its next request is held, unread, while another
// session's requests are served at once; the held request goes on when
// its time comes (on an injected clock), and one whose client gives up
// is never served, leaving its id free.
func TestFloodingSessionIsPaced(t *testing.T) {
	srv := proxy.New(proxy.Options{MaxInFlight: 1})
	srv.AddUpstream(&registry.Server{Name: "s", Command: "unused"}, silent{})
	srv.SetCatalogue("s", &registry.Catalogue{Tools: []json.RawMessage{json.RawMessage(`{"name":"hang","inputSchema":{"type":"object"}}`)}})
	clk := newFakeClock()
	base, log := serveProxy(t, srv, httpserve.Options{Clock: clk})
	flood, quiet := openJSONSession(t, base), openJSONSession(t, base)

	if got := quiet.must(`{"jsonrpc":"2.0","id":"q","method":"tools/list"}`); !strings.Contains(got, `"s__hang"`) {
		t.Fatalf("tools/list = %s", got)
	}
	// The flooding session's one request in flight, which never ends: its
	// event stream opens once the request is dispatched.
	req, _ := http.NewRequest(http.MethodPost, base+"/mcp", strings.NewReader(hangCall(`"h"`)))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "text/event-stream")
	req.Header.Set("Mcp-Session-Id", flood.id)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if got := flood.must(hangCall(`0`)); !busyCode(got) {
		t.Fatalf("a request past the bound = %s, want %d", got, jsonrpc.CodeBusy)
	}
	// One refusal is booked; the burst's others are answered at once.
	for i := 1; i < httpserve.PaceBurst; i++ {
		if got := flood.must(hangCall(`1`)); !busyCode(got) {
			t.Fatalf("refusal %d = %s, want %d", i, got, jsonrpc.CodeBusy)
		}
	}
	if clk.armed() != 0 {
		t.Fatal("a request of the burst was held")
	}
	// The burst is spent: the next request is held...
	held := func(id string) (context.CancelFunc, chan string) {
		ctx, cancel := context.WithCancel(context.Background())
		answer := make(chan string, 1)
		go func() {
			got, err := flood.post(ctx, hangCall(id))
			if err != nil {
				got = "gave up: " + err.Error()
			}
			answer <- got
		}()
		testutil.WaitFor(t, "the flooding session's request held", func() bool { return clk.armed() == 1 })
		return cancel, answer
	}
	cancel, answer := held(`"x"`)
	defer cancel()
	// ...while the other session is served at once.
	for i := range 3 {
		if got := quiet.must(`{"jsonrpc":"2.0","id":"p","method":"ping"}`); !strings.Contains(got, `"result":{}`) {
			t.Fatalf("the quiet session's ping %d = %s", i, got)
		}
		if got := quiet.must(`{"jsonrpc":"2.0","id":"l","method":"tools/list"}`); !strings.Contains(got, `"s__hang"`) {
			t.Fatalf("the quiet session's tools/list %d = %s", i, got)
		}
	}
	select {
	case got := <-answer:
		t.Fatalf("the held request was answered before its time: %s", got)
	default:
	}
	if clk.armed() != 1 {
		t.Fatalf("%d requests held, want the flooding session's one", clk.armed())
	}
	clk.advance(httpserve.PaceEvery)
	if got := <-answer; !busyCode(got) {
		t.Errorf("the held request, in its time = %s, want %d", got, jsonrpc.CodeBusy)
	}
	if !strings.Contains(log.String(), "pacing a session") {
		t.Errorf("the log does not say the session is paced:\n%s", log.String())
	}

	// A request held, and given up by its client, is never served: its id
	// is free for the next.
	cancel, answer = held(`"y"`)
	cancel()
	if got := <-answer; !strings.HasPrefix(got, "gave up") {
		t.Fatalf("the given-up request = %s", got)
	}
	testutil.WaitFor(t, "the held request's wait ended", func() bool { return clk.armed() == 0 })
	_, answer = held(`"y"`)
	clk.advance(httpserve.PaceEvery)
	if got := <-answer; !busyCode(got) {
		t.Errorf("the same id again = %s, want %d (not 'already in use')", got, jsonrpc.CodeBusy)
	}
}
