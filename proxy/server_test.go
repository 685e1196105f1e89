package proxy_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mcpmux/mcpmux/internal/testutil"
	"github.com/mcpmux/mcpmux/proxy"
)

func TestToolsMergedFromHealthyUpstreamsDespiteBrokenOnes(t *testing.T) {
	hung := testutil.TestServer(t, "-hang-initialize")
	hung["startTimeout"] = "2s"
	m := startMux(t, map[string]any{
		"alpha":   testutil.TestServer(t, "-name", "alpha"),
		"odd":     testutil.TestServer(t, "-name", "odd", "-odd-names"),
		"noisy":   testutil.TestServer(t, "-name", "noisy", "-garbage", "-stderr-chatter"),
		"missing": map[string]any{"command": "/nonexistent/mcp-server"},
		"crashy":  testutil.TestServer(t, "-crash-on-start"),
		"hung":    hung,
	})
	// The first list waits for every upstream to deliver or fail; the hung
	// one holds it up for its start timeout only.
	tools := m.tools()
	for _, want := range []string{"alpha__echo", "odd__echo", "noisy__echo"} {
		if tools[want] == nil {
			t.Errorf("first tools/list lacks %s", want)
		}
	}

	for name := range tools {
		if !proxy.ValidName(name) {
			t.Errorf("exposed name %q is not valid for clients", name)
		}
	}
	for _, server := range []string{"alpha", "odd", "noisy"} {
		if got := text(t, m.call(server+"__whoami", nil)); got != server {
			t.Errorf("%s__whoami answered by %q, want %q", server, got, server)
		}
	}
	// The odd names are all exposed, distinct, and each reaches its own tool.
	originals := map[string]bool{}
	for name := range tools {
		standard := tools["alpha__"+strings.TrimPrefix(name, "odd__")] != nil
		if !strings.HasPrefix(name, "odd__") || standard {
			continue
		}
		got := text(t, m.call(name, map[string]any{"message": "x"}))
		originals[got] = true
	}
	for _, want := range []string{"get weather (beta)", "fs.read/file", "créer_événement", strings.Repeat("a", 100), "emoji_🚀"} {
		if !originals[want] {
			t.Errorf("no exposed tool reached the upstream tool %q (reached: %v)", want, originals)
		}
	}
}

func TestToolListedByteForByte(t *testing.T) {
	m := startMux(t, map[string]any{"alpha": testutil.TestServer(t, "-name", "alpha")})
	got := m.waitTools("alpha__echo")["alpha__echo"]

	var list struct{ Tools []json.RawMessage }
	if err := json.Unmarshal(rawRequest(t, direct(t, "-name", "alpha"), "tools/list", nil), &list); err != nil {
		t.Fatal(err)
	}
	for _, want := range list.Tools {
		if !bytes.Contains(want, []byte(`"name":"echo"`)) {
			continue
		}
		want = bytes.Replace(want, []byte(`"name":"echo"`), []byte(`"name":"alpha__echo"`), 1)
		if !bytes.Equal(got, want) {
			t.Fatalf("tool through mcpmux differs from the upstream's:\n got %s\nwant %s", got, want)
		}
		return
	}
	t.Fatal("upstream lists no echo tool")
}

func TestCallResultsPassUnchanged(t *testing.T) {
	m := startMux(t, map[string]any{"alpha": testutil.TestServer(t, "-name", "alpha")})
	m.waitTools("alpha__weird_content")
	d := direct(t, "-name", "alpha")
	for _, tc := range []struct {
		name string
		args map[string]any
	}{
		{"weird_content", nil},
		{"echo", map[string]any{"message": "héllo <&> 🚀"}},
		{"fail", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := m.call("alpha__"+tc.name, tc.args)
			want := rawRequest(t, d, "tools/call", map[string]any{"name": tc.name, "arguments": tc.args})
			if !bytes.Equal(got, want) {
				t.Errorf("result through mcpmux differs:\n got %s\nwant %s", truncate(got), truncate(want))
			}
		})
	}
}

func TestCallArgumentsAndMetaReachUpstreamUnchanged(t *testing.T) {
	log := filepath.Join(t.TempDir(), "seen.jsonl")
	m := startMux(t, map[string]any{"alpha": testutil.TestServer(t, "-name", "alpha", "-log-file", log)})
	m.waitTools("alpha__echo")
	params := json.RawMessage(`{"name":"alpha__echo","arguments":{"message":"m","nested":{"big":12345678901234567890,"f":1.50}},"_meta":{"com.example/trace":"abc","progressToken":7}}`)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, rpcErr, err := m.request(ctx, "tools/call", params); err != nil || rpcErr != nil {
		t.Fatalf("tools/call = %v %+v", err, rpcErr)
	}
	seen, err := os.ReadFile(log)
	if err != nil {
		t.Fatal(err)
	}
	want := `"arguments":{"message":"m","nested":{"big":12345678901234567890,"f":1.50}},"_meta":{"com.example/trace":"abc","progressToken":7}`
	if !bytes.Contains(seen, []byte(`"name":"echo"`)) || !bytes.Contains(seen, []byte(want)) {
		t.Errorf("upstream saw:\n%s\nwant the original name and, unchanged,\n%s", seen, want)
	}
}

