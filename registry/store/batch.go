package store

import (
	"encoding/json"
	"errors"
	"fmt"
	"maps"

	"github.com/dgraph-io/badger/v4"

	"github.com/mcpmux/mcpmux/registry"
)

// Batch is a set of writes that [DB.Write] applies together. The zero
// value is an empty batch.
type Batch struct {
	// Catalogues replace the stored catalogue of each server they are
	// keyed by.
	Catalogues map[string]registry.Catalogue
	// States replace the last known state of each server they are keyed by.
	States map[string]ServerState
	// Calls are added to the stored statistics: server → tool → stats.
	Calls map[string]map[string]CallStats
	// Events are appended to the servers' histories.
	Events []Event
}

// Empty reports whether b holds no writes.
func (b *Batch) Empty() bool {
	return len(b.Catalogues) == 0 && len(b.States) == 0 && len(b.Calls) == 0 && len(b.Events) == 0
}

// addCall counts one call in b.
func (b *Batch) addCall(server, tool string, st CallStats) {
	if b.Calls == nil {
		b.Calls = make(map[string]map[string]CallStats)
	}
	tools := b.Calls[server]
	if tools == nil {
		tools = make(map[string]CallStats)
		b.Calls[server] = tools
	}
	sum := tools[tool]
	sum.merge(st)
	tools[tool] = sum
}

// requeue puts the writes of older, a batch that could not be written, back
// in front of b's: b's catalogues and states are newer and win, events keep
// their order and statistics add up.
func (b *Batch) requeue(older *Batch) {
	b.Catalogues = mergeNewer(older.Catalogues, b.Catalogues)
	b.States = mergeNewer(older.States, b.States)
	for server, tools := range older.Calls {
		for tool, st := range tools {
			b.addCall(server, tool, st)
		}
	}
	b.Events = append(older.Events, b.Events...)
}

// mergeNewer returns older with newer's entries copied over it.
func mergeNewer[V any](older, newer map[string]V) map[string]V {
	if older == nil {
		return newer
	}
	maps.Copy(older, newer)
	return older
}

// compactAfter is how many tables the store may hold before [DB.Write]
// merges them. Every Close turns what was written into a new table, so a
// store opened for one batch at a time would otherwise collect a table per
// batch, each one making the next open slower.
const compactAfter = 8

// Write applies b in one transaction, or in several if it is too big for
// one. What is committed is removed from b: after an error, b holds what was
// not written, but for catalogues that cannot be encoded, which are dropped
// (and reported) as no retry could write them.
func (s *DB) Write(b *Batch) error {
	if s.opts.ReadOnly {
		return fmt.Errorf("writing batch: %w", ErrReadOnly)
	}
	s.life.RLock()
	defer s.life.RUnlock()
	if s.closed {
		return fmt.Errorf("writing batch: %w", ErrClosed)
	}
	s.flushMu.Lock() // statistics are merged as flushStats merges them
	defer s.flushMu.Unlock()
	ops, invalid := s.batchOps(b)
	err := s.writeOps(ops)
	b.Events = unwritten(b.Events)
	if err != nil {
		return errors.Join(fmt.Errorf("writing batch: %w", err), invalid)
	}
	if len(s.db.Tables()) > compactAfter {
		if err := s.db.Flatten(1); err != nil {
			s.logger.Warn("compacting store", "err", err)
		}
	}
	return invalid
}

// batchOp is one write of a batch: set adds it to a transaction, done
// removes it from the batch once that transaction is committed.
type batchOp struct {
	set  func(*badger.Txn) error
	done func()
}

// batchOps lists the writes of b. Catalogues that cannot be encoded are
// removed from b and reported.
func (s *DB) batchOps(b *Batch) ([]batchOp, error) {
	var ops []batchOp
	var invalid []error
	for server, c := range b.Catalogues {
		data, err := marshalCatalogue(c)
		if err != nil {
			invalid = append(invalid, fmt.Errorf("encoding catalogue of %q: %w", server, err))
			delete(b.Catalogues, server)
			continue
		}
		ops = append(ops, batchOp{
			set:  func(txn *badger.Txn) error { return txn.Set(makeKey("cat", server), data) },
			done: func() { delete(b.Catalogues, server) },
		})
	}
	for server, st := range b.States {
		ops = append(ops, batchOp{
			set:  func(txn *badger.Txn) error { return setJSON(txn, makeKey("state", server), st) },
			done: func() { delete(b.States, server) },
		})
	}
	for server, tools := range b.Calls {
		for tool, st := range tools {
			ops = append(ops, batchOp{
				set:  func(txn *badger.Txn) error { return mergeStats(txn, statKey{server, tool}, st) },
				done: func() { delete(tools, tool); deleteIfEmpty(b.Calls, server) },
			})
		}
	}
	for i := range b.Events {
		e := &b.Events[i]
		if e.Server == "" {
			continue // dropped by unwritten
		}
		if e.Time.IsZero() {
			e.Time = s.now()
		}
		key, data, err := s.encodeEvent(*e)
		if err != nil {
			invalid = append(invalid, err)
			e.Server = ""
			continue
		}
		ops = append(ops, batchOp{
			set: func(txn *badger.Txn) error {
				return txn.SetEntry(badger.NewEntry(key, data).WithTTL(s.opts.HistoryTTL))
			},
			done: func() { s.countEvent(e.Server); e.Server = "" },
		})
	}
	return ops, errors.Join(invalid...)
}

func deleteIfEmpty(m map[string]map[string]CallStats, server string) {
	if len(m[server]) == 0 {
		delete(m, server)
	}
}

// unwritten returns the events that batchOps did not mark written (by
// clearing their Server).
func unwritten(events []Event) []Event {
	var out []Event
	for _, e := range events {
		if e.Server != "" {
			out = append(out, e)
		}
	}
	return out
}

// writeOps commits ops in as few transactions as they fit in, calling each
// op's done once it is committed.
func (s *DB) writeOps(ops []batchOp) error {
	txn := s.db.NewTransaction(true)
	defer func() { txn.Discard() }()
	var inTxn []batchOp
	commit := func() error {
		if err := txn.Commit(); err != nil {
			return err
		}
		for _, op := range inTxn {
			op.done()
		}
		inTxn = inTxn[:0]
		return nil
	}
	for _, op := range ops {
		err := op.set(txn)
		if errors.Is(err, badger.ErrTxnTooBig) && len(inTxn) > 0 {
			if err := commit(); err != nil {
				return err
			}
			txn = s.db.NewTransaction(true)
			err = op.set(txn)
		}
		if err != nil {
			return err
		}
		inTxn = append(inTxn, op)
	}
	return commit()
}

// setJSON stores v as JSON under key in txn.
func setJSON(txn *badger.Txn, key []byte, v any) error {
	data, err := json.Marshal(v)
	if err != nil {
		return err
	}
	return txn.Set(key, data)
}

// encodeEvent returns the key and value of e.
func (s *DB) encodeEvent(e Event) (key, data []byte, err error) {
	data, err = json.Marshal(e)
	if err != nil {
		return nil, nil, fmt.Errorf("encoding event of %q: %w", e.Server, err)
	}
	return eventKey(e.Server, e.Time, s.seq.Add(1)), data, nil
}

// countEvent counts a stored event of server, for trimming.
func (s *DB) countEvent(server string) {
	s.mu.Lock()
	s.events[server]++
	s.mu.Unlock()
}
