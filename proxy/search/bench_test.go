package search

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"runtime"
	"strings"
	"testing"
)

// synthetic returns n tool definitions in the shape real servers send:
// the golden set's descriptions with words of a vocabulary of their own,
// and a schema of three described parameters; and the servers' texts.
func synthetic(tb testing.TB, n int) []Doc {
	docs, _ := syntheticJSON(tb, n)
	return docs
}

// syntheticJSON is synthetic with the tools' definitions as JSON.
func syntheticJSON(tb testing.TB, n int) ([]Doc, []json.RawMessage) {
	tb.Helper()
	_, g := loadGolden(tb)
	var base []json.RawMessage
	for _, s := range g.Servers {
		base = append(base, s.Tools...)
	}
	r := rand.New(rand.NewPCG(1, 2))
	word := func() string { return fmt.Sprintf("w%cq%d", 'a'+rune(r.IntN(26)), r.IntN(800)) }
	docs := make([]Doc, n)
	raws := make([]json.RawMessage, n)
	serverText := map[string]string{} // one per server, as the proxy gives it
	for i := range docs {
		var t struct{ Name, Description string }
		_ = json.Unmarshal(base[i%len(base)], &t)
		server := fmt.Sprintf("server%d", i/15)
		name := fmt.Sprintf("%s_%s", t.Name, word())
		desc := t.Description + " " + word() + " " + word() + " " + word()
		raw, _ := json.Marshal(map[string]any{
			"name": name, "description": desc,
			"inputSchema": map[string]any{"type": "object", "properties": map[string]any{
				"path":  map[string]any{"type": "string", "description": "The path of the " + word()},
				"limit": map[string]any{"type": "integer", "description": "How many " + word() + " to return at most"},
				word():  map[string]any{"type": "boolean", "description": "Whether to include " + word()},
			}, "required": []string{"path"}},
		})
		tt := ParseTool(raw)
		d := Doc{Name: server + "__" + name, Server: server, Tool: name}
		d.Text[FieldTitle], d.Text[FieldDescription], d.Text[FieldParams] = tt.Title, tt.Description, tt.Params
		if serverText[server] == "" {
			serverText[server] = server + " A server of tools for " + word() + " and " + word()
		}
		d.Text[FieldServer] = serverText[server]
		docs[i], raws[i] = d, raw
	}
	return docs, raws
}

// BenchmarkBuild10k builds the index of 10,000 tools; besides the wall
// time it reports the process's CPU time per build (cpu_ms, see
// cpuSeconds), which a loaded machine inflates less.
func BenchmarkBuild10k(b *testing.B) {
	docs := synthetic(b, 10000)
	cpu := cpuSeconds()
	b.ResetTimer()
	for range b.N {
		New().PutAll(docs)
	}
	b.ReportMetric((cpuSeconds()-cpu)*1e3/float64(b.N), "cpu_ms")
}

// BenchmarkBuild10kFromJSON is what the proxy does to index 10,000 tools:
// read each definition (ParseTool) and build the index.
func BenchmarkBuild10kFromJSON(b *testing.B) {
	docs, raws := syntheticJSON(b, 10000)
	cpu := cpuSeconds()
	b.ResetTimer()
	for range b.N {
		batch := make([]Doc, len(docs))
		for i, raw := range raws {
			t := ParseTool(raw)
			d := Doc{Name: docs[i].Name, Server: docs[i].Server, Tool: docs[i].Tool}
			d.Text[FieldTitle], d.Text[FieldDescription], d.Text[FieldParams] = t.Title, t.Description, t.Params
			d.Text[FieldServer] = docs[i].Text[FieldServer]
			batch[i] = d
		}
		New().PutAll(batch)
	}
	b.ReportMetric((cpuSeconds()-cpu)*1e3/float64(b.N), "cpu_ms")
}

// BenchmarkBuild10kOneByOne builds the same index with Put, one tool at
// a time.
func BenchmarkBuild10kOneByOne(b *testing.B) {
	docs := synthetic(b, 10000)
	cpu := cpuSeconds()
	b.ResetTimer()
	for range b.N {
		x := New()
		for _, d := range docs {
			x.Put(d)
		}
	}
	b.ReportMetric((cpuSeconds()-cpu)*1e3/float64(b.N), "cpu_ms")
}

func BenchmarkSearch10k(b *testing.B) {
	docs := synthetic(b, 10000)
	x := New()
	for _, d := range docs {
		x.Put(d)
	}
	queries := []string{
		"read the contents of a file", "list the branches of the repository", "delete stored records",
		"what time is it in Tokyo", "create a new table in the database", "读取文件内容",
	}
	cpu := cpuSeconds()
	b.ResetTimer()
	for i := range b.N {
		x.Search(queries[i%len(queries)], 5, "")
	}
	b.ReportMetric((cpuSeconds()-cpu)*1e6/float64(b.N), "cpu_us")
}

// TestIndexSize reports the index's memory against the catalogue's own
// size (its tools' JSON) for 10,000 tools.
func TestIndexSize(t *testing.T) {
	if testing.Short() {
		t.Skip("builds 10,000 tools")
	}
	docs := synthetic(t, 10000)
	catalogue := 0
	for _, d := range docs {
		catalogue += len(d.Name) + len(d.Text[FieldDescription]) + len(d.Text[FieldParams]) + 200 // the schema's JSON around them
	}
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	x := New()
	for _, d := range docs {
		x.Put(d)
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	size := int(after.HeapAlloc - before.HeapAlloc)
	runtime.KeepAlive(x)
	t.Logf("index of 10,000 tools: %d bytes; catalogue about %d bytes (%.2fx)", size, catalogue, float64(size)/float64(catalogue))
	_ = strings.ToLower
}
