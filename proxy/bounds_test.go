package proxy_test

import (
	"context"
	"encoding/json"
	"log/slog"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mark3labs/mcp-go/client"
	"github.com/mark3labs/mcp-go/mcp"

	"github.com/mcpmux/mcpmux/internal/testutil"
	"github.com/mcpmux/mcpmux/upstream"
)

// TestUnknownListMethodKeepsTheRest: an upstream that declares resources
// but answers -32601 to resources/list keeps its tools and prompts.
func TestUnknownListMethodKeepsTheRest(t *testing.T) {
	m := startMux(t, map[string]any{"a": testutil.TestServer(t, "-name", "a", "-missing", "resources/list,resources/templates/list")})
	m.waitTools("a__echo")
	if got := string(m.must("prompts/list", nil)); !strings.Contains(got, `"a__greet"`) {
		t.Errorf("prompts/list = %s, want a's prompts", got)
	}
	var res struct{ Resources []struct{ URI string } }
	_ = json.Unmarshal(m.must("resources/list", nil), &res)
	if len(res.Resources) != 1 || res.Resources[0].URI != "mcpmux://status" {
		t.Errorf("resources/list = %+v, want mcpmux://status alone", res.Resources)
	}
}

// TestUpdatesOnlyForSubscriptions: an upstream's resources/updated reaches
// the client only for a URI the client subscribed to, at that upstream.
func TestUpdatesOnlyForSubscriptions(t *testing.T) {
	m := startMux(t, map[string]any{"a": testutil.TestServer(t, "-name", "a", "-hostile"), "b": testutil.TestServer(t, "-name", "b", "-hostile")})
	m.waitTools("a__update", "b__update")
	updates := func() []string {
		var uris []string
		for _, n := range m.notifications("notifications/resources/updated") {
			uris = append(uris, n.Params.AdditionalFields["uri"].(string))
		}
		return uris
	}
	m.must("resources/subscribe", map[string]string{"uri": "test://a/res/0"})
	testutil.WaitFor(t, "the update that follows the subscription", func() bool { return len(updates()) == 1 })
	// Notifications of one upstream arrive in order: once the last one is
	// in, the others would have been.
	m.call("a__update", map[string]any{"uri": "test://a/res/1"})  // never subscribed
	m.call("b__update", map[string]any{"uri": "test://a/res/0"})  // subscribed, but at a
	m.call("b__update", map[string]any{"uri": "test://b/res/0"})  // never subscribed
	m.call("a__update", map[string]any{"uri": "test://nobody/x"}) // no such resource
	m.must("resources/unsubscribe", map[string]string{"uri": "test://a/res/0"})
	m.call("a__update", map[string]any{"uri": "test://a/res/0"}) // no longer subscribed
	m.must("resources/subscribe", map[string]string{"uri": "test://a/res/2"})
	testutil.WaitFor(t, "the update of the second subscription", func() bool { return len(updates()) >= 2 })
	m.call("a__update", map[string]any{"uri": "test://a/res/2"})
	testutil.WaitFor(t, "the update the client asked for", func() bool { return len(updates()) >= 3 })
	if got, want := updates(), []string{"test://a/res/0", "test://a/res/2", "test://a/res/2"}; strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("resources/updated for %q, want %q", got, want)
	}
}

// TestListChangedFlood: thousands of list changes from one upstream cost
// one catalogue read at a time, and crowd out no other notification.
func TestListChangedFlood(t *testing.T) {
	logs := &testutil.SyncBuffer{}
	m := newMux(t, map[string]any{"a": testutil.TestServer(t, "-name", "a", "-hostile", "-slow-list", "20ms")},
		muxOptions{protocol: mcp.LATEST_LEGACY_PROTOCOL_VERSION, logger: slog.New(slog.NewTextHandler(logs, nil))})
	m.waitTools("a__flood_list_changed")
	m.call("a__flood_list_changed", map[string]any{"count": 5000})
	m.call("a__log", map[string]any{"data": "after the flood"})
	testutil.WaitFor(t, "the log message sent after the flood", func() bool {
		for _, n := range m.notifications("notifications/message") {
			if n.Params.AdditionalFields["data"] == "after the flood" {
				return true
			}
		}
		return false
	})
	var stats struct{ Lists, MostAtOnce int }
	testutil.WaitFor(t, "a catalogue read after the flood", func() bool {
		_ = json.Unmarshal([]byte(text(t, m.call("a__stats", nil))), &stats)
		return stats.Lists >= 2
	})
	if stats.MostAtOnce != 1 || stats.Lists > 50 {
		t.Errorf("5,000 list changes made %d catalogue reads, %d at once; want a few, one at a time", stats.Lists, stats.MostAtOnce)
	}
	if strings.Contains(logs.String(), "dropping upstream notifications") {
		t.Errorf("the flood crowded out other notifications:\n%s", logs)
	}
}