func TestUnknownToolNamed(t *testing.T) {
	m := startMux(t, map[string]any{"alpha": testutil.TestServer(t, "-name", "alpha")})
	m.waitTools("alpha__echo")
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_, rpcErr, err := m.request(ctx, "tools/call", map[string]any{"name": "nope__x"})
	if err != nil || rpcErr == nil || !strings.Contains(rpcErr.Message, `"nope__x"`) {
		t.Fatalf("tools/call nope__x = %v %+v, want an error naming the tool", err, rpcErr)
	}
}

func TestTimeoutCancelsUpstreamRequest(t *testing.T) {
	log := filepath.Join(t.TempDir(), "seen.jsonl")
	slow := testutil.TestServer(t, "-name", "slow", "-log-file", log)
	slow["timeout"] = "300ms"
	m := startMux(t, map[string]any{"slow": slow})
	m.waitTools("slow__slow")

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	start := time.Now()
	_, rpcErr, err := m.request(ctx, "tools/call", map[string]any{"name": "slow__slow", "arguments": map[string]any{"ms": 10000}})
	if err != nil || rpcErr == nil || !strings.Contains(rpcErr.Message, "within 300ms") || !strings.Contains(rpcErr.Message, `"slow"`) {
		t.Fatalf("slow call = %v %+v, want a timeout error naming the server", err, rpcErr)
	}
	if took := time.Since(start); took > 3*time.Second {
		t.Errorf("timeout took %s, want about 300ms", took)
	}
	testutil.WaitFor(t, "upstream to see one cancellation", func() bool { return testutil.CountInFile(log, "notifications/cancelled") == 1 })
}

func TestSlowCallDelaysNoOther(t *testing.T) {
	seen := filepath.Join(t.TempDir(), "seen.jsonl")
	m := startMux(t, map[string]any{"a": testutil.TestServer(t, "-name", "a", "-log-file", seen), "b": testutil.TestServer(t, "-name", "b")})
	m.waitTools("a__slow", "b__echo")
	slowDone := make(chan struct{})
	go func() {
		defer close(slowDone)
		m.call("a__slow", map[string]any{"ms": 3000})
	}()
	testutil.WaitFor(t, "the slow call to reach a", func() bool { return testutil.CountInFile(seen, `"name":"slow"`) == 1 })
	var wg sync.WaitGroup
	for i := range 40 {
		wg.Go(func() {
			server := []string{"a", "b"}[i%2]
			if got := text(t, m.call(server+"__echo", map[string]any{"message": fmt.Sprint(i)})); got != fmt.Sprint(i) {
				t.Errorf("echo %d = %q", i, got)
			}
		})
	}
	fast := make(chan struct{})
	go func() { wg.Wait(); close(fast) }()
	select {
	case <-fast:
	case <-slowDone:
		t.Fatal("the slow call finished before 40 quick calls did: calls were serialised")
	}
	<-slowDone
}

func TestDeadUpstreamFailsCallFast(t *testing.T) {
	m := startMux(t, map[string]any{"a": testutil.TestServer(t, "-name", "a"), "b": testutil.TestServer(t, "-name", "b")})
	m.waitTools("a__crash", "b__echo")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	start := time.Now()
	_, rpcErr, err := m.request(ctx, "tools/call", map[string]any{"name": "a__crash"})
	if err != nil || rpcErr == nil || !strings.Contains(rpcErr.Message, `upstream "a"`) || !strings.Contains(rpcErr.Message, "exit status 3") {
		t.Fatalf("call to a crashing tool = %v %+v, want an error naming the server and the exit", err, rpcErr)
	}
	if took := time.Since(start); took > time.Second {
		t.Errorf("the error took %s, want under 1s", took)
	}
	if got := text(t, m.call("b__echo", map[string]any{"message": "still here"})); got != "still here" {
		t.Errorf("b__echo = %q after a crashed", got)
	}
	// The next call reconnects on use and succeeds.
	if got := text(t, m.call("a__whoami", nil)); got != "a" {
		t.Errorf("a__whoami after reconnect = %q", got)
	}
}

func TestLargeResultPasses(t *testing.T) {
	m := startMux(t, map[string]any{"a": testutil.TestServer(t, "-name", "a", "-garbage")})
	m.waitTools("a__big")
	res := m.call("a__big", map[string]any{"bytes": 12 << 20})
	if got := len(text(t, res)); got != 12<<20 {
		t.Errorf("big result text is %d bytes, want %d", got, 12<<20)
	}
}
