package store

import (
	"context"
	"testing"
	"time"

	"github.com/mcpmux/mcpmux/internal/testutil"
)

// A cached value is read back through a child process until it expires;
// a missing store holds none.
func TestCache(t *testing.T) {
	ctx := context.Background()
	h := NewHandle(t.TempDir(), HandleOptions{Child: testChild()})
	if v, ok, err := h.GetCache(ctx, "discover"); err != nil || ok || v != nil {
		t.Fatalf("GetCache of a missing store = %q, %v, %v", v, ok, err)
	}
	if err := h.PutCache(ctx, "discover", []byte(`{"found":1}`), time.Hour); err != nil {
		t.Fatal(err)
	}
	if v, ok, err := h.GetCache(ctx, "discover"); err != nil || !ok || string(v) != `{"found":1}` {
		t.Errorf("GetCache = %q, %v, %v", v, ok, err)
	}
	if v, ok, _ := h.GetCache(ctx, "other"); ok || v != nil {
		t.Errorf("GetCache(other) = %q", v)
	}
	// Badger's TTL is in whole seconds: one that has passed is gone.
	if err := h.PutCache(ctx, "short", []byte("x"), time.Nanosecond); err != nil {
		t.Fatal(err)
	}
	s, err := Open(Dir(h.DataDir()), Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	testutil.WaitFor(t, "a value cached for 1ns to expire", func() bool {
		_, ok, err := s.GetCache("short")
		if err != nil {
			t.Fatal(err)
		}
		return !ok
	})
	h.Wait()
}
