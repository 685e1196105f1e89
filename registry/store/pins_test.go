package store

import (
	"encoding/json"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/mcpmux/mcpmux/registry/pin"
)

func sight(b *pin.Book, server, name, desc string) {
	raw, _ := json.Marshal(map[string]string{"name": name, "description": desc})
	b.Check(pin.Subject{Server: server, Kind: pin.Tool, Name: name, Raw: raw}, pin.Withhold, time.Now())
}

// The pins file: missing is empty, damaged is an error and is replaced
// by the next write, and writers that share it keep each other's news.
func TestPins(t *testing.T) {
	dir := t.TempDir()
	if b, err := LoadPins(dir); err != nil || len(b.Servers) != 0 {
		t.Fatalf("LoadPins of nothing = %+v, %v", b, err)
	}
	if err := os.WriteFile(PinsPath(dir), []byte(`{"version": 1, "servers": [`), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadPins(dir); err == nil {
		t.Fatal("LoadPins of a damaged file: no error")
	}
	var wg sync.WaitGroup
	for _, server := range []string{"a", "b", "c", "d"} {
		wg.Go(func() {
			var mine pin.Book
			sight(&mine, server, "echo", "Echoes")
			if err := SavePins(dir, &mine); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	b, err := LoadPins(dir)
	if err != nil || len(b.Servers) != 4 {
		t.Fatalf("after four writers: %d servers, %v; want 4", len(b.Servers), err)
	}
	var mine pin.Book
	sight(&mine, "a", "echo", "Echoes")
	sight(&mine, "a", "echo", "Echoes loudly")
	if err := SavePins(dir, &mine); err != nil {
		t.Fatal(err)
	}
	if _, err := UpdatePins(dir, func(b *pin.Book) error { _, err := b.Approve("a", []string{"echo"}, time.Now()); return err }); err != nil {
		t.Fatal(err)
	}
	if err := SavePins(dir, &mine); err != nil { // a serve that has not seen the approval yet
		t.Fatal(err)
	}
	if b, _ := LoadPins(dir); len(b.Pending("a")) != 0 {
		t.Errorf("a stale serve's write undid the approval: %+v", b.Pending("a"))
	}
}
