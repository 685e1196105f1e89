package proxy_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/mcpmux/mcpmux/proxy"
	"github.com/mcpmux/mcpmux/registry"
	"github.com/mcpmux/mcpmux/upstream"
)

// The waits of the first lists and of unknown names are tested here in a
// synctest bubble, with fake upstreams whose catalogues and failures
// arrive when the test says, so that every duration is exact. The same
// behaviour against real upstream processes is tested in cmd/mcpmux.

// fakeUpstream answers every request with its name and the method.
type fakeUpstream struct{ name string }

func (f fakeUpstream) Request(_ context.Context, method string, params json.RawMessage) (json.RawMessage, error) {
	out, _ := json.Marshal(map[string]any{"content": []map[string]string{{"type": "text", "text": f.name + " " + method + " " + string(params)}}})
	return out, nil
}

func (fakeUpstream) Notify(context.Context, string, json.RawMessage) error { return nil }

// bubble is a proxy.Server with fake upstreams and a raw client, inside a
// synctest bubble.
type bubble struct {
	t     *testing.T
	srv   *proxy.Server
	w     io.Writer
	start time.Time

	mu      sync.Mutex
	answers map[string]json.RawMessage // responses by id
	notes   []bubbleNote               // notifications, in order
}

// bubbleNote is a notification the client received, and when.
type bubbleNote struct {
	method string
	at     time.Duration // since the bubble started
}

// newBubble serves fake upstreams named by servers (name → startTimeout)
// and initializes a client with capabilities caps. Call it inside
// synctest.Test.
func newBubble(t *testing.T, caps string, servers map[string]string) *bubble {
	// The fake upstreams never shake hands: initialize does not wait for
	// them here (its wait is tested in instructions_test.go).
	b := openBubble(t, proxy.Options{InstructionsWait: -1}, servers)
	b.send("init", "initialize", fmt.Sprintf(`{"protocolVersion":"2025-11-25","capabilities":%s,"clientInfo":{"name":"t","version":"1"}}`, caps))
	synctest.Wait()
	if b.answer("init") == nil {
		t.Fatal("no answer to initialize")
	}
	fmt.Fprintln(b.w, `{"jsonrpc":"2.0","method":"notifications/initialized"}`)
	return b
}

// openBubble serves fake upstreams named by servers (name →
// startTimeout) with opts, to a client that has sent nothing yet. Call it
// inside synctest.Test.
func openBubble(t *testing.T, opts proxy.Options, servers map[string]string) *bubble {
	cfg := map[string]any{}
	for name, start := range servers {
		entry := map[string]any{"command": "unused"}
		if start != "" {
			entry["startTimeout"] = start
		}
		cfg[name] = entry
	}
	data, _ := json.Marshal(map[string]any{"mcpServers": cfg})
	c, err := registry.Parse(data, nil)
	if err != nil {
		t.Fatal(err)
	}
	b := &bubble{t: t, srv: proxy.New(opts), start: time.Now(), answers: map[string]json.RawMessage{}}
	for _, s := range c.Enabled() {
		b.srv.AddUpstream(s, fakeUpstream{s.Name})
	}
	clientIn, muxOut := io.Pipe()
	muxIn, clientOut := io.Pipe()
	b.w = clientOut
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Go(func() { _ = b.srv.Serve(ctx, muxIn, muxOut); muxOut.Close() })
	wg.Go(func() { b.read(clientIn) })
	t.Cleanup(func() {
		clientOut.Close()
		cancel()
		wg.Wait()
	})
	return b
}

func (b *bubble) read(r io.Reader) {
	sc := bufio.NewScanner(r)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var m struct {
			ID     json.RawMessage `json:"id"`
			Method string          `json:"method"`
		}
		line := append([]byte(nil), sc.Bytes()...)
		if json.Unmarshal(line, &m) != nil {
			continue
		}
		b.mu.Lock()
		switch {
		case m.ID != nil:
			b.answers[strings.Trim(string(m.ID), `"`)] = line
		case m.Method != "":
			b.notes = append(b.notes, bubbleNote{m.Method, b.since()})
		}
		b.mu.Unlock()
	}
}

