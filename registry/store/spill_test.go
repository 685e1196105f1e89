package store

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	"github.com/mcpmux/mcpmux/registry"
)

func TestSpillRoundTrip(t *testing.T) {
	dir := t.TempDir()
	at := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	b := &Batch{
		Catalogues: map[string]registry.Catalogue{"a": {Tools: []json.RawMessage{json.RawMessage(`{"name":"t"}`)}, Fetched: at, Fingerprint: "f"}},
		States:     map[string]ServerState{"a": {Server: "a", State: StateStopped, Since: at}},
		Events:     []Event{{Server: "a", Kind: EventStopped, Time: at}},
	}
	b.addCall("a", "t", CallStats{Calls: 2, Errors: 1, LastCall: at})
	path, err := writeSpill(dir, b, at)
	if err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(path); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("spill file: %v, %v; want mode 0600", fi, err)
	}
	got, err := readSpill(path)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, b) {
		t.Errorf("readSpill(writeSpill(b)) = %+v, want %+v", got, b)
	}
}

// Spill files are read as hostile: one that does not decode in full is
// moved aside, once, and the store is written all the same.
func TestSpillUnreadable(t *testing.T) {
	for _, tt := range []struct{ name, content string }{
		{"not JSON", "{"},
		{"other version", `{"version":9}`},
		{"event without server", `{"version":1,"events":[{"kind":"stopped"}]}`},
		{"bad catalogue", `{"version":1,"catalogues":{"a":{"tools":7}}}`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			dataDir := t.TempDir()
			path := filepath.Join(dataDir, spillPrefix+"1-1"+spillSuffix)
			if err := os.WriteFile(path, []byte(tt.content), 0o600); err != nil {
				t.Fatal(err)
			}
			r := NewRecorder(dataDir, RecorderOptions{})
			r.RecordCall("a", "t", time.Millisecond, false)
			if err := r.Flush(context.Background()); err != nil {
				t.Fatalf("Flush() = %v", err)
			}
			if _, err := os.Stat(path + ".bad"); err != nil {
				t.Errorf("unreadable spill file not moved aside: %v", err)
			}
			if left := spills(dataDir); len(left) != 0 {
				t.Errorf("spill files left: %v", left)
			}
			s := openTestStore(t, Dir(dataDir), Options{ReadOnly: true})
			checkStats(t, s, "a", map[string][2]int64{"t": {1, 0}})
		})
	}
}

// A last flush whose time is up before it starts (FinishBy: a loaded
// machine spent the exit's bound before the stop) spills what the
// recorder holds and starts no write to the store: the next write takes
// the spill file in.
func TestFinishByPassedSpillsOnly(t *testing.T) {
	dataDir := t.TempDir()
	r := NewRecorder(dataDir, RecorderOptions{FinalWait: ExitFinalWait})
	r.RecordCall("a", "t", time.Millisecond, false)
	r.FinishBy(time.Now().Add(-time.Second))
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := r.Run(ctx); err != nil {
		t.Fatalf("Run() = %v", err)
	}
	r.Wait()
	files := spills(dataDir)
	if len(files) != 1 {
		t.Fatalf("spill files: %v, want one", files)
	}
	b, err := readSpill(files[0])
	if err != nil {
		t.Fatal(err)
	}
	if got := b.Calls["a"]["t"].Calls; got != 1 {
		t.Errorf("spilled calls of a/t: %d, want 1 (%+v)", got, b)
	}
	if _, err := os.Stat(Dir(dataDir)); err == nil {
		t.Errorf("the store was written although the last flush had no time left")
	}
}
