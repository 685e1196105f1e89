package search

import (
	"fmt"
	"slices"
	"testing"
	"unicode/utf8"
)

// FuzzSearch feeds the index any query: it never panics, returns at most
// limit hits, best first with ties by name, the same twice over, and
// finds only tools of the server asked for.
func FuzzSearch(f *testing.F) {
	for _, q := range []string{"read a file", "列出目录中的文件", "getFileInfo", "HTTPServer_v2-beta", "", " \x00\xff", "a__b::c//d", "ÄÖÜ straße", "삭제 파일", "ファイルを読む"} {
		f.Add(q, 5, "")
		f.Add(q, 50, "git")
	}
	x, _ := loadGolden(f)
	f.Fuzz(func(t *testing.T, query string, limit int, server string) {
		hits := x.Search(query, limit, server)
		if len(hits) > max(limit, 0) {
			t.Fatalf("Search(%q, %d) = %d hits", query, limit, len(hits))
		}
		for i, h := range hits {
			if server != "" && h.Server != server {
				t.Fatalf("Search(%q, server %q) found %s of %s", query, server, h.Name, h.Server)
			}
			if i > 0 && better(h.Score, h.Name, hits[i-1]) {
				t.Fatalf("Search(%q): %v before %v", query, hits[i-1], h)
			}
		}
		if again := x.Search(query, limit, server); !slices.Equal(hits, again) {
			t.Fatalf("Search(%q) = %v, then %v", query, hits, again)
		}
		tokens(query, func(word []byte, plain bool) {
			if !utf8.Valid(word) && utf8.ValidString(query) {
				t.Fatalf("tokens(%q) gave invalid UTF-8 %q", query, word)
			}
		})
	})
}

// FuzzPutAll indexes tools whose texts the fuzzer writes, in one batch
// and one by one (a name twice among them, a server's text shared by its
// tools): both indexes rank every query alike, and deleting every tool
// leaves nothing to find.
func FuzzPutAll(f *testing.F) {
	f.Add("read a file", "getFileInfo HTTPServer_v2", "列出目录中的文件")
	f.Add("", "\x00\xff the and", "JavaScript JavaScript javascript")
	f.Add("a", "a a a a a a a a a a a a a a a a a a a a a a a a a a a a a a a a a a", "삭제 ファイル ÄÖÜ")
	f.Fuzz(func(t *testing.T, a, b, c string) {
		texts := []string{a, b, c}
		var docs []Doc
		for i := range 9 {
			d := Doc{Name: fmt.Sprintf("s%d__t%d", i%2, i), Server: fmt.Sprintf("s%d", i%2), Tool: fmt.Sprintf("t%d", i)}
			d.Text[FieldTitle] = texts[(i+2)%3]
			d.Text[FieldDescription] = texts[i%3]
			d.Text[FieldParams] = texts[(i+1)%3]
			d.Text[FieldServer] = texts[i%2] // the same for a server's tools
			docs = append(docs, d)
		}
		last := docs[4]
		last.Text[FieldDescription] = "the second of its name"
		docs = append(docs, last)
		batch, single := New(), New()
		batch.PutAll(docs)
		for _, d := range docs {
			single.Put(d)
		}
		if batch.Len() != 9 || single.Len() != 9 {
			t.Fatalf("%d and %d tools indexed, want 9", batch.Len(), single.Len())
		}
		for _, q := range append(texts, "second") {
			if got, want := batch.Search(q, 10, ""), single.Search(q, 10, ""); !slices.Equal(got, want) {
				t.Fatalf("Search(%q): PutAll %v, Put %v", q, got, want)
			}
		}
		for _, d := range docs {
			batch.Delete(d.Name)
		}
		for _, q := range texts {
			if hits := batch.Search(q, 10, ""); batch.Len() != 0 || len(hits) != 0 {
				t.Fatalf("after deleting every tool, %d left, Search(%q) = %v", batch.Len(), q, hits)
			}
		}
	})
}
