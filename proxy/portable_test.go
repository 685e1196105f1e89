package proxy_test

import (
	"context"
	"encoding/json"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/mcpmux/mcpmux/internal/testutil"
	"github.com/mcpmux/mcpmux/proxy"
)

// lines is a proxy.Sink that keeps what it is sent.
type lines struct {
	mu  sync.Mutex
	all []string
}

func (l *lines) Send(_ json.RawMessage, _ bool, msg []byte) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.all = append(l.all, string(msg))
}

func (l *lines) count(sub string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := 0
	for _, m := range l.all {
		if strings.Contains(m, sub) {
			n++
		}
	}
	return n
}

// TestResume: a session resumed from the state another replica sealed
// (see proxy/httpserve) is initialized with the client's capabilities,
// subscribes again at the upstream that serves its resources, passes on
// its log level, and, told to, announces one list_changed per list kind.
func TestResume(t *testing.T) {
	log := filepath.Join(t.TempDir(), "seen.jsonl")
	m := startMux(t, map[string]any{"b": testutil.TestServer(t, "-name", "b", "-log-file", log)})
	m.waitTools("b__echo")
	sink := &lines{}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ps, err := m.srv.Open(ctx, "resumed-1", sink)
	if err != nil {
		t.Fatal(err)
	}
	defer ps.Close()
	if err := ps.Resume(proxy.Resumed{Protocol: "2025-11-25", Capabilities: json.RawMessage(`{"sampling":{}`)}); err == nil {
		t.Fatal("Resume took capabilities that do not decode")
	}
	err = ps.Resume(proxy.Resumed{
		Protocol:     "2025-11-25",
		ClientInfo:   json.RawMessage(`{"name":"far","version":"1"}`),
		Capabilities: json.RawMessage(`{"sampling":{}}`),
		Subscribed:   []string{"test://b/res/0"},
		LogLevel:     "debug",
	})
	if err != nil {
		t.Fatal(err)
	}
	if ps.ProtocolVersion() != "2025-11-25" || ps.LogLevel() != "debug" {
		t.Errorf("resumed: protocol %q, level %q", ps.ProtocolVersion(), ps.LogLevel())
	}
	testutil.WaitFor(t, "the subscription at the upstream", func() bool {
		return testutil.CountInFile(log, `"resources/subscribe"`) == 1 && slices.Equal(ps.Subscribed(), []string{"test://b/res/0"})
	})
	testutil.WaitFor(t, "the log level at the upstream", func() bool { return testutil.CountInFile(log, `"logging/setLevel"`) == 1 })
	testutil.WaitFor(t, "the resource's update", func() bool { return sink.count(`"notifications/resources/updated"`) == 1 })

	// The session answers requests without a handshake.
	ps.Handle([]byte(`{"jsonrpc":"2.0","id":1,"method":"tools/list"}` + "\n"))
	testutil.WaitFor(t, "tools/list's answer", func() bool { return sink.count(`"b__echo"`) == 1 })

	ps.Relist()
	for _, kind := range []string{"tools", "prompts", "resources"} {
		method := `"notifications/` + kind + `/list_changed"`
		testutil.WaitFor(t, method, func() bool { return sink.count(method) >= 1 })
		if n := sink.count(method); n != 1 {
			t.Errorf("%s sent %d times, want once", method, n)
		}
	}
}
