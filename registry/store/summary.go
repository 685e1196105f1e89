package store

import (
	"context"
	"errors"
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
	// Gone says the mcpmux that recorded State is no longer running (a
	// host killed it, say), so the server is not running either: State
	// says StateStopped, whatever that mcpmux last saw.
	Gone bool `json:"muxGone,omitempty"`
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

// Summarize returns a [Summary] of each of servers, in order: live states
// from the running instances' live files, the rest from the store, read
// while ctx lasts. A missing store is empty. The live files of instances
// that are gone are removed. If the store cannot be read, Summarize
// returns what the live files tell, and the error.
func (h *Handle) Summarize(ctx context.Context, servers []*registry.Server, now time.Time) ([]Summary, error) {
	insts, instErr := Instances(h.dataDir)
	live := liveStates(insts, now)
	running := make(map[int]bool)
	for _, inst := range insts {
		switch {
		case inst.Running(now):
			running[inst.PID] = true
		case !processAlive(inst.PID):
			_ = removeInstance(h.dataDir, inst.PID)
		}
	}
	res, err := h.do(ctx, &job{Op: opSummary, Servers: refs(servers), Now: now}, false)
	if errors.Is(err, fs.ErrNotExist) {
		err = nil
	}
	out := make([]Summary, len(servers))
	for i, srv := range servers {
		if res != nil && i < len(res.Summaries) {
			out[i] = res.Summaries[i]
		}
		out[i].Server, out[i].Disabled = srv.Name, srv.Disabled
		if st, ok := live[srv.Name]; ok {
			out[i].State, out[i].Live = &st, true
		} else if st := out[i].State; st != nil && muxGone(*st, running) {
			stopped := *st
			stopped.State, stopped.PID = StateStopped, 0
			out[i].State, out[i].Gone = &stopped, true
		}
	}
	return out, errors.Join(instErr, err)
}

// muxGone reports whether st, a recorded state that is not live, was
// recorded by an mcpmux that is gone while its server was still in use:
// the mcpmux did not stop it (a host killed it), so the state it last
// recorded is not true any more. The keeper of that mcpmux ended the
// server's process.
func muxGone(st ServerState, running map[int]bool) bool {
	switch st.State {
	case StateStopped, StateInvalid:
		return false
	}
	return st.MuxPID > 0 && !running[st.MuxPID] && !processAlive(st.MuxPID)
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
func summarizeStored(s *DB, srv serverRef, sum *Summary, now time.Time) error {
	c, ok, err := s.LoadCatalogue(srv.Name)
	if err != nil {
		return err
	}
	if ok {
		sum.Tools, sum.Prompts = len(c.Tools), len(c.Prompts)
		sum.Resources, sum.Templates = len(c.Resources), len(c.ResourceTemplates)
		sum.Fetched, sum.Stale = c.Fetched, c.Fingerprint != srv.Fingerprint
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
