package mux

// --- statuspage (issue 21): what the status page reads and does. ---

import (
	"errors"
	"fmt"
	"maps"
	"time"

	"github.com/mcpmux/mcpmux/internal/statuspage"
	"github.com/mcpmux/mcpmux/proxy"
	"github.com/mcpmux/mcpmux/registry/pin"
	"github.com/mcpmux/mcpmux/registry/store"
)

// StatusPage returns the options of the status page of this mux (see
// statuspage.Handler): mcpmux://status's document, the catalogue's tool
// counts, the sessions, the calls the proxy served, and the actions.
// The caller sets the listener's Token and a Logger.
func (m *Mux) StatusPage() statuspage.Options {
	return statuspage.Options{
		Status:    m.Status,
		Tools:     m.toolCounts,
		Sessions:  m.sessionInfos,
		Calls:     m.calls,
		Restarted: m.pageRestarted,
		Actions:   pageActions{m},
		Masker:    m.masker,
		Version:   m.opts.Version,
	}
}

// onCall chains the page's record of each call after next (the
// recorder's, or nil).
func (m *Mux) onCall(next func(server, tool string, took time.Duration, outcome proxy.CallOutcome, err error)) func(server, tool string, took time.Duration, outcome proxy.CallOutcome, err error) {
	return func(server, tool string, took time.Duration, outcome proxy.CallOutcome, err error) {
		if next != nil {
			next(server, tool, took, outcome, err)
		}
		if err == nil && outcome != proxy.CallOK {
			err = errIsError // the page counts an isError result as an error
		}
		m.calls.Record(server, tool, took, err)
	}
}

var errIsError = errors.New("the tool's result is an error (isError)")

// toolCounts returns how many tools each server has in the merged
// catalogue.
func (m *Mux) toolCounts() map[string]int {
	out := map[string]int{}
	for _, t := range m.srv.Tools() {
		out[t.Server]++
	}
	return out
}

func (m *Mux) sessionInfos() []statuspage.Session {
	infos := m.srv.SessionInfos()
	out := make([]statuspage.Session, 0, len(infos))
	for _, s := range infos {
		out = append(out, statuspage.Session{Client: s.Client, ClientVersion: s.ClientVersion, Protocol: s.Protocol, Profile: s.Profile, Opened: s.Opened, Calls: s.Calls})
	}
	return out
}

// pageRestarted returns the restarts of the upstreams that the page's
// Restart replaced, by server.
func (m *Mux) pageRestarted() map[string]int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return maps.Clone(m.restarted)
}

// pageActions are the status page's actions on m.
type pageActions struct{ m *Mux }

var _ statuspage.Actions = pageActions{}

// Restart stops server's upstream and starts a new one in its place, as
// a reload does for an entry that changed: its tools stay listed, and its
// requests wait for the new connection.
func (a pageActions) Restart(server string) error {
	m := a.m
	m.reloadMu.Lock()
	defer m.reloadMu.Unlock()
	m.mu.Lock()
	old := m.ups[server]
	switch {
	case old == nil:
		m.mu.Unlock()
		return fmt.Errorf("no upstream %q is running: it is not in the configuration, or not enabled", server)
	case m.runner == nil || m.runner.closed:
		m.mu.Unlock()
		return errors.New("mcpmux is not running its upstreams")
	}
	old.retired.Store(true)
	r := m.newRunning(m.cfg, old.cfg)
	m.ups[server] = r
	if m.restarted == nil {
		m.restarted = map[string]int{}
	}
	m.restarted[server] += old.sup.Status().Restarts + 1 // this one too
	m.mu.Unlock()
	m.logger.Info("restarting upstream", "upstream", server, "why", "asked on the status page")
	m.srv.Reconfigure([]proxy.UpstreamChange{{Name: server, Cfg: old.cfg, Up: r.sup, KeepCatalogue: true}})
	if old.stop != nil {
		old.stop() // its child is gone before the new one starts
	}
	m.mu.Lock()
	m.launchLocked(r, false)
	m.mu.Unlock()
	return nil
}

// ReloadConfig reads the configuration file again and serves it (see
// Reload).
func (a pageActions) ReloadConfig() error {
	m := a.m
	if m.opts.Load == nil {
		return errors.New("this mcpmux has no configuration file to read again")
	}
	m.logger.Info("reloading the configuration", "why", "asked on the status page")
	cfg, err := m.opts.Load()
	if cfg == nil {
		err = fmt.Errorf("reading the configuration: %w", err)
		m.refuse(err)
		return err
	}
	return m.Reload(cfg)
}

// Trust approves server's withheld tool or prompt name, as mcpmux trust
// does: in the data directory's pins, which the proxy then judges by at
// once, or in the proxy's own book when pins are kept in memory.
func (a pageActions) Trust(server, name string) error {
	m := a.m
	approve := func(b *pin.Book) error {
		_, err := b.Approve(server, []string{name}, time.Now())
		return err
	}
	if m.opts.PinsDir == "" {
		b, _ := m.srv.Pins()
		if b == nil {
			return errors.New("tool pinning is off: nothing is withheld")
		}
		if err := approve(b); err != nil {
			return err
		}
		m.srv.SetPins(b)
		return nil
	}
	m.savePins() // what the proxy saw first, before the file is read back
	b, movedTo, err := store.UpdatePins(m.opts.PinsDir, approve)
	m.warnSetAside(movedTo, store.ErrPinsDamaged)
	if err != nil {
		return err
	}
	m.srv.SetPins(b)
	return nil
}