// send writes a request with id.
func (b *bubble) send(id, method, params string) {
	fmt.Fprintf(b.w, `{"jsonrpc":"2.0","id":%q,"method":%q,"params":%s}`+"\n", id, method, params)
}

// answer returns the response to id, nil if none has arrived.
func (b *bubble) answer(id string) json.RawMessage {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.answers[id]
}

// notifications returns the notifications with method received so far.
func (b *bubble) notifications(method string) []bubbleNote {
	b.mu.Lock()
	defer b.mu.Unlock()
	var out []bubbleNote
	for _, n := range b.notes {
		if n.method == method {
			out = append(out, n)
		}
	}
	return out
}

// since is the fake time since the bubble started.
func (b *bubble) since() time.Duration { return time.Since(b.start) }

// catalogue makes an upstream's catalogue with the given tools.
func catalogue(caps string, tools ...string) *registry.Catalogue {
	c := &registry.Catalogue{Capabilities: json.RawMessage(`{"tools":{}}`), ClientCapabilities: json.RawMessage(caps)}
	for _, name := range tools {
		c.Tools = append(c.Tools, json.RawMessage(fmt.Sprintf(`{"name":%q,"inputSchema":{"type":"object"}}`, name)))
	}
	return c
}

// toolNames returns the names in a tools/list response.
func toolNames(t *testing.T, resp json.RawMessage) []string {
	t.Helper()
	var r struct {
		Result struct{ Tools []struct{ Name string } }
	}
	if err := json.Unmarshal(resp, &r); err != nil {
		t.Fatalf("decoding %s: %v", resp, err)
	}
	var names []string
	for _, tool := range r.Result.Tools {
		names = append(names, tool.Name)
	}
	return names
}

// The first tools/list waits until every upstream has delivered its
// catalogue, failed, or used up its start timeout; the next one does not.
func TestFirstListWaitsForEveryUpstream(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := newBubble(t, `{}`, map[string]string{"fast": "", "slow": "", "broken": "", "silent": "10s"})
		b.send("l1", "tools/list", `{}`)
		synctest.Wait()
		b.srv.SetCatalogue("fast", catalogue(`{}`, "echo"))
		b.srv.UpstreamState(upstream.Status{Server: "broken", State: upstream.StateBackoff, Attempt: 1, LastError: "exec: not found"})
		time.Sleep(3 * time.Second)
		synctest.Wait()
		if got := b.answer("l1"); got != nil {
			t.Fatalf("tools/list answered while slow and silent were still starting: %s", got)
		}
		b.srv.SetCatalogue("slow", catalogue(`{}`, "work"))
		synctest.Wait()
		if got := b.answer("l1"); got != nil {
			t.Fatalf("tools/list answered before silent's start timeout: %s", got)
		}
		time.Sleep(7 * time.Second) // silent's 10s start timeout ends
		synctest.Wait()
		resp := b.answer("l1")
		if got := strings.Join(toolNames(t, resp), " "); got != "fast__echo slow__work" {
			t.Errorf("first tools/list = %q, want fast__echo slow__work", got)
		}
		if b.since() != 10*time.Second {
			t.Errorf("first tools/list answered after %v, want 10s (silent's start timeout)", b.since())
		}

		// Lists after the first never wait, and neither do other kinds'
		// first lists once nothing is pending.
		b.send("l2", "tools/list", `{}`)
		b.send("p1", "prompts/list", `{}`)
		synctest.Wait()
		if b.answer("l2") == nil || b.answer("p1") == nil {
			t.Errorf("later lists waited: tools/list %s, prompts/list %s", b.answer("l2"), b.answer("p1"))
		}
	})
}

