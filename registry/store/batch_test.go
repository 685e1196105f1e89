package store

import (
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/dgraph-io/badger/v4"

	"github.com/mcpmux/mcpmux/internal/testutil"
	"github.com/mcpmux/mcpmux/registry"
)

func TestStoreWrite(t *testing.T) {
	s, dir := newTestStore(t, Options{})
	at := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	if err := s.RecordCall("a", "search", time.Millisecond, true); err != nil {
		t.Fatal(err)
	}
	if err := s.Flush(); err != nil {
		t.Fatal(err)
	}
	cat := registry.Catalogue{Tools: []json.RawMessage{json.RawMessage(`{"name":"search"}`)}, Fetched: at, Fingerprint: "f"}
	st := ServerState{Server: "a", State: StateReady, Since: at, Restarts: 2, PID: 7, MuxPID: 9}
	ev := Event{Server: "a", Kind: EventConnected, Time: at}
	b := Batch{
		Catalogues: map[string]registry.Catalogue{"a": cat},
		States:     map[string]ServerState{"a": st},
		Events:     []Event{ev, {Kind: EventError}}, // the second has no server: dropped
	}
	b.addCall("a", "search", CallStats{Calls: 2, LastCall: at})
	b.addCall("a", "fetch", CallStats{Calls: 1, Errors: 1, LastCall: at})
	if err := s.Write(&b); err != nil {
		t.Fatalf("Write() = %v", err)
	}
	if !b.Empty() {
		t.Errorf("batch after Write = %+v, want empty", b)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	s = openTestStore(t, dir, Options{ReadOnly: true})
	if got, ok, err := s.LoadCatalogue("a"); !ok || err != nil || !reflect.DeepEqual(got, cat) {
		t.Errorf("LoadCatalogue(a) = %+v, %t, %v; want %+v", got, ok, err, cat)
	}
	if got, err := s.States(); err != nil || !reflect.DeepEqual(got, map[string]ServerState{"a": st}) {
		t.Errorf("States() = %+v, %v; want a: %+v", got, err, st)
	}
	if got, err := s.History("", 0); err != nil || !reflect.DeepEqual(got, []Event{ev}) {
		t.Errorf("History() = %+v, %v; want [%+v]", got, err, ev)
	}
	checkStats(t, s, "a", map[string][2]int64{"search": {3, 1}, "fetch": {1, 1}})
}

// A batch too big for one transaction is written in several.
func TestStoreWriteSplits(t *testing.T) {
	s, _ := newTestStore(t, Options{})
	big := json.RawMessage(fmt.Sprintf(`{"name":"t","description":%q}`, strings.Repeat("x", 40<<10)))
	b := Batch{Catalogues: map[string]registry.Catalogue{}}
	for i := range 40 { // 1.6 MB, more than one transaction of this store takes
		b.Catalogues[fmt.Sprint(i)] = registry.Catalogue{Tools: []json.RawMessage{big}}
	}
	if err := s.Write(&b); err != nil {
		t.Fatalf("Write() = %v", err)
	}
	for i := range 40 {
		if c, ok, err := s.LoadCatalogue(fmt.Sprint(i)); !ok || err != nil || len(c.Tools) != 1 {
			t.Fatalf("LoadCatalogue(%d) = %d tools, %t, %v; want 1 tool", i, len(c.Tools), ok, err)
		}
	}
}

func TestStoreWriteInvalidCatalogue(t *testing.T) {
	s, _ := newTestStore(t, Options{})
	b := Batch{
		Catalogues: map[string]registry.Catalogue{"bad": {Tools: []json.RawMessage{json.RawMessage(`{`)}}},
		Events:     []Event{{Server: "a", Kind: EventConnected}},
	}
	if err := s.Write(&b); err == nil {
		t.Errorf("Write(invalid catalogue) = nil, want an error")
	}
	if !b.Empty() {
		t.Errorf("batch after Write = %+v; want the invalid catalogue dropped and the rest written", b)
	}
	if got, err := s.History("a", 0); len(got) != 1 || err != nil {
		t.Errorf("History(a) = %+v, %v; want the event", got, err)
	}
}

// Opening the store for each batch adds a table each time; Write keeps
// their number down, so that opening stays cheap. (Tables of events alone
// never overlap and are not merged, but events come with state changes.)
func TestStoreWriteCompacts(t *testing.T) {
	testutil.CheckNoGoroutineLeak(t)
	dir := filepath.Join(t.TempDir(), "store")
	for i := range 3 * compactAfter {
		err := Use(context.Background(), dir, Options{}, func(s *DB) error {
			if n := len(s.db.Tables()); n > compactAfter+1 {
				t.Errorf("cycle %d: %d tables, want at most %d", i, n, compactAfter+1)
			}
			return s.Write(&Batch{
				States: map[string]ServerState{"a": {Server: "a", State: StateReady}},
				Events: []Event{{Server: "a", Kind: EventConnected}},
			})
		})
		if err != nil {
			t.Fatalf("cycle %d: %v", i, err)
		}
	}
	s := openTestStore(t, dir, Options{ReadOnly: true})
	if got, err := s.History("a", 0); len(got) != 3*compactAfter || err != nil {
		t.Errorf("History(a) = %d events, %v; want %d", len(got), err, 3*compactAfter)
	}
}

// Events written in a batch expire after HistoryTTL too.
func TestStoreWriteTTL(t *testing.T) {
	s, _ := newTestStore(t, Options{HistoryTTL: time.Hour})
	before := time.Now()
	if err := s.Write(&Batch{Events: []Event{{Server: "a", Kind: EventConnected}}}); err != nil {
		t.Fatal(err)
	}
	checkExpiry(t, s, "a", before, time.Now(), time.Hour)
}

// checkExpiry checks that the events of server stored between before and
// after expire HistoryTTL after that: Badger drops them then.
func checkExpiry(t *testing.T, s *DB, server string, before, after time.Time, ttl time.Duration) {
	t.Helper()
	var expiries []time.Time
	err := s.view(func(txn *badger.Txn) error {
		opts := badger.DefaultIteratorOptions
		opts.Prefix = makeKey("ev", server, "")
		it := txn.NewIterator(opts)
		defer it.Close()
		for it.Rewind(); it.Valid(); it.Next() {
			expiries = append(expiries, time.Unix(int64(it.Item().ExpiresAt()), 0))
		}
		return nil
	})
	if err != nil || len(expiries) != 1 {
		t.Fatalf("events of %s = %d, %v; want one", server, len(expiries), err)
	}
	// Badger keeps expiry times to the second.
	lo, hi := before.Add(ttl).Truncate(time.Second), after.Add(ttl+time.Second)
	if exp := expiries[0]; exp.Before(lo) || exp.After(hi) {
		t.Errorf("event of %s expires at %v, want between %v and %v (%v after it was stored)", server, exp, lo, hi, ttl)
	}
}

func TestBatchRequeue(t *testing.T) {
	at := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	older := Batch{
		Catalogues: map[string]registry.Catalogue{"a": {Instructions: "old"}, "b": {Instructions: "b"}},
		Events:     []Event{{Server: "a", Kind: EventConnected}},
	}
	older.addCall("a", "t", CallStats{Calls: 2, Errors: 1, LastCall: at})
	newer := Batch{
		Catalogues: map[string]registry.Catalogue{"a": {Instructions: "new"}},
		Events:     []Event{{Server: "a", Kind: EventStopped}},
	}
	newer.addCall("a", "t", CallStats{Calls: 1, LastCall: at.Add(time.Second)})
	newer.requeue(&older)
	want := Batch{
		Catalogues: map[string]registry.Catalogue{"a": {Instructions: "new"}, "b": {Instructions: "b"}},
		Events:     []Event{{Server: "a", Kind: EventConnected}, {Server: "a", Kind: EventStopped}},
		Calls:      map[string]map[string]CallStats{"a": {"t": {Calls: 3, Errors: 1, LastCall: at.Add(time.Second)}}},
	}
	if !reflect.DeepEqual(newer, want) {
		t.Errorf("requeue = %+v\nwant %+v", newer, want)
	}
}

// BenchmarkStoreCycle measures what a serving mcpmux pays per flush: open
// the store, write a batch of ten catalogues, a few events and call
// statistics, and close it again.
func BenchmarkStoreCycle(b *testing.B) {
	dir := filepath.Join(b.TempDir(), "store")
	tool := json.RawMessage(`{"name":"tool","description":"Does a thing","inputSchema":{"type":"object","properties":{"q":{"type":"string"}}}}`)
	cat := registry.Catalogue{Tools: make([]json.RawMessage, 20), Fetched: time.Now()}
	for i := range cat.Tools {
		cat.Tools[i] = tool
	}
	for b.Loop() {
		batch := Batch{Catalogues: map[string]registry.Catalogue{}}
		for i := range 10 {
			batch.Catalogues[fmt.Sprint(i)] = cat
			batch.addCall(fmt.Sprint(i), "tool", CallStats{Calls: 1})
		}
		batch.Events = []Event{{Server: "0", Kind: EventDisconnected}, {Server: "0", Kind: EventConnected}}
		err := Use(context.Background(), dir, Options{}, func(s *DB) error { return s.Write(&batch) })
		if err != nil {
			b.Fatal(err)
		}
	}
}
