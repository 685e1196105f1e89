package proxy_test

import (
	"encoding/json"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/mcpmux/mcpmux/proxy"
	"github.com/mcpmux/mcpmux/registry"
	"github.com/mcpmux/mcpmux/upstream"
)

const initParams = `{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"t","version":"1"}}`

// instructionsOf returns the instructions of an initialize or
// server/discover response; "" if there is none yet.
func instructionsOf(t *testing.T, resp json.RawMessage) string {
	t.Helper()
	if resp == nil {
		return ""
	}
	var r struct{ Result struct{ Instructions string } }
	if err := json.Unmarshal(resp, &r); err != nil {
		t.Fatalf("decoding %s: %v", resp, err)
	}
	return r.Result.Instructions
}

// Initialize waits for the handshakes of the upstreams whose instructions
// are unknown, not for a cached one's, and answers once each has shaken
// hands or failed.
func TestInitializeWaitsForHandshakes(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := openBubble(t, proxy.Options{}, map[string]string{"a": "", "b": "", "c": ""})
		cached := catalogue(`{}`, "echo")
		cached.Instructions = "C, from the cache."
		b.srv.SetCached(map[string]*registry.Catalogue{"c": cached})
		b.send("init", "initialize", initParams)
		time.Sleep(time.Second)
		synctest.Wait()
		if b.answer("init") != nil {
			t.Fatalf("initialize answered before a and b shook hands: %s", b.answer("init"))
		}
		b.srv.UpstreamHandshake("a", upstream.Handshake{Instructions: "A, live."})
		synctest.Wait()
		if b.answer("init") != nil {
			t.Fatalf("initialize answered before b shook hands or failed: %s", b.answer("init"))
		}
		b.srv.UpstreamState(upstream.Status{Server: "b", State: upstream.StateBackoff, LastError: "exit status 1"})
		synctest.Wait()
		got := instructionsOf(t, b.answer("init"))
		if !strings.Contains(got, "## a__ tools\n\nA, live.\n\n## c__ tools\n\nC, from the cache.") || strings.Contains(got, "b__") {
			t.Errorf("initialize's instructions = %q, want a's and c's, not b's", got)
		}
	})
}

// The wait is bounded: by InstructionsWait (default 3s) from the request,
// after which initialize answers with what it has.
func TestInitializeWaitBound(t *testing.T) {
	for _, tt := range []struct {
		name string
		wait time.Duration
		want time.Duration
	}{
		{"default", 0, proxy.DefaultInstructionsWait},
		{"configured", 500 * time.Millisecond, 500 * time.Millisecond},
		{"none", -1, 0},
	} {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				b := openBubble(t, proxy.Options{InstructionsWait: tt.wait}, map[string]string{"silent": "", "a": ""})
				b.srv.UpstreamHandshake("a", upstream.Handshake{Instructions: "A text."})
				b.send("init", "initialize", initParams)
				if tt.want > 0 {
					time.Sleep(tt.want - time.Millisecond)
					synctest.Wait()
					if b.answer("init") != nil {
						t.Fatalf("initialize answered at %s, before %s", b.since(), tt.want)
					}
					time.Sleep(time.Millisecond)
				}
				synctest.Wait()
				if got := instructionsOf(t, b.answer("init")); !strings.Contains(got, "A text.") {
					t.Errorf("initialize at %s: instructions %q, want a's", b.since(), got)
				}
			})
		})
	}
}

// A 2026-07-28 client's server/discover carries the same instructions. It
// waits for handshakes at most 1s: the client falls back to initialize if
// discover is slow.
func TestDiscoverCarriesInstructions(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := openBubble(t, proxy.Options{}, map[string]string{"a": "", "silent": ""})
		b.srv.UpstreamHandshake("a", upstream.Handshake{Instructions: "A text."})
		b.send("d", "server/discover", `{`+statelessMeta+`}`)
		time.Sleep(time.Second - time.Millisecond)
		synctest.Wait()
		if b.answer("d") != nil {
			t.Fatalf("server/discover answered at %s, before its 1s bound", b.since())
		}
		time.Sleep(time.Millisecond)
		synctest.Wait()
		if got := instructionsOf(t, b.answer("d")); !strings.Contains(got, "## a__ tools\n\nA text.") {
			t.Errorf("server/discover at %s = %s, want a's instructions", b.since(), b.answer("d"))
		}
	})
}