// A call for a name that is not known yet waits for the upstream its
// prefix names, and only for it.
func TestCallWaitsForItsUpstreamOnly(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := newBubble(t, `{}`, map[string]string{"slow": "", "silent": ""})
		b.send("c1", "tools/call", `{"name":"slow__echo","arguments":{}}`)
		time.Sleep(2 * time.Second)
		synctest.Wait()
		if got := b.answer("c1"); got != nil {
			t.Fatalf("slow__echo answered before slow had a catalogue: %s", got)
		}
		b.srv.SetCatalogue("slow", catalogue(`{}`, "echo"))
		synctest.Wait()
		resp := b.answer("c1")
		if !strings.Contains(string(resp), `slow tools/call {\"name\":\"echo\"`) {
			t.Errorf("slow__echo = %s, want it routed to slow as echo", resp)
		}
		if b.since() != 2*time.Second {
			t.Errorf("slow__echo answered after %v, want 2s, when slow's catalogue arrived (silent is still starting)", b.since())
		}

		// A misspelt name of a known upstream gets suggestions at once.
		b.send("c2", "tools/call", `{"name":"slow__ecoh"}`)
		synctest.Wait()
		if got := string(b.answer("c2")); !strings.Contains(got, `unknown tool \"slow__ecoh\"; did you mean \"slow__echo\"?`) || !strings.Contains(got, "-32602") {
			t.Errorf("slow__ecoh = %s, want -32602 unknown tool, did you mean slow__echo", got)
		}

		// A name no prefix fits waits for every upstream still starting,
		// then is refused as unknown once none is.
		b.send("c3", "tools/call", `{"name":"nobody__echo"}`)
		synctest.Wait()
		if got := b.answer("c3"); got != nil {
			t.Fatalf("nobody__echo answered while silent was still starting: %s", got)
		}
		b.srv.UpstreamState(upstream.Status{Server: "silent", State: upstream.StateBackoff, Attempt: 1, LastError: "exit status 1"})
		synctest.Wait()
		if got := string(b.answer("c3")); !strings.Contains(got, `unknown tool \"nobody__echo\"`) {
			t.Errorf("nobody__echo = %s, want unknown tool", got)
		}

		// A name whose upstream failed without ever listing says so.
		b.send("c4", "tools/call", `{"name":"silent__echo"}`)
		synctest.Wait()
		if got := string(b.answer("c4")); !strings.Contains(got, `upstream \"silent\" is unavailable: exit status 1`) || !strings.Contains(got, "-32000") {
			t.Errorf("silent__echo = %s, want -32000 naming silent's failure", got)
		}
	})
}

// A call whose upstream stays silent is refused when its start timeout
// ends, saying why rather than that the tool is unknown.
func TestCallForSilentUpstreamEndsAtStartTimeout(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := newBubble(t, `{}`, map[string]string{"silent": "5s"})
		b.send("c1", "tools/call", `{"name":"silent__echo"}`)
		time.Sleep(5 * time.Second)
		synctest.Wait()
		want := `tool \"silent__echo\": upstream \"silent\" is unavailable: no catalogue within its start timeout (5s)`
		if got := string(b.answer("c1")); !strings.Contains(got, want) {
			t.Errorf("silent__echo after silent's start timeout = %s, want %s", got, want)
		}
	})
}

// A cached catalogue answers the first list at once, but only if it was
// read under the capabilities this client has: an upstream may offer a
// client that lists roots more tools.
func TestCachedCatalogueServedOnlyForSameCapabilities(t *testing.T) {
	for _, tc := range []struct {
		name, clientCaps string
		waits            bool
	}{
		{"same capabilities", `{"roots":{}}`, false},
		{"other capabilities", `{}`, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				b := newBubble(t, tc.clientCaps, map[string]string{"a": ""})
				b.srv.SetCached(map[string]*registry.Catalogue{"a": catalogue(`{"roots":{"listChanged":true}}`, "echo", "roots_tool")})
				b.send("l1", "tools/list", `{}`)
				synctest.Wait()
				if waited := b.answer("l1") == nil; waited != tc.waits {
					t.Fatalf("first tools/list waited = %t, want %t", waited, tc.waits)
				}
				if tc.waits {
					b.srv.SetCatalogue("a", catalogue(`{}`, "echo"))
					synctest.Wait()
					if got := strings.Join(toolNames(t, b.answer("l1")), " "); got != "a__echo" {
						t.Errorf("first tools/list = %q, want the live a__echo only", got)
					}
				}
			})
		})
	}
}
