package search

import (
	"fmt"
	"runtime"
	"slices"
	"testing"
)

// TestPutAllSameAsPut holds the batch build to the index that Put makes
// one tool at a time, and both to the index of the same tools after
// updates and deletions in place: every search ranks the same tools with
// the same scores.
func TestPutAllSameAsPut(t *testing.T) {
	// Enough tools for a batch to be read by several builders at once,
	// and more builders than the test machine may have CPUs.
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(3))
	docs := synthetic(t, 3*parallelMin)
	queries := []string{
		"read the contents of a file", "list the branches of the repository", "delete stored records",
		"what time is it in Tokyo", "create a new table in the database", "读取文件内容", "server3 tools",
		"search the web", "wbq12", "path",
	}
	batch := New()
	batch.PutAll(docs)
	single := New()
	for _, d := range docs {
		single.Put(d)
	}
	// The same tools, reached through changes: a first version of every
	// other tool, a batch that replaces them and adds the rest, a tool
	// deleted and put back, and one put twice in one batch.
	changed := New()
	var first []Doc
	for i, d := range docs {
		if i%2 == 0 {
			d.Text[FieldDescription] = "an older description of " + d.Tool
			first = append(first, d)
		}
	}
	changed.PutAll(first)
	changed.Put(Doc{Name: "gone", Server: "x", Tool: "gone", Text: [numFields]string{FieldDescription: "read a file"}})
	changed.PutAll(append(slices.Clone(docs[:1500]), docs[7]))
	changed.Delete("gone")
	changed.Delete(docs[11].Name)
	changed.PutAll(docs[1500:])
	changed.Put(docs[11])

	for _, x := range []*Index{batch, single, changed} {
		if x.Len() != len(docs) {
			t.Fatalf("index holds %d tools, want %d", x.Len(), len(docs))
		}
	}
	for _, q := range queries {
		want := single.Search(q, 20, "")
		if len(want) == 0 {
			t.Errorf("%q found nothing", q)
		}
		for name, x := range map[string]*Index{"PutAll": batch, "changed": changed} {
			if got := x.Search(q, 20, ""); !slices.Equal(got, want) {
				t.Errorf("%s: %q:\n got %v\nwant %v", name, q, brief(got), brief(want))
			}
		}
	}
}

func brief(hits []Hit) []string {
	var out []string
	for _, h := range hits {
		out = append(out, fmt.Sprintf("%s %.4f", h.Name, h.Score))
	}
	return out
}
