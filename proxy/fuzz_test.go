package proxy_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mcpmux/mcpmux/internal/jsonrpc"
	"github.com/mcpmux/mcpmux/proxy"
	"github.com/mcpmux/mcpmux/registry"
)

// seen is an upstream that answers everything at once and keeps what it
// was asked: the narrow seam through which the fuzz target watches what
// reaches an upstream.
type seen struct {
	mu    sync.Mutex
	calls []json.RawMessage // params of tools/call and prompts/get
}

func (s *seen) Request(_ context.Context, method string, params json.RawMessage) (json.RawMessage, error) {
	if method == "tools/call" || method == "prompts/get" || method == "completion/complete" {
		s.mu.Lock()
		s.calls = append(s.calls, params)
		s.mu.Unlock()
	}
	return json.RawMessage(`{"content":[]}`), nil
}

func (s *seen) Notify(context.Context, string, json.RawMessage) error { return nil }

// clientSeeds are lines a hostile client sends: duplicate members, case
// variants, escaped names and big integers, at every level mcpmux routes by.
var clientSeeds = []string{
	`{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"a__echo","arguments":{"name":"x"}}}`,
	`{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"a__echo","name":"secret"}}`,
	`{"jsonrpc":"2.0","id":3,"method":"tools/call","params":{"name":"a__echo","NAME":"secret"}}`,
	`{"jsonrpc":"2.0","id":4,"method":"tools/call","params":{"Name":"a__secret"}}`,
	`{"jsonrpc":"2.0","id":5,"method":"tools/call","params":{"na\u006de":"a__echo","name":"secret"}}`,
	`{"jsonrpc":"2.0","id":6,"method":"prompts/get","params":{"name":"a__greet","name":"hidden"}}`,
	`{"jsonrpc":"2.0","id":7,"method":"completion/complete","params":{"ref":{"type":"ref/prompt","name":"a__greet","NAME":"hidden"}}}`,
	`{"jsonrpc":"2.0","id":8,"method":"tools/call","params":{"name":"a__echo","_meta":{"progressToken":9007199254740993,"progressToken":1}}}`,
	`{"jsonrpc":"2.0","id":9007199254740993,"method":"ping"}`,
	`{"jsonrpc":"2.0","id":10,"method":"tools/call","params":{"name":"a__echo"},"params":{"name":"secret"}}`,
	`{"jsonrpc":"2.0","method":"notifications/cancelled","params":{"requestId":1,"requestId":2}}`,
	`[{"jsonrpc":"2.0","id":11,"method":"ping"}]`, `{}`, `null`, `{"jsonrpc":"2.0","id":null,"method":"ping"}`,
}

// FuzzClientMessages feeds the client message reader any line (or lines)
// after a handshake, and checks that whatever it is: every line mcpmux
// writes is a JSON-RPC 2.0 message, and an upstream receives only the
// tool and prompt names mcpmux resolved, however a case-insensitive or a
// case-sensitive decoder reads them: never a hidden tool's.
func FuzzClientMessages(f *testing.F) {
	for _, s := range clientSeeds {
		f.Add([]byte(s))
	}
	data, _ := json.Marshal(map[string]any{"mcpServers": map[string]any{
		"a": map[string]any{"command": "x", "tools": map[string]any{"deny": []string{"secret"}}},
	}})
	cfg, err := registry.Parse(data, nil)
	if err != nil {
		f.Fatal(err)
	}
	up := &seen{}
	srv := proxy.New(proxy.Options{})
	srv.AddUpstream(cfg.Servers["a"], up)
	srv.SetCatalogue("a", &registry.Catalogue{
		Capabilities: json.RawMessage(`{"tools":{},"prompts":{},"completions":{}}`),
		Tools:        []json.RawMessage{json.RawMessage(`{"name":"echo","inputSchema":{"type":"object"}}`), json.RawMessage(`{"name":"secret","inputSchema":{"type":"object"}}`)},
		Prompts:      []json.RawMessage{json.RawMessage(`{"name":"greet"}`)},
	})
	handshake := `{"jsonrpc":"2.0","id":"init","method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"fuzz","version":"1"}}}` + "\n" +
		`{"jsonrpc":"2.0","method":"notifications/initialized"}` + "\n"
	f.Fuzz(func(t *testing.T, input []byte) {
		up.mu.Lock()
		up.calls = nil
		up.mu.Unlock()
		var out bytes.Buffer
		in := strings.NewReader(handshake + string(input) + "\n")
		if err := srv.Serve(context.Background(), in, &syncWriter{w: &out}); err != nil {
			t.Fatalf("Serve = %v", err)
		}
		sc := bufio.NewScanner(&out)
		sc.Buffer(nil, 1<<24)
		for sc.Scan() {
			if _, err := jsonrpc.Decode(sc.Bytes()); err != nil {
				t.Fatalf("after %q mcpmux wrote %q: %v", input, sc.Bytes(), err)
			}
		}
		up.mu.Lock()
		defer up.mu.Unlock()
		for _, params := range up.calls {
			checkResolved(t, input, params)
		}
	})
}

