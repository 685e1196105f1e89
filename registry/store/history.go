package store

import (
	"cmp"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"time"

	"github.com/dgraph-io/badger/v4"
)

// EventKind says what happened to an upstream server.
type EventKind string

// Kinds of [Event].
const (
	EventConnected    EventKind = "connected"
	EventDisconnected EventKind = "disconnected"
	EventError        EventKind = "error"
	EventRestart      EventKind = "restart"
	EventStopped      EventKind = "stopped"
)

// Event is one entry of a server's connection history.
type Event struct {
	// Server is the name of the upstream server.
	Server string `json:"server"`
	// Kind is what happened.
	Kind EventKind `json:"kind"`
	// Time is when it happened. AppendEvent fills in a zero Time with now.
	Time time.Time `json:"time"`
	// Reason explains the event, e.g. the error, if any.
	Reason string `json:"reason,omitempty"`
	// Duration is, for a disconnect, how long the connection lasted.
	Duration time.Duration `json:"duration,omitempty"`
	// Attempt is the number of the reconnection attempt, if any.
	Attempt int `json:"attempt,omitempty"`
}

// Events are keyed ev/<server>/<time><seq>: time is the event's UnixNano
// and seq a counter, both big-endian, so that keys sort by time.
const eventSuffixLen = 8 + 4

func eventKey(server string, t time.Time, seq uint32) []byte {
	k := makeKey("ev", server, "")
	k = binary.BigEndian.AppendUint64(k, uint64(t.UnixNano()))
	return binary.BigEndian.AppendUint32(k, seq)
}

// AppendEvent adds e to the history of e.Server. Events expire after
// HistoryTTL; beyond MaxHistory per server the oldest are deleted, at the
// next flush.
func (s *DB) AppendEvent(e Event) error {
	if e.Server == "" {
		return errors.New("appending event: no server")
	}
	if e.Time.IsZero() {
		e.Time = s.now()
	}
	data, err := json.Marshal(e)
	if err != nil {
		return fmt.Errorf("appending event of %q: %w", e.Server, err)
	}
	key := eventKey(e.Server, e.Time, s.seq.Add(1))
	err = s.update(func(txn *badger.Txn) error {
		return txn.SetEntry(badger.NewEntry(key, data).WithTTL(s.opts.HistoryTTL))
	})
	if err != nil {
		return fmt.Errorf("appending event of %q: %w", e.Server, err)
	}
	s.mu.Lock()
	s.events[e.Server]++
	s.mu.Unlock()
	return nil
}

