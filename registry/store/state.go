package store

import (
	"encoding/json"
	"fmt"
	"net/url"
	"time"

	"github.com/dgraph-io/badger/v4"
)

// States of a [ServerState], as a supervisor names them.
const (
	StateStarting = "starting"
	StateReady    = "ready"
	StateBackoff  = "backoff"
	StateIdle     = "idle"
	StateStopped  = "stopped"
	// StateInvalid: the server's entry in the configuration cannot be
	// used; LastError says why. It has no supervisor.
	StateInvalid = "invalid"
)

// ServerState is the state of one upstream server as a serving mcpmux saw
// it: a copy of its supervisor's status, in this package's terms.
type ServerState struct {
	// Server is the name of the upstream server.
	Server string `json:"server"`
	// State is the supervisor's state by name: StateStarting, StateReady,
	// StateBackoff, StateIdle or StateStopped; or StateInvalid.
	State string `json:"state"`
	// Since is when State was entered.
	Since time.Time `json:"since"`
	// LastError is why the last connection or attempt failed, if one did.
	LastError string `json:"lastError,omitempty"`
	// Attempt counts the failed attempts in a row.
	Attempt int `json:"attempt,omitempty"`
	// Restarts counts the connections made after the first.
	Restarts int `json:"restarts"`
	// PID is the upstream's process id while it runs, else zero.
	PID int `json:"pid,omitempty"`
	// MuxPID is the process id of the mcpmux that recorded the state.
	MuxPID int `json:"muxPid,omitempty"`
}

// States returns the last known state of every server that has one, keyed
// by server name.
func (s *DB) States() (map[string]ServerState, error) {
	states := make(map[string]ServerState)
	prefix := []byte("state/")
	err := s.view(func(txn *badger.Txn) error {
		opts := badger.DefaultIteratorOptions
		opts.Prefix = prefix
		it := txn.NewIterator(opts)
		defer it.Close()
		for it.Rewind(); it.Valid(); it.Next() {
			server, err := url.PathUnescape(string(it.Item().Key()[len(prefix):]))
			if err != nil {
				return fmt.Errorf("decoding key %q: %w", it.Item().Key(), err)
			}
			var st ServerState
			if err := it.Item().Value(func(v []byte) error { return json.Unmarshal(v, &st) }); err != nil {
				return fmt.Errorf("decoding state of %q: %w", server, err)
			}
			states[server] = st
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("reading server states: %w", err)
	}
	return states, nil
}
