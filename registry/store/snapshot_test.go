package store

import (
	"context"
	"encoding/json"
	"log/slog"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/mcpmux/mcpmux/internal/testutil"
	"github.com/mcpmux/mcpmux/registry"
)

// The snapshot keeps a catalogue byte for byte, and serves it without a
// store process: a recorder whose child cannot even start reads it.
func TestSnapshotServesWithoutStore(t *testing.T) {
	testutil.CheckNoGoroutineLeak(t)
	dataDir := t.TempDir()
	a := &registry.Server{Name: "a", Command: "a", Env: map[string]string{"API_TOKEN": "secret-token-value"}}
	tool := json.RawMessage("{ \"name\": \"t\",\n \"description\": \"\\u003cb\\u003e & é\", \"n\": 9007199254740993 }")
	w := NewRecorder(dataDir, RecorderOptions{})
	w.SaveCatalogue(a, registry.Catalogue{Tools: []json.RawMessage{tool}, Instructions: "hi", Fetched: time.Unix(1, 0).UTC()})
	if err := w.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(snapshotPath(dataDir))
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(data), "secret-token-value") {
		t.Errorf("snapshot holds a secret:\n%s", data)
	}

	logs := new(recorder)
	r := NewRecorder(dataDir, RecorderOptions{Logger: slog.New(logs), Child: &Child{Path: "/nonexistent/mcpmux"}})
	got, err := r.LoadCatalogues(context.Background(), []*registry.Server{a})
	if err != nil || got["a"] == nil {
		t.Fatalf("LoadCatalogues = %+v, %v; want a's catalogue, from the snapshot", got, err)
	}
	if c := got["a"]; len(c.Tools) != 1 || string(c.Tools[0]) != string(tool) || c.Instructions != "hi" || !c.Fetched.Equal(time.Unix(1, 0)) {
		t.Errorf("catalogue from the snapshot = %+v (tool %s), want tool %s as written", c, c.Tools, tool)
	}
	if msgs := logs.atLeast(slog.LevelInfo); len(msgs) != 0 {
		t.Errorf("logged %q, want nothing", msgs)
	}
}

// A snapshot that cannot be used in full is ignored: the store serves, and
// the next catalogue written replaces the snapshot with a good one. Nothing
// is logged above debug level: the snapshot is only a copy.
func TestSnapshotDamaged(t *testing.T) {
	a := &registry.Server{Name: "a", Command: "a"}
	b := &registry.Server{Name: "b", Command: "b"}
	tests := []struct {
		name   string
		damage func(t *testing.T, path string)
	}{
		{"garbage", withContent("\x00\xffnot json at all")},
		{"truncated", func(t *testing.T, path string) {
			data, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			withContent(string(data[:len(data)/2]))(t, path)
		}},
		{"empty", withContent("")},
		{"other version", withContent(`{"version":99,"catalogues":{}}`)},
		{"catalogues not an object", withContent(`{"version":1,"catalogues":[1,2]}`)},
		{"catalogue not an object", withContent(`{"version":1,"catalogues":{"a":"x","b":[]}}`)},
		{"deep nesting", withContent(`{"version":1,"catalogues":{"a":` + strings.Repeat("[", 20000) + strings.Repeat("]", 20000) + `}}`)},
		{"too large", func(t *testing.T, path string) {
			old := maxSnapshotSize
			maxSnapshotSize = 10
			t.Cleanup(func() { maxSnapshotSize = old })
		}},
		{"directory", func(t *testing.T, path string) {
			if err := os.Remove(path); err != nil {
				t.Fatal(err)
			}
			if err := os.Mkdir(path, 0o700); err != nil {
				t.Fatal(err)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			testutil.CheckNoGoroutineLeak(t)
			dataDir := t.TempDir()
			logs := new(recorder)
			r := NewRecorder(dataDir, RecorderOptions{Logger: slog.New(logs)})
			r.SaveCatalogue(a, registry.Catalogue{Instructions: "stored"})
			if err := r.Flush(context.Background()); err != nil {
				t.Fatal(err)
			}
			tt.damage(t, snapshotPath(dataDir))

			got, err := r.LoadCatalogues(context.Background(), []*registry.Server{a, b})
			if err != nil || len(got) != 1 || got["a"] == nil || got["a"].Instructions != "stored" {
				t.Errorf("LoadCatalogues = %+v, %v; want a's, from the store", got, err)
			}
			r.SaveCatalogue(b, registry.Catalogue{Instructions: "new"})
			if err := r.Flush(context.Background()); err != nil {
				t.Fatal(err)
			}
			if tt.name == "directory" || tt.name == "too large" {
				return // no good snapshot can be written
			}
			snap, err := readSnapshot(dataDir)
			if err != nil || snap["b"] == nil {
				t.Errorf("snapshot after a new catalogue = %v, %v; want a good one with b", snap, err)
			}
			if msgs := logs.atLeast(slog.LevelInfo); len(msgs) != 0 {
				t.Errorf("logged %q, want nothing above debug", msgs)
			}
		})
	}
}

// withContent returns a damage that writes data over the file.
func withContent(data string) func(t *testing.T, path string) {
	return func(t *testing.T, path string) {
		if err := os.WriteFile(path, []byte(data), 0o600); err != nil {
			t.Fatal(err)
		}
	}
}

// Instances that share a data directory with other configurations keep
// each other's catalogues in the snapshot; servers it does not hold are
// looked for in the store.
func TestSnapshotShared(t *testing.T) {
	testutil.CheckNoGoroutineLeak(t)
	dataDir := t.TempDir()
	a := &registry.Server{Name: "a", Command: "a"}
	b := &registry.Server{Name: "b", Command: "b"}
	c := &registry.Server{Name: "c", Command: "c"}
	ctx := context.Background()
	first, second := NewRecorder(dataDir, RecorderOptions{}), NewRecorder(dataDir, RecorderOptions{})
	first.SaveCatalogue(a, registry.Catalogue{Instructions: "a"})
	second.SaveCatalogue(b, registry.Catalogue{Instructions: "b"})
	for _, r := range []*Recorder{first, second} {
		if err := r.Flush(ctx); err != nil {
			t.Fatal(err)
		}
	}
	// c reaches the store alone, as an older mcpmux wrote it.
	s := openTestStore(t, Dir(dataDir), Options{})
	cat := registry.Catalogue{Instructions: "c", Fingerprint: c.Fingerprint()}
	if err := s.SaveCatalogue("c", cat); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	got, err := NewRecorder(dataDir, RecorderOptions{}).LoadCatalogues(ctx, []*registry.Server{a, b, c})
	if err != nil || len(got) != 3 {
		t.Fatalf("LoadCatalogues = %+v, %v; want a and b from the snapshot, c from the store", got, err)
	}
	for name, c := range got {
		if c.Instructions != name {
			t.Errorf("catalogue of %s = %+v", name, c)
		}
	}
}
