package bleveeval

import (
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"regexp"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/blevesearch/bleve/v2"
	_ "github.com/blevesearch/bleve/v2/analysis/analyzer/custom"
	"github.com/blevesearch/bleve/v2/analysis/lang/cjk"
	"github.com/blevesearch/bleve/v2/analysis/lang/en"
	"github.com/blevesearch/bleve/v2/analysis/token/lowercase"
	"github.com/blevesearch/bleve/v2/analysis/token/porter"
	"github.com/blevesearch/bleve/v2/analysis/tokenizer/unicode"
	"github.com/blevesearch/bleve/v2/mapping"
	bquery "github.com/blevesearch/bleve/v2/search/query"
	index "github.com/blevesearch/bleve_index_api"

	"github.com/mcpmux/mcpmux/proxy/search"
)

// set is a set of servers and graded queries (proxy/search/testdata).
type set struct {
	Servers []struct {
		Key, Title, Instructions string
		Tools                    []json.RawMessage
	}
	Queries, Holdout []query
}

type query struct {
	Query  string
	Labels map[string]int
}

func load(tb testing.TB, name string) *set {
	tb.Helper()
	data, err := os.ReadFile("../../testdata/" + name)
	if err != nil {
		tb.Fatal(err)
	}
	var s set
	if err := json.Unmarshal(data, &s); err != nil {
		tb.Fatal(err)
	}
	return &s
}

// docs returns the set's tools as the proxy indexes them.
func (s *set) docs(tb testing.TB) []search.Doc {
	var out []search.Doc
	for _, srv := range s.Servers {
		for _, raw := range srv.Tools {
			var t struct{ Name string }
			if err := json.Unmarshal(raw, &t); err != nil {
				tb.Fatal(err)
			}
			tt := search.ParseTool(raw)
			d := search.Doc{Name: srv.Key + "__" + t.Name, Server: srv.Key, Tool: t.Name}
			d.Text[search.FieldTitle], d.Text[search.FieldDescription], d.Text[search.FieldParams] = tt.Title, tt.Description, tt.Params
			d.Text[search.FieldServer] = srv.Key + " " + srv.Title + " " + srv.Instructions
			out = append(out, d)
		}
	}
	return out
}

// engine is an index under test.
type engine interface {
	build(docs []search.Doc)
	search(q string, limit int) []search.Hit
}

type ours struct{ x *search.Index }

func (o *ours) build(docs []search.Doc) { o.x = search.New(); o.x.PutAll(docs) }
func (o *ours) search(q string, limit int) []search.Hit {
	return o.x.Search(q, limit, "")
}

// blv is Bleve v2 with BM25 scoring, given the best we could: one field
// per part of a tool with the same weights as ours (as query boosts), an
// analyzer that lower-cases, splits CJK into bigrams, drops English stop
// words and stems (Porter), and names split on camel, snake and kebab
// case beforehand, since its tokenizer keeps get_file_info whole.
type blv struct {
	idx  bleve.Index
	docs map[string]search.Doc
}

var fields = []struct {
	name  string
	field search.Field
	boost float64
}{{"name", search.FieldName, 3}, {"title", search.FieldTitle, 2}, {"description", search.FieldDescription, 1}, {"params", search.FieldParams, 0.5}, {"server", search.FieldServer, 0.4}}

func newBleve() bleve.Index {
	im := bleve.NewIndexMapping()
	im.ScoringModel = index.BM25Scoring
	if err := im.AddCustomAnalyzer("tools", map[string]any{
		"type":          "custom",
		"tokenizer":     unicode.Name,
		"token_filters": []string{cjk.WidthName, lowercase.Name, cjk.BigramName, en.StopName, porter.Name},
	}); err != nil {
		panic(err)
	}
	dm := bleve.NewDocumentMapping()
	for _, f := range fields {
		fm := mapping.NewTextFieldMapping()
		fm.Analyzer = "tools"
		fm.Store, fm.IncludeTermVectors, fm.IncludeInAll = false, false, false
		dm.AddFieldMappingsAt(f.name, fm)
	}
	im.DefaultMapping = dm
	idx, err := bleve.NewMemOnly(im)
	if err != nil {
		panic(err)
	}
	return idx
}

var camel = regexp.MustCompile(`([a-z0-9])([A-Z])`)

func splitName(s string) string {
	s = camel.ReplaceAllString(s, "$1 $2")
	return strings.NewReplacer("_", " ", "-", " ", ".", " ", "/", " ").Replace(s)
}

func (b *blv) build(docs []search.Doc) {
	b.idx = newBleve()
	b.docs = map[string]search.Doc{}
	batch := b.idx.NewBatch()
	for _, d := range docs {
		b.docs[d.Name] = d
		m := map[string]any{}
		for _, f := range fields {
			text := d.Text[f.field]
			if f.field == search.FieldName && text == "" {
				text = splitName(d.Name + " " + d.Tool)
			}
			m[f.name] = text
		}
		if err := batch.Index(d.Name, m); err != nil {
			panic(err)
		}
	}
	if err := b.idx.Batch(batch); err != nil {
		panic(err)
	}
}

func (b *blv) search(q string, limit int) []search.Hit {
	var qs []bquery.Query
	for _, f := range fields {
		m := bleve.NewMatchQuery(q)
		m.SetField(f.name)
		m.SetBoost(f.boost)
		qs = append(qs, m)
	}
	req := bleve.NewSearchRequestOptions(bleve.NewDisjunctionQuery(qs...), limit, 0, false)
	res, err := b.idx.Search(req)
	if err != nil {
		panic(err)
	}
	var out []search.Hit
	for _, h := range res.Hits {
		d := b.docs[h.ID]
		out = append(out, search.Hit{Name: d.Name, Server: d.Server, Tool: d.Tool, Score: h.Score})
	}
	return out
}

