package proxy_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/mcpmux/mcpmux/proxy"
	"github.com/mcpmux/mcpmux/registry"
)

// catalogue returns servers upstreams' catalogues holding tools tools in
// all, in the shape real servers send: the golden set's definitions
// (proxy/search/testdata), renamed, with words of a vocabulary of their
// own in descriptions and a schema of three described parameters.
func syntheticCatalogues(tb testing.TB, servers, tools int) (*registry.Config, map[string]*registry.Catalogue) {
	tb.Helper()
	data, err := os.ReadFile("search/testdata/toolsearch-golden.json")
	if err != nil {
		tb.Fatal(err)
	}
	var g struct {
		Servers []struct {
			Tools []struct{ Name, Description string }
		}
	}
	if err := json.Unmarshal(data, &g); err != nil {
		tb.Fatal(err)
	}
	var base []struct{ Name, Description string }
	for _, s := range g.Servers {
		base = append(base, s.Tools...)
	}
	r := rand.New(rand.NewPCG(1, 2))
	word := func() string { return fmt.Sprintf("w%cq%d", 'a'+rune(r.IntN(26)), r.IntN(800)) }
	entries := map[string]any{}
	cats := map[string]*registry.Catalogue{}
	for s := range servers {
		name := fmt.Sprintf("s%02d", s)
		entries[name] = map[string]any{"command": "x"}
		cats[name] = &registry.Catalogue{Capabilities: json.RawMessage(`{"tools":{}}`), ServerInfo: json.RawMessage(`{"name":"` + name + `","version":"1"}`),
			Instructions: "Tools for " + word() + " and " + word() + "."}
	}
	for i := range tools {
		b := base[i%len(base)]
		def, _ := json.Marshal(map[string]any{
			"name": fmt.Sprintf("%s_%d", b.Name, i), "description": b.Description + " " + word() + " " + word(),
			"inputSchema": map[string]any{"type": "object", "properties": map[string]any{
				"path":  map[string]any{"type": "string", "description": "The path of the " + word()},
				"limit": map[string]any{"type": "integer", "description": "How many " + word() + " to return at most"},
				word():  map[string]any{"type": "boolean", "description": "Whether to include " + word()},
			}, "required": []string{"path"}},
		})
		c := cats[fmt.Sprintf("s%02d", i%servers)]
		c.Tools = append(c.Tools, def)
	}
	file, _ := json.Marshal(map[string]any{"mcpServers": entries})
	cfg, err := registry.Parse(file, nil)
	if err != nil {
		tb.Fatal(err)
	}
	return cfg, cats
}

// newLoadedServer returns a proxy.Server in mode with the catalogues, its
// upstreams answering at once.
func newLoadedServer(tb testing.TB, mode string, cfg *registry.Config, cats map[string]*registry.Catalogue) *proxy.Server {
	tb.Helper()
	srv := proxy.New(proxy.Options{})
	for name, s := range cfg.Servers {
		srv.AddUpstream(s, &seen{})
		_ = name
	}
	srv.SetToolMode(proxy.ToolMode{Mode: mode})
	srv.SetCached(cats)
	return srv
}

// BenchmarkSearchTools measures search_tools through mcpmux over 10,000
// tools of 70 servers, against a plain tools/call in the same session
// (answered at once by an in-process upstream), interleaved.
func BenchmarkSearchTools(b *testing.B) {
	cfg, cats := syntheticCatalogues(b, 70, 10000)
	srv := newLoadedServer(b, registry.ToolModeSearch, cfg, cats)
	clientIn, out := io.Pipe()
	in, clientOut := io.Pipe()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { _ = srv.Serve(ctx, in, out); close(done) }()
	b.Cleanup(func() { clientOut.Close(); cancel(); <-done; out.Close() })
	rd := bufio.NewReaderSize(clientIn, 1<<20)
	roundTrip := func(line string) {
		if _, err := io.WriteString(clientOut, line+"\n"); err != nil {
			b.Fatal(err)
		}
		if _, err := rd.ReadBytes('\n'); err != nil {
			b.Fatal(err)
		}
	}
	roundTrip(`{"jsonrpc":"2.0","id":"i","method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"bench","version":"1"}}}`)
	queries := []string{"read the contents of a file", "list the branches of the repository", "delete stored records", "what time is it in Tokyo", "create a new table in the database", "读取文件内容"}
	var search, plain time.Duration
	n := 0
	for b.Loop() {
		q, _ := json.Marshal(queries[n%len(queries)])
		start := time.Now()
		roundTrip(`{"jsonrpc":"2.0","id":` + strconv.Itoa(2*n) + `,"method":"tools/call","params":{"name":"search_tools","arguments":{"query":` + string(q) + `}}}`)
		search += time.Since(start)
		start = time.Now()
		roundTrip(`{"jsonrpc":"2.0","id":` + strconv.Itoa(2*n+1) + `,"method":"tools/call","params":{"name":"s00__fetch_0","arguments":{}}}`)
		plain += time.Since(start)
		n++
	}
	b.ReportMetric(float64(search.Microseconds())/float64(n), "search_µs")
	b.ReportMetric(float64(plain.Microseconds())/float64(n), "plain_call_µs")
	b.ReportMetric(float64(search-plain)/float64(n)/1e3, "search_extra_µs")
}

// BenchmarkIndexBuild measures merging 10,000 tools of 70 servers in
// search mode (the index built as they arrive) against full mode.
func BenchmarkIndexBuild(b *testing.B) {
	cfg, cats := syntheticCatalogues(b, 70, 10000)
	var full, search time.Duration
	n := 0
	for b.Loop() {
		start := time.Now()
		newLoadedServer(b, registry.ToolModeFull, cfg, cats)
		full += time.Since(start)
		start = time.Now()
		newLoadedServer(b, registry.ToolModeSearch, cfg, cats)
		search += time.Since(start)
		n++
	}
	b.ReportMetric(float64(full.Milliseconds())/float64(n), "full_ms")
	b.ReportMetric(float64(search.Milliseconds())/float64(n), "search_ms")
	b.ReportMetric(float64(search-full)/float64(n)/1e6, "index_ms")
}

// TestSearchModeListSize holds tools/list in search mode to at most 5%
// of full mode's bytes for a catalogue like that of 70 real servers (527
// tools).
func TestSearchModeListSize(t *testing.T) {
	cfg, cats := syntheticCatalogues(t, 70, 527)
	size := func(mode string) int {
		srv := newLoadedServer(t, mode, cfg, cats)
		clientIn, out := io.Pipe()
		in, clientOut := io.Pipe()
		done := make(chan struct{})
		go func() { _ = srv.Serve(context.Background(), in, out); close(done) }()
		defer func() { clientOut.Close(); <-done; out.Close() }()
		rd := bufio.NewReaderSize(clientIn, 1<<20)
		io.WriteString(clientOut, `{"jsonrpc":"2.0","id":1,"method":"tools/list"}`+"\n")
		line, err := rd.ReadBytes('\n')
		if err != nil {
			t.Fatal(err)
		}
		go io.Copy(io.Discard, rd)
		return len(line)
	}
	full, search := size(registry.ToolModeFull), size(registry.ToolModeSearch)
	t.Logf("tools/list of 527 tools: full %d bytes, search %d bytes (%.2f%%)", full, search, 100*float64(search)/float64(full))
	if float64(search) > 0.05*float64(full) {
		t.Errorf("tools/list in search mode is %d bytes, more than 5%% of full mode's %d", search, full)
	}
}
