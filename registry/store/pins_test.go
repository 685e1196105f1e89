package store

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mcpmux/mcpmux/registry/pin"
)

func sight(b *pin.Book, server, name, desc string) {
	raw, _ := json.Marshal(map[string]string{"name": name, "description": desc})
	b.Check(pin.Subject{Server: server, Kind: pin.Tool, Name: name, Raw: raw}, pin.Withhold, time.Now())
}

// The pins file: missing is empty; damaged is an error, and the next
// write moves it aside, once, and starts a book that withholds what it
// has not seen; writers that share it keep each other's news.
func TestPins(t *testing.T) {
	dir := t.TempDir()
	if b, err := LoadPins(dir); err != nil || len(b.Servers) != 0 {
		t.Fatalf("LoadPins of nothing = %+v, %v", b, err)
	}
	damaged := []byte(`{"version": 1, "servers": [`)
	if err := os.WriteFile(PinsPath(dir), damaged, 0o600); err != nil {
		t.Fatal(err)
	}
	if b, err := LoadPins(dir); !errors.Is(err, ErrPinsDamaged) || !strings.Contains(err.Error(), PinsPath(dir)) || b.Recovered == nil {
		t.Fatalf("LoadPins of a damaged file = %+v, %v; want ErrPinsDamaged naming the file, a recovered book", b, err)
	}
	var wg sync.WaitGroup
	var moved atomic.Int32
	for _, server := range []string{"a", "b", "c", "d"} {
		wg.Go(func() {
			var mine pin.Book
			sight(&mine, server, "echo", "Echoes")
			movedTo, err := SavePins(dir, &mine)
			if err != nil {
				t.Error(err)
			}
			if movedTo != "" {
				moved.Add(1)
				if got, _ := os.ReadFile(movedTo); !bytes.Equal(got, damaged) || !strings.HasPrefix(filepath.Base(movedTo), "pins.json.damaged-") {
					t.Errorf("moved to %s, which holds %q", movedTo, got)
				}
			}
		})
	}
	wg.Wait()
	if moved.Load() != 1 {
		t.Errorf("the damaged file was moved aside %d times, want once", moved.Load())
	}
	b, err := LoadPins(dir)
	if err != nil || len(b.Servers) != 4 || b.Recovered == nil || b.Recovered.MovedTo == "" {
		t.Fatalf("after four writers: %d servers, recovered %+v, %v; want 4, recovered", len(b.Servers), b.Recovered, err)
	}
	if _, _, err := UpdatePins(dir, func(stored *pin.Book) error { stored.Recovered = nil; return nil }); err != nil {
		t.Fatal(err)
	}
	var mine pin.Book
	sight(&mine, "a", "echo", "Echoes")
	sight(&mine, "a", "echo", "Echoes loudly")
	if _, err := SavePins(dir, &mine); err != nil {
		t.Fatal(err)
	}
	if _, _, err := UpdatePins(dir, func(b *pin.Book) error { _, err := b.Approve("a", []string{"echo"}, time.Now()); return err }); err != nil {
		t.Fatal(err)
	}
	if _, err := SavePins(dir, &mine); err != nil { // a serve that has not seen the approval yet
		t.Fatal(err)
	}
	if b, _ := LoadPins(dir); len(b.Pending("a")) != 0 {
		t.Errorf("a stale serve's write undid the approval: %+v", b.Pending("a"))
	}
}

// SavePins forgets the servers nobody served for PinsMaxAge, and keeps
// the others.
func TestPinsForgetStale(t *testing.T) {
	dir := t.TempDir()
	var mine pin.Book
	sight(&mine, "old", "echo", "Echoes")
	sight(&mine, "new", "echo", "Echoes")
	mine.Servers["old"].Seen = time.Now().Add(-PinsMaxAge - time.Hour)
	if _, err := SavePins(dir, &mine); err != nil {
		t.Fatal(err)
	}
	b, err := LoadPins(dir)
	if err != nil || b.Servers["old"] != nil || b.Servers["new"] == nil {
		t.Errorf("after a save: servers %v, %v; want new only", b.Servers, err)
	}
}