// measures are a set's averages over its queries.
type measures struct{ hit5, r5, mrr, ndcg10 float64 }

func evaluate(e engine, qs []query) measures {
	var m measures
	for _, q := range qs {
		hits := e.search(q.Query, 10)
		best, relevant := 0, 0
		var ideal []int
		for _, g := range q.Labels {
			best = max(best, g)
			if g > 0 {
				relevant++
				ideal = append(ideal, g)
			}
		}
		found5, rr, dcg, hit := 0, 0.0, 0.0, false
		for i, h := range hits {
			g := q.Labels[h.Server+":"+h.Tool]
			if g == 0 {
				continue
			}
			if i < 5 {
				found5++
				hit = hit || g == best
			}
			if rr == 0 {
				rr = 1 / float64(i+1)
			}
			dcg += (math.Pow(2, float64(g)) - 1) / math.Log2(float64(i+2))
		}
		for i := range ideal {
			for j := i + 1; j < len(ideal); j++ {
				if ideal[j] > ideal[i] {
					ideal[i], ideal[j] = ideal[j], ideal[i]
				}
			}
		}
		idcg := 0.0
		for i, g := range ideal[:min(10, len(ideal))] {
			idcg += (math.Pow(2, float64(g)) - 1) / math.Log2(float64(i+2))
		}
		if hit {
			m.hit5++
		}
		m.r5 += float64(found5) / float64(relevant)
		m.mrr += rr
		m.ndcg10 += dcg / idcg
	}
	n := float64(len(qs))
	return measures{m.hit5 / n, m.r5 / n, m.mrr / n, m.ndcg10 / n}
}

// TestCompare prints the table: quality on the three sets, then build
// time, search time and memory for 10,000 tools.
func TestCompare(t *testing.T) {
	golden, real := load(t, "toolsearch-golden.json"), load(t, "toolsearch-realworld.json")
	engines := []struct {
		name string
		new  func() engine
	}{{"mcpmux (proxy/search)", func() engine { return &ours{} }}, {"Bleve v2 BM25", func() engine { return &blv{} }}}
	t.Logf("%-22s %-26s %-26s %-26s", "", "golden R@5 / MRR / nDCG", "real-world hit@5 / MRR", "holdout hit@5 / MRR")
	for _, e := range engines {
		g, r := e.new(), e.new()
		g.build(golden.docs(t))
		r.build(real.docs(t))
		mg, mr, mh := evaluate(g, golden.Queries), evaluate(r, real.Queries), evaluate(r, real.Holdout)
		t.Logf("%-22s %.3f / %.3f / %.3f      %.3f / %.3f              %.3f / %.3f", e.name, mg.r5, mg.mrr, mg.ndcg10, mr.hit5, mr.mrr, mh.hit5, mh.mrr)
	}
	docs, size := synthetic(t, golden, 10000)
	queries := []string{"read the contents of a file", "list the branches of the repository", "delete stored records",
		"what time is it in Tokyo", "create a new table in the database", "读取文件内容"}
	t.Logf("10,000 tools (%d bytes of JSON):", size)
	for _, e := range engines {
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		x := e.new()
		builds := 5
		if _, slow := x.(*blv); slow {
			builds = 1
		}
		start := time.Now()
		x.build(docs)
		for range builds - 1 {
			x.build(docs)
		}
		build := time.Since(start) / time.Duration(builds)
		runtime.GC()
		runtime.ReadMemStats(&after)
		mem := int64(after.HeapAlloc) - int64(before.HeapAlloc)
		const searches = 300
		start = time.Now()
		for i := range searches {
			x.search(queries[i%len(queries)], 5)
		}
		per := time.Since(start) / searches
		runtime.KeepAlive(x)
		t.Logf("%-22s build %8.1f ms   search %7.3f ms   heap %6.1f MB (%.2fx the JSON)", e.name,
			float64(build.Microseconds())/1e3, float64(per.Microseconds())/1e3, float64(mem)/1e6, float64(mem)/float64(size))
	}
}

// synthetic is proxy/search's benchmark catalogue: n tools made of the
// golden set's, with words of their own, a schema of three described
// parameters, one text per server of 15 tools.
func synthetic(tb testing.TB, g *set, n int) ([]search.Doc, int) {
	var base []json.RawMessage
	for _, s := range g.Servers {
		base = append(base, s.Tools...)
	}
	r := rand.New(rand.NewPCG(1, 2))
	word := func() string { return fmt.Sprintf("w%cq%d", 'a'+rune(r.IntN(26)), r.IntN(800)) }
	docs := make([]search.Doc, n)
	serverText := map[string]string{}
	size := 0
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
		size += len(raw)
		tt := search.ParseTool(raw)
		d := search.Doc{Name: server + "__" + name, Server: server, Tool: name}
		d.Text[search.FieldTitle], d.Text[search.FieldDescription], d.Text[search.FieldParams] = tt.Title, tt.Description, tt.Params
		if serverText[server] == "" {
			serverText[server] = server + " A server of tools for " + word() + " and " + word()
		}
		d.Text[search.FieldServer] = serverText[server]
		docs[i] = d
	}
	return docs, size
}