// stalled answers nothing until released.
type stalled struct{ release chan struct{} }

func (s stalled) CreateMessage(ctx context.Context, _ mcp.CreateMessageRequest) (*mcp.CreateMessageResult, error) {
	select {
	case <-s.release:
	case <-ctx.Done():
	}
	return nil, context.Canceled
}

func (s stalled) ListRoots(ctx context.Context, _ mcp.ListRootsRequest) (*mcp.ListRootsResult, error) {
	select {
	case <-s.release:
	case <-ctx.Done():
	}
	return nil, context.Canceled
}

// TestRequestStorm: an upstream that sends the client 20,000 sampling
// requests at once has 32 waiting for the client; the rest get an error
// at once. Goroutines and heap stay bounded meanwhile.
func TestRequestStorm(t *testing.T) {
	const count = 20000
	s := stalled{release: make(chan struct{})}
	m := startMuxWith(t, map[string]any{"a": testutil.TestServer(t, "-name", "a", "-hostile")}, mcp.LATEST_LEGACY_PROTOCOL_VERSION,
		[]client.ClientOption{client.WithSamplingHandler(s)})
	defer close(s.release)
	m.waitTools("a__flood_requests")
	runtime.GC()
	var before runtime.MemStats
	runtime.ReadMemStats(&before)
	goroutines := runtime.NumGoroutine()

	peak := sample(t)
	res := m.call("a__flood_requests", map[string]any{"count": count, "wait": count - upstream.DefaultMaxIncoming})
	most, heap := peak()

	var flood struct {
		Results int
		Errors  map[string]int
	}
	if err := json.Unmarshal([]byte(text(t, res)), &flood); err != nil {
		t.Fatal(err)
	}
	refused := 0
	for msg, n := range flood.Errors {
		if !strings.Contains(msg, "at most 32 at once") {
			t.Errorf("%d requests failed with %q", n, msg)
		}
		refused += n
	}
	if refused != count-upstream.DefaultMaxIncoming {
		t.Errorf("%d of %d requests refused, want all but %d", refused, count, upstream.DefaultMaxIncoming)
	}
	if extra := most - goroutines; extra > 200 {
		t.Errorf("the storm took %d more goroutines (%d at most); want about 2 per request in flight", extra, most)
	}
	if grown := int64(heap) - int64(before.HeapInuse); grown > 64<<20 {
		t.Errorf("the storm grew the heap by %d MB", grown>>20)
	}
}

// sample watches the number of goroutines and the heap in use until the
// returned func is called, which returns the highest of each.
func sample(tb testing.TB) (stop func() (goroutines int, heap uint64)) {
	done := make(chan struct{})
	var wg sync.WaitGroup
	var most int
	var heap uint64
	wg.Go(func() {
		t := time.NewTicker(5 * time.Millisecond)
		defer t.Stop()
		for {
			most = max(most, runtime.NumGoroutine())
			var ms runtime.MemStats
			runtime.ReadMemStats(&ms)
			heap = max(heap, ms.HeapInuse)
			select {
			case <-done:
				return
			case <-t.C:
			}
		}
	})
	return func() (int, uint64) {
		close(done)
		wg.Wait()
		return most, heap
	}
}

// TestUpstreamRequestBounded: a request an upstream sends the client waits
// at most the server's timeout, and the upstream then gets an error.
func TestUpstreamRequestBounded(t *testing.T) {
	s := stalled{release: make(chan struct{})}
	a := testutil.TestServer(t, "-name", "a")
	// The call has the same bound, which runs until the upstream's request
	// reaches mcpmux: on a loaded machine that may take a good part of a
	// second, so the bound leaves room for it.
	a["timeout"] = "3s"
	m := startMuxWith(t, map[string]any{"a": a}, mcp.LATEST_LEGACY_PROTOCOL_VERSION, []client.ClientOption{client.WithRootsHandler(s)})
	defer close(s.release)
	m.waitTools("a__roots")
	got := text(t, m.call("a__roots", nil))
	if !strings.Contains(got, "no answer to roots/list from the client within 3s") {
		t.Errorf("a__roots with a client that never answers = %q, want the bound's error", got)
	}
}