// History returns the newest limit events of server, newest first; all of
// them if limit is zero or less. Server "" means all servers, merged.
func (s *DB) History(server string, limit int) ([]Event, error) {
	var events []Event
	err := s.view(func(txn *badger.Txn) error {
		var err error
		if server == "" {
			events, err = mergedHistory(txn, limit)
		} else {
			events, err = serverHistory(txn, server, limit)
		}
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("reading history of %q: %w", server, err)
	}
	return events, nil
}

// serverHistory iterates over the events of server from the newest.
func serverHistory(txn *badger.Txn, server string, limit int) ([]Event, error) {
	prefix := makeKey("ev", server, "")
	opts := badger.DefaultIteratorOptions
	opts.Reverse, opts.Prefix = true, prefix
	it := txn.NewIterator(opts)
	defer it.Close()
	var events []Event
	// A reverse iterator starts at the last key not after the one sought:
	// prefix+0xff is after every event key, whose times are positive.
	for it.Seek(append(prefix, 0xff)); it.Valid(); it.Next() {
		e, err := decodeEvent(it.Item())
		if err != nil {
			return nil, err
		}
		events = append(events, e)
		if len(events) == limit {
			break
		}
	}
	return events, nil
}

// eventRef is an event's key, with the time and sequence read from it.
type eventRef struct {
	key  []byte
	time uint64
	seq  uint32
}

// mergedHistory sorts the keys of all events by time and reads the newest.
func mergedHistory(txn *badger.Txn, limit int) ([]Event, error) {
	var refs []eventRef
	eachKey(txn, []byte("ev/"), func(k []byte) {
		if len(k) >= eventSuffixLen {
			tail := k[len(k)-eventSuffixLen:]
			refs = append(refs, eventRef{slices.Clone(k),
				binary.BigEndian.Uint64(tail), binary.BigEndian.Uint32(tail[8:])})
		}
	})
	slices.SortFunc(refs, func(a, b eventRef) int {
		return cmp.Or(cmp.Compare(b.time, a.time), cmp.Compare(b.seq, a.seq))
	})
	if limit > 0 && len(refs) > limit {
		refs = refs[:limit]
	}
	events := make([]Event, 0, len(refs))
	for _, r := range refs {
		item, err := txn.Get(r.key)
		if err != nil {
			return nil, err
		}
		e, err := decodeEvent(item)
		if err != nil {
			return nil, err
		}
		events = append(events, e)
	}
	return events, nil
}

func decodeEvent(item *badger.Item) (Event, error) {
	var e Event
	err := item.Value(func(v []byte) error { return json.Unmarshal(v, &e) })
	if err != nil {
		return Event{}, fmt.Errorf("decoding event %q: %w", item.Key(), err)
	}
	return e, nil
}

// eachKey calls fn with every key under prefix, in order, without reading
// values. The key is valid only during the call.
func eachKey(txn *badger.Txn, prefix []byte, fn func(key []byte)) {
	opts := badger.DefaultIteratorOptions
	opts.PrefetchValues, opts.Prefix = false, prefix
	it := txn.NewIterator(opts)
	defer it.Close()
	for it.Rewind(); it.Valid(); it.Next() {
		fn(it.Item().Key())
	}
}

// countHistory fills s.events from the keys in the store.
func (s *DB) countHistory() error {
	return s.db.View(func(txn *badger.Txn) error {
		eachKey(txn, []byte("ev/"), func(k []byte) {
			if len(k) < len("ev/x/")+eventSuffixLen {
				return
			}
			server, err := url.PathUnescape(string(k[len("ev/") : len(k)-eventSuffixLen-1]))
			if err == nil {
				s.events[server]++
			}
		})
		return nil
	})
}

// trimHistory deletes the oldest events of servers that have more than
// MaxHistory. The caller holds life and flushMu.
func (s *DB) trimHistory() error {
	s.mu.Lock()
	over := make(map[string]int)
	for server, n := range s.events {
		if n > s.opts.MaxHistory {
			over[server] = n
		}
	}
	s.mu.Unlock()
	var errs []error
	for server, counted := range over {
		kept, err := s.trimServer(server)
		if err != nil {
			errs = append(errs, fmt.Errorf("trimming history of %q: %w", server, err))
			continue
		}
		s.mu.Lock()
		s.events[server] += kept - counted // keeps what was appended meanwhile
		s.mu.Unlock()
	}
	return errors.Join(errs...)
}

// trimServer deletes the oldest events of server beyond MaxHistory and
// returns how many it kept.
func (s *DB) trimServer(server string) (int, error) {
	var keys [][]byte
	err := s.db.View(func(txn *badger.Txn) error {
		eachKey(txn, makeKey("ev", server, ""), func(k []byte) {
			keys = append(keys, slices.Clone(k))
		})
		return nil
	})
	if err != nil || len(keys) <= s.opts.MaxHistory {
		return len(keys), err
	}
	wb := s.db.NewWriteBatch()
	defer wb.Cancel()
	for _, k := range keys[:len(keys)-s.opts.MaxHistory] {
		if err := wb.Delete(k); err != nil {
			return 0, err
		}
	}
	if err := wb.Flush(); err != nil {
		return 0, err
	}
	return s.opts.MaxHistory, nil
}
