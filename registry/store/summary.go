package store

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"time"

	"github.com/mcpmux/mcpmux/registry"
)

// Summary is what a data directory knows of one configured server: its
// state, recent restarts, cached catalogue and call statistics. It is what
// `mcpmux status` shows.
type Summary struct {
	// Server is the server's name.
	Server string `json:"server"`
	// Disabled is the server's configuration setting.
	Disabled bool `json:"disabled,omitempty"`
	// Live says State comes from a running mcpmux; otherwise it is the
	// last state recorded, if any.
	Live bool `json:"live"`
	// State is the server's state, nil if none was ever recorded.
	State *ServerState `json:"state,omitempty"`
	// RestartsLastDay counts the restart events of the last 24 hours.
	RestartsLastDay int `json:"restartsLastDay"`
	// Tools, Prompts, Resources and Templates count the entries of the
	// cached catalogue.
	Tools     int `json:"tools"`
	Prompts   int `json:"prompts"`
	Resources int `json:"resources"`
	Templates int `json:"resourceTemplates"`
	// Fetched is when the cached catalogue was read; zero if there is none.
	Fetched time.Time `json:"catalogueFetched,omitzero"`
	// Stale says the cached catalogue was read with another configuration
	// than the current one: it will not be served.
	Stale bool `json:"catalogueStale,omitempty"`
	// Calls sums the statistics of the server's tools.
	Calls CallStats `json:"calls"`
}

// ErrorRate returns the fraction of calls that failed, 0 without calls.
func (s Summary) ErrorRate() float64 {
	if s.Calls.Calls == 0 {
		return 0
	}
	return float64(s.Calls.Errors) / float64(s.Calls.Calls)
}

// Summarize returns a [Summary] of each of servers, in order, from the
// data directory dataDir: live states from the running instances' live
// files, the rest from the store, which it opens read-only for a moment,
// waiting while a running mcpmux writes to it, until ctx ends. A missing
// store is empty. If the store cannot be read, Summarize returns what the
// live files tell, and the error.
func Summarize(ctx context.Context, dataDir string, servers []*registry.Server, now time.Time) ([]Summary, error) {
	out := make([]Summary, len(servers))
	for i, srv := range servers {
		out[i] = Summary{Server: srv.Name, Disabled: srv.Disabled}
	}
	insts, instErr := Instances(dataDir)
	live := liveStates(insts, now)
	err := Use(ctx, Dir(dataDir), Options{ReadOnly: true}, func(s *DB) error {
		states, err := s.States()
		if err != nil {
			return err
		}
		var errs []error
		for i, srv := range servers {
			if st, ok := states[srv.Name]; ok {
				out[i].State = &st
			}
			errs = append(errs, summarizeStored(s, srv, &out[i], now))
		}
		return errors.Join(errs...)
	})
	if errors.Is(err, fs.ErrNotExist) {
		err = nil
	}
	for i := range out {
		if st, ok := live[out[i].Server]; ok {
			out[i].State, out[i].Live = &st, true
		}
	}
	return out, errors.Join(instErr, err)
}

// liveStates returns the state of each server in the freshest running
// instance that has it.
func liveStates(insts []Instance, now time.Time) map[string]ServerState {
	live := make(map[string]ServerState)
	for _, inst := range insts { // newest heartbeat first
		if !inst.Running(now) {
			continue
		}
		for _, st := range inst.Servers {
			if _, ok := live[st.Server]; !ok {
				live[st.Server] = st
			}
		}
	}
	return live
}

// summarizeStored fills in sum from what the store holds of srv.
func summarizeStored(s *DB, srv *registry.Server, sum *Summary, now time.Time) error {
	c, ok, err := s.LoadCatalogue(srv.Name)
	if err != nil {
		return err
	}
	if ok {
		sum.Tools, sum.Prompts = len(c.Tools), len(c.Prompts)
		sum.Resources, sum.Templates = len(c.Resources), len(c.ResourceTemplates)
		sum.Fetched, sum.Stale = c.Fetched, c.Fingerprint != srv.Fingerprint()
	}
	stats, err := s.ToolStats(srv.Name)
	if err != nil {
		return err
	}
	for _, st := range stats {
		sum.Calls.merge(st)
	}
	events, err := s.History(srv.Name, 0)
	if err != nil {
		return err
	}
	for _, e := range events { // newest first
		if now.Sub(e.Time) > 24*time.Hour {
			break
		}
		if e.Kind == EventRestart {
			sum.RestartsLastDay++
		}
	}
	return nil
}

// ReadHistory returns the newest limit events of server (all servers if
// server is ""), newest first, as [DB.History] does, from the store of
// the data directory dataDir, which it opens read-only for a moment,
// waiting while a running mcpmux writes to it, until ctx ends. A missing
// store has no history.
func ReadHistory(ctx context.Context, dataDir, server string, limit int) ([]Event, error) {
	var events []Event
	err := Use(ctx, Dir(dataDir), Options{ReadOnly: true}, func(s *DB) error {
		var err error
		events, err = s.History(server, limit)
		return err
	})
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading history: %w", err)
	}
	return events, nil
}
