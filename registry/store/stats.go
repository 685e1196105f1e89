package store

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"time"

	"github.com/dgraph-io/badger/v4"
)

// CallStats are the statistics of calls to one tool.
type CallStats struct {
	// Calls counts the calls, failed ones included.
	Calls int64 `json:"calls"`
	// Errors counts the failed calls.
	Errors int64 `json:"errors"`
	// Latency counts the calls by how long they took.
	Latency Histogram `json:"latency"`
	// LastCall is when the last call was recorded.
	LastCall time.Time `json:"lastCall"`
}

func (c *CallStats) merge(o CallStats) {
	c.Calls += o.Calls
	c.Errors += o.Errors
	c.Latency.merge(o.Latency)
	if o.LastCall.After(c.LastCall) {
		c.LastCall = o.LastCall
	}
}

// statKey names the statistics of one tool of one server.
type statKey struct{ server, tool string }

// RecordCall counts a call to tool of server that took latency. It only
// updates memory: the counts are written every few seconds, and on Close.
func (s *DB) RecordCall(server, tool string, latency time.Duration, failed bool) error {
	if s.opts.ReadOnly {
		return fmt.Errorf("recording call to %s of %q: %w", tool, server, ErrReadOnly)
	}
	now := s.now()
	s.life.RLock()
	defer s.life.RUnlock()
	if s.closed {
		return fmt.Errorf("recording call to %s of %q: %w", tool, server, ErrClosed)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.pending[statKey{server, tool}]
	if st == nil {
		st = new(CallStats)
		s.pending[statKey{server, tool}] = st
	}
	st.Calls++
	if failed {
		st.Errors++
	}
	st.Latency.observe(latency)
	st.LastCall = now
	return nil
}

// ToolStats returns the statistics of every tool of server that was
// called, keyed by tool name, calls not yet written included.
func (s *DB) ToolStats(server string) (map[string]CallStats, error) {
	s.life.RLock()
	defer s.life.RUnlock()
	if s.closed {
		return nil, fmt.Errorf("reading tool statistics of %q: %w", server, ErrClosed)
	}
	s.flushMu.Lock() // a flush moves statistics from pending to the database
	defer s.flushMu.Unlock()
	stats, err := s.storedStats(server)
	if err != nil {
		return nil, fmt.Errorf("reading tool statistics of %q: %w", server, err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for k, p := range s.pending {
		if k.server == server {
			st := stats[k.tool]
			st.merge(*p)
			stats[k.tool] = st
		}
	}
	return stats, nil
}

func (s *DB) storedStats(server string) (map[string]CallStats, error) {
	stats := make(map[string]CallStats)
	prefix := makeKey("stat", server, "")
	err := s.db.View(func(txn *badger.Txn) error {
		opts := badger.DefaultIteratorOptions
		opts.Prefix = prefix
		it := txn.NewIterator(opts)
		defer it.Close()
		for it.Rewind(); it.Valid(); it.Next() {
			tool, err := url.PathUnescape(string(it.Item().Key()[len(prefix):]))
			if err != nil {
				return fmt.Errorf("decoding key %q: %w", it.Item().Key(), err)
			}
			var st CallStats
			if err := it.Item().Value(func(v []byte) error { return json.Unmarshal(v, &st) }); err != nil {
				return fmt.Errorf("decoding statistics of %s: %w", tool, err)
			}
			stats[tool] = st
		}
		return nil
	})
	return stats, err
}

// flushStats adds the pending statistics to the stored ones. If that fails,
// they stay pending. The caller holds life and flushMu.
func (s *DB) flushStats() error {
	s.mu.Lock()
	batch := s.pending
	s.pending = make(map[statKey]*CallStats, len(batch))
	s.mu.Unlock()
	if len(batch) == 0 {
		return nil
	}
	err := s.writeStats(batch)
	if err == nil {
		return nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for k, st := range batch {
		if p := s.pending[k]; p != nil {
			st.merge(*p)
		}
		s.pending[k] = st
	}
	return fmt.Errorf("writing tool statistics: %w", err)
}

// writeStats merges batch into the database in one transaction, or more if
// it is too big for one. It removes what it has committed from batch.
func (s *DB) writeStats(batch map[statKey]*CallStats) error {
	txn := s.db.NewTransaction(true)
	defer func() { txn.Discard() }()
	var inTxn []statKey
	for k, st := range batch {
		err := mergeStats(txn, k, *st)
		if errors.Is(err, badger.ErrTxnTooBig) {
			if err := txn.Commit(); err != nil {
				return err
			}
			for _, c := range inTxn {
				delete(batch, c)
			}
			inTxn = inTxn[:0]
			txn = s.db.NewTransaction(true)
			err = mergeStats(txn, k, *st)
		}
		if err != nil {
			return err
		}
		inTxn = append(inTxn, k)
	}
	return txn.Commit()
}

// mergeStats adds st to the statistics stored under k, in txn.
func mergeStats(txn *badger.Txn, k statKey, st CallStats) error {
	key := makeKey("stat", k.server, k.tool)
	var stored CallStats
	item, err := txn.Get(key)
	switch {
	case errors.Is(err, badger.ErrKeyNotFound):
	case err != nil:
		return err
	default:
		// A record that does not decode is replaced rather than left to
		// fail every flush from now on.
		if item.Value(func(v []byte) error { return json.Unmarshal(v, &stored) }) != nil {
			stored = CallStats{}
		}
	}
	stored.merge(st)
	data, err := json.Marshal(stored)
	if err != nil {
		return err
	}
	return txn.Set(key, data)
}