// checkResolved fails t unless both a case-insensitive decoder (Go's) and
// a case-sensitive one (JavaScript's, as a map) read, in params an
// upstream received, a name mcpmux can have resolved.
func checkResolved(t *testing.T, input, params []byte) {
	t.Helper()
	var folded struct {
		Name string `json:"name"`
		Ref  struct {
			Name string `json:"name"`
		} `json:"ref"`
	}
	var exact map[string]json.RawMessage
	if json.Unmarshal(params, &folded) != nil || json.Unmarshal(params, &exact) != nil {
		t.Fatalf("after %q the upstream received params that do not decode: %s", input, params)
	}
	name := folded.Name
	var exactName string
	_ = json.Unmarshal(exact["name"], &exactName)
	if ref, ok := exact["ref"]; ok {
		name = folded.Ref.Name
		var r map[string]json.RawMessage
		_ = json.Unmarshal(ref, &r)
		_ = json.Unmarshal(r["name"], &exactName)
	}
	if name != exactName || (name != "echo" && name != "greet") {
		t.Fatalf("after %q the upstream received %s: Go reads name %q, JavaScript %q", input, params, name, exactName)
	}
}

// syncWriter serialises writes from the session's goroutines. If
// answered is not nil, it is closed once a response to the request of id 1
// is written.
type syncWriter struct {
	mu       sync.Mutex
	w        *bytes.Buffer
	answered chan struct{}
}

func (s *syncWriter) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.answered != nil {
		for line := range bytes.Lines(p) {
			if m, err := jsonrpc.Decode(bytes.TrimSpace(line)); err == nil && m.IsResponse() && string(m.ID) == "1" {
				close(s.answered)
				s.answered = nil
				break
			}
		}
	}
	return s.w.Write(p)
}

// FuzzCallToolName calls call_tool, in search mode, with any name and
// arguments: every line mcpmux writes is a JSON-RPC message, and the
// upstream receives only a tool mcpmux resolved, never a filtered one.
func FuzzCallToolName(f *testing.F) {
	for _, seed := range [][2]string{
		{"a__echo", `{"x":1}`}, {"a/echo", ``}, {"a:echo", `null`}, {"a__secret", `{}`}, {"a/secret", `{}`},
		{"a:secret", `[]`}, {"call_tool", `{}`}, {"search_tools", `{"query":"echo"}`}, {"describe_tools", `{"names":["a/echo"]}`},
		{"", `{}`}, {"/", ``}, {":", ``}, {"a/", ``}, {"/echo", ``}, {"A__ECHO", ``}, {"a__echo\u0000", `{}`},
	} {
		f.Add(seed[0], seed[1])
	}
	data, _ := json.Marshal(map[string]any{"toolMode": "search", "mcpServers": map[string]any{
		"a": map[string]any{"command": "x", "tools": map[string]any{"deny": []string{"secret"}}},
	}})
	cfg, err := registry.Parse(data, nil)
	if err != nil {
		f.Fatal(err)
	}
	up := &seen{}
	srv := proxy.New(proxy.Options{})
	srv.AddUpstream(cfg.Servers["a"], up)
	srv.SetToolMode(proxy.ToolMode{Mode: cfg.Mode()})
	srv.SetCatalogue("a", &registry.Catalogue{
		Capabilities: json.RawMessage(`{"tools":{}}`),
		Tools:        []json.RawMessage{json.RawMessage(`{"name":"echo","inputSchema":{"type":"object"}}`), json.RawMessage(`{"name":"secret","inputSchema":{"type":"object"}}`)},
	})
	handshake := `{"jsonrpc":"2.0","id":"init","method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"fuzz","version":"1"}}}` + "\n" +
		`{"jsonrpc":"2.0","method":"notifications/initialized"}` + "\n"
	f.Fuzz(func(t *testing.T, name, args string) {
		up.mu.Lock()
		up.calls = nil
		up.mu.Unlock()
		inner := `{"name":` + string(jsonrpc.Quote(name))
		var compact bytes.Buffer
		if args != "" && json.Compact(&compact, []byte(args)) == nil {
			inner += `,"arguments":` + compact.String() // on one line, as stdio's messages are
		}
		line := `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"call_tool","arguments":` + inner + `}}}`
		// The input stays open until the call is answered, as a client's
		// would: its end cancels the requests still in flight (see Serve).
		var out bytes.Buffer
		answer := make(chan struct{})
		w := &syncWriter{w: &out, answered: answer}
		in, feed := io.Pipe()
		served := make(chan struct{})
		fed := make(chan struct{})
		go func() {
			defer close(fed)
			io.WriteString(feed, handshake+line+"\n")
			select {
			case <-answer:
			case <-served:
			case <-time.After(time.Minute):
				t.Errorf("call_tool %q %s was not answered in a minute", name, args)
			}
			feed.Close()
		}()
		err := srv.Serve(context.Background(), in, w)
		close(served)
		in.Close()
		<-fed
		if err != nil {
			t.Fatalf("Serve = %v", err)
		}
		sc := bufio.NewScanner(&out)
		sc.Buffer(nil, 1<<24)
		answered := 0
		for sc.Scan() {
			m, err := jsonrpc.Decode(sc.Bytes())
			if err != nil {
				t.Fatalf("after call_tool %q mcpmux wrote %q: %v", name, sc.Bytes(), err)
			}
			if string(m.ID) == "1" {
				answered++
			}
		}
		if answered != 1 {
			t.Fatalf("call_tool %q %s was answered %d times", name, args, answered)
		}
		up.mu.Lock()
		defer up.mu.Unlock()
		for _, params := range up.calls {
			checkResolved(t, []byte(line), params)
		}
	})
}
