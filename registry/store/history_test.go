package store

import (
	"reflect"
	"testing"
	"time"
)

func TestHistory(t *testing.T) {
	s, _ := newTestStore(t, Options{})
	base := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	at := func(sec int) time.Time { return base.Add(time.Duration(sec) * time.Second) }
	a1 := Event{Server: "a", Kind: EventConnected, Time: at(1)}
	b2 := Event{Server: "b", Kind: EventConnected, Time: at(2)}
	a3 := Event{Server: "a", Kind: EventDisconnected, Time: at(3), Reason: "EOF", Duration: 2 * time.Second}
	ab4 := Event{Server: "a/b", Kind: EventError, Time: at(4), Reason: "exit status 1"}
	a5 := Event{Server: "a", Kind: EventRestart, Time: at(5), Attempt: 2}
	b5 := Event{Server: "b", Kind: EventStopped, Time: at(5)} // same time, appended later
	for _, e := range []Event{a1, b2, a3, ab4, a5, b5} {
		if err := s.AppendEvent(e); err != nil {
			t.Fatalf("AppendEvent(%+v) = %v", e, err)
		}
	}
	tests := []struct {
		name   string
		server string
		limit  int
		want   []Event
	}{
		{"one server", "a", 0, []Event{a5, a3, a1}},
		{"limit", "a", 2, []Event{a5, a3}},
		{"name with slash", "a/b", 0, []Event{ab4}},
		{"unknown server", "c", 0, nil},
		{"all servers", "", 0, []Event{b5, a5, ab4, a3, b2, a1}},
		{"all servers, limit", "", 3, []Event{b5, a5, ab4}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := s.History(tt.server, tt.limit)
			if err != nil || (len(got) != 0 || len(tt.want) != 0) && !reflect.DeepEqual(got, tt.want) {
				t.Errorf("History(%q, %d) = %+v, %v\nwant %+v", tt.server, tt.limit, got, err, tt.want)
			}
		})
	}
}

func TestHistoryZeroTime(t *testing.T) {
	s, _ := newTestStore(t, Options{})
	now := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	s.now = func() time.Time { return now }
	if err := s.AppendEvent(Event{Server: "a", Kind: EventConnected}); err != nil {
		t.Fatal(err)
	}
	got, err := s.History("a", 0)
	if err != nil || len(got) != 1 || !got[0].Time.Equal(now) {
		t.Errorf("History(a, 0) = %+v, %v; want one event at %v", got, err, now)
	}
}

func TestHistoryMaxHistory(t *testing.T) {
	s, dir := newTestStore(t, Options{MaxHistory: 5})
	base := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	appendN := func(s *DB, server string, n int) {
		t.Helper()
		for i := range n {
			e := Event{Server: server, Kind: EventConnected, Time: base.Add(time.Duration(i) * time.Second), Attempt: i}
			if err := s.AppendEvent(e); err != nil {
				t.Fatal(err)
			}
		}
	}
	appendN(s, "a", 12)
	appendN(s, "b", 3)
	if err := s.Flush(); err != nil {
		t.Fatalf("Flush() = %v", err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	// Reopened with a larger MaxHistory, the store shows what was kept.
	s = openTestStore(t, dir, Options{MaxHistory: 100})
	checkAttempts(t, s, "a", 11, 10, 9, 8, 7)
	checkAttempts(t, s, "b", 2, 1, 0)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	// Reopened with a smaller one, the store trims what it counted at open.
	s = openTestStore(t, dir, Options{MaxHistory: 2})
	if err := s.Flush(); err != nil {
		t.Fatalf("Flush() = %v", err)
	}
	checkAttempts(t, s, "a", 11, 10)
	checkAttempts(t, s, "b", 2, 1)
}

// checkAttempts checks the Attempt of each event of server's history.
func checkAttempts(t *testing.T, s *DB, server string, want ...int) {
	t.Helper()
	events, err := s.History(server, 0)
	if err != nil {
		t.Fatalf("History(%q, 0) = %v", server, err)
	}
	var got []int
	for _, e := range events {
		got = append(got, e.Attempt)
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("History(%q, 0) attempts = %v, want %v", server, got, want)
	}
}

func TestHistoryTTL(t *testing.T) {
	s, _ := newTestStore(t, Options{HistoryTTL: time.Hour})
	before := time.Now()
	if err := s.AppendEvent(Event{Server: "a", Kind: EventConnected}); err != nil {
		t.Fatal(err)
	}
	if got, err := s.History("a", 0); len(got) != 1 || err != nil {
		t.Fatalf("History(a, 0) right after AppendEvent = %+v, %v; want one event", got, err)
	}
	checkExpiry(t, s, "a", before, time.Now(), time.Hour)
}
