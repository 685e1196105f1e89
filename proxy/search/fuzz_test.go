package search

import (
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
