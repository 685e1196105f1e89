package store

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/mcpmux/mcpmux/registry"
)

// snapshotTools returns the tool names of server's catalogue in the
// snapshot of dataDir, read as the next start reads it; nil if it has
// none.
func snapshotTools(t *testing.T, dataDir string, srv *registry.Server) []string {
	t.Helper()
	snap, err := readSnapshot(dataDir)
	if err != nil {
		return nil
	}
	cats, _ := snapshotCatalogues(snap, []*registry.Server{srv})
	if cats[srv.Name] == nil {
		return nil
	}
	var names []string
	for _, raw := range cats[srv.Name].Tools {
		var tool struct{ Name string }
		_ = json.Unmarshal(raw, &tool)
		names = append(names, tool.Name)
	}
	return names
}

func catalogueOf(tools ...string) registry.Catalogue {
	c := registry.Catalogue{Fetched: time.Now()}
	for _, name := range tools {
		c.Tools = append(c.Tools, json.RawMessage(fmt.Sprintf(`{"name":%q}`, name)))
	}
	return c
}

// The first catalogue of a server in a run is in the snapshot when
// SaveCatalogue returns, Run or no Run: a host that kills mcpmux right after
// its first list loses nothing. Later catalogues of the same server are
// coalesced: they wait for Run (not running here), and the snapshot keeps
// the first meanwhile. The store is not written: no child is started.
func TestRecorderFirstCatalogueAtOnce(t *testing.T) {
	r, dataDir, _ := newTestRecorder(t, RecorderOptions{Child: &Child{Path: "/nonexistent/mcpmux"}})
	a := &registry.Server{Name: "a", Command: "a"}
	b := &registry.Server{Name: "b", Command: "b"}

	r.SaveCatalogue(a, catalogueOf("a1"))
	if got := snapshotTools(t, dataDir, a); fmt.Sprint(got) != "[a1]" {
		t.Errorf("snapshot after a's first catalogue holds %q, want [a1]", got)
	}
	r.SaveCatalogue(a, catalogueOf("a1", "a2")) // a list change: coalesced
	r.SaveCatalogue(b, catalogueOf("b1"))       // b's first: written, with a's change
	if got := snapshotTools(t, dataDir, b); fmt.Sprint(got) != "[b1]" {
		t.Errorf("snapshot after b's first catalogue holds %q for b, want [b1]", got)
	}
	if got := snapshotTools(t, dataDir, a); fmt.Sprint(got) != "[a1 a2]" {
		t.Errorf("snapshot holds %q for a, want [a1 a2], written along with b's first", got)
	}
	r.SaveCatalogue(b, catalogueOf("b1", "b2"))
	if got := snapshotTools(t, dataDir, b); fmt.Sprint(got) != "[b1]" {
		t.Errorf("snapshot holds %q for b right after a list change, want [b1] until Run writes it", got)
	}
	if err := r.Flush(context.Background()); err == nil {
		t.Errorf("Flush() = nil with a store that cannot start, want its error")
	}
	if got := snapshotTools(t, dataDir, b); fmt.Sprint(got) != "[b1 b2]" {
		t.Errorf("snapshot after Flush holds %q for b, want [b1 b2]", got)
	}
	// A reload changed a's command: its first catalogue under the new
	// configuration is written at once too.
	a2 := &registry.Server{Name: "a", Command: "a-v2"}
	r.SaveCatalogue(a2, catalogueOf("new"))
	if got := snapshotTools(t, dataDir, a2); fmt.Sprint(got) != "[new]" {
		t.Errorf("snapshot after a changed server's first catalogue holds %q, want [new]", got)
	}
}

// Concurrent first catalogues each return only once their own is in the
// snapshot, whoever wrote it.
func TestRecorderFirstCataloguesConcurrent(t *testing.T) {
	r, dataDir, _ := newTestRecorder(t, RecorderOptions{})
	servers := make([]*registry.Server, 8)
	done := make(chan *registry.Server)
	for i := range servers {
		servers[i] = &registry.Server{Name: fmt.Sprintf("s%d", i), Command: "x"}
		go func(srv *registry.Server) {
			r.SaveCatalogue(srv, catalogueOf(srv.Name+"_tool"))
			if got := snapshotTools(t, dataDir, srv); fmt.Sprint(got) != "["+srv.Name+"_tool]" {
				t.Errorf("snapshot when SaveCatalogue(%s) returned holds %q", srv.Name, got)
			}
			done <- srv
		}(servers[i])
	}
	for range servers {
		<-done
	}
}

// BenchmarkFirstCatalogueToSnapshot is what a server's first catalogue
// costs its publication: SaveCatalogue writes the snapshot (holding, here,
// ten other servers' catalogues of 50 tools) before the proxy serves it.
// The bar is 20 ms from a complete catalogue to the snapshot.
func BenchmarkFirstCatalogueToSnapshot(b *testing.B) {
	dataDir := b.TempDir()
	tools := make([]string, 50)
	for i := range tools {
		tools[i] = fmt.Sprintf("tool_%04d_with_a_description_of_some_length", i)
	}
	warm := NewRecorder(dataDir, RecorderOptions{})
	for i := range 10 {
		warm.SaveCatalogue(&registry.Server{Name: fmt.Sprintf("other%d", i), Command: "x"}, catalogueOf(tools...))
	}
	srv := &registry.Server{Name: "new", Command: "x"}
	c := catalogueOf(tools...)
	b.ResetTimer()
	for b.Loop() {
		r := NewRecorder(dataDir, RecorderOptions{}) // a new run: its first catalogue
		r.SaveCatalogue(srv, c)
	}
}
