package upstream

import (
	"bytes"
	"io"
	"os"
	"testing"
)

// TestTryWriteNeverBlocks writes a message larger than a pipe holds to a
// pipe nobody reads yet: tryWrite returns at once, refuses a second
// message while the first is being written, and the reader gets the first
// whole, then the next one written once the writer is free.
func TestTryWriteNeverBlocks(t *testing.T) {
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	l := &lockedWriter{w: w}
	big := append(bytes.Repeat([]byte("x"), 1<<20), '\n')
	failed := failedWrite{t}
	if !l.tryWrite(big, failed) {
		t.Fatal("tryWrite of the first message = false, want true")
	}
	if l.tryWrite([]byte("second\n"), failed) {
		t.Fatal("tryWrite while the first message is being written = true, want false")
	}
	got := make([]byte, len(big))
	if _, err := io.ReadFull(r, got); err != nil || !bytes.Equal(got, big) {
		t.Fatalf("read %d bytes (%v), want the first message whole", len(got), err)
	}
	l.mu.Lock() // the goroutine that finished the first write has let go
	free := l.mu.TryLock()
	l.mu.Unlock()
	if free {
		t.Fatal("TryLock of a held writer = true")
	}
	if !l.tryWrite([]byte("third\n"), failed) {
		t.Fatal("tryWrite once the writer is free = false, want true")
	}
	w.Close()
	rest, _ := io.ReadAll(r)
	if string(rest) != "third\n" {
		t.Errorf("then read %q, want %q", rest, "third\n")
	}
}

type failedWrite struct{ t *testing.T }

func (f failedWrite) writeFailed(err error) { f.t.Errorf("write failed: %v", err) }
