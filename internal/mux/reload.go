package mux

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"reflect"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/mcpmux/mcpmux/proxy"
	"github.com/mcpmux/mcpmux/registry"
)

// reloadOutcome is what mcpmux://status says of the last reload, under
// "config".
type reloadOutcome struct {
	// Path is the configuration file.
	Path string `json:"path,omitempty"`
	// At is when the configuration was last read again.
	At time.Time `json:"reloadedAt"`
	// Applied says whether it is the one served now.
	Applied bool `json:"applied"`
	// Error is why it was refused, masked; the configuration before it
	// is still served.
	Error string `json:"error,omitempty"`
}

// reloads reloads the configuration each time triggers says why (its
// file changed, a SIGHUP), reading it with load, until ctx ends or
// triggers is closed. See Reload.
func (m *Mux) reloads(ctx context.Context, triggers <-chan string, load func() (*registry.Config, error)) {
	for {
		select {
		case <-ctx.Done():
			return
		case why, ok := <-triggers:
			if !ok {
				return
			}
			m.logger.Info("reloading the configuration", "why", why)
			cfg, err := load()
			if cfg == nil {
				m.refuse(fmt.Errorf("reading the configuration: %w", err))
				continue
			}
			_ = m.Reload(cfg) // logged and shown in mcpmux://status
		}
	}
}

// Reload serves cfg from now on, if it brings no new problem, while the
// client is served: it starts the upstreams of the servers cfg adds,
// stops those of the servers it removes or disables, and restarts those
// whose entries changed (any field, secrets included); the others keep
// their connections and their requests in flight. An entry that changed
// only in how it is shown (prefix, tools, toolOverrides, promptOverrides)
// is merged again without a restart; a restarted one's tools stay listed
// until its new connection delivers its catalogue, and its requests
// meanwhile wait for that connection. The client is told once of each
// list that changed, and again as the new upstreams deliver catalogues
// that change them. It returns once the upstreams it stopped are gone and
// those it started are running.
//
// A configuration with a problem the one served does not have (a new or
// changed entry that is invalid, a wrong setting) is refused as a whole:
// the one served keeps running, and the error is logged and shown in
// mcpmux://status, and returned. nameLength and maxMessageSize cannot
// change while mcpmux runs: a change is logged, and takes effect at the
// next start.
func (m *Mux) Reload(cfg *registry.Config) error {
	m.reloadMu.Lock()
	defer m.reloadMu.Unlock()
	m.masker.Add(cfg.SecretValues()) // before anything may quote them
	m.mu.Lock()
	old := m.cfg
	m.mu.Unlock()
	if err := newProblems(old, cfg); err != nil {
		m.refuse(err)
		return err
	}
	m.keepSettings(old, cfg)
	m.srv.SetPinning(cfg.ToolPinning)
	d := m.apply(cfg)
	m.srv.SetToolMode(ToolMode(cfg))
	m.mu.Lock()
	m.reload = reloadOutcome{Path: cfg.Path, At: time.Now(), Applied: true}
	m.mu.Unlock()
	d.wait()
	m.logger.Info("configuration reloaded", "added", d.added, "removed", d.removed, "restarted", d.restarted, "reshown", d.reshown, "unchanged", d.unchanged)
	return nil
}

// refuse records that a new configuration was refused for err.
func (m *Mux) refuse(err error) {
	m.logger.Error("configuration refused; still serving the one before", "err", err)
	m.mu.Lock()
	m.reload = reloadOutcome{Path: m.cfg.Path, At: time.Now(), Error: err.Error()}
	m.mu.Unlock()
}

// newProblems returns the problems of cfg that old does not have: entries
// invalid now that were not, or not in the same way, and settings wrong
// now. An entry that was invalid and still is, alike, is no reason to
// refuse the rest.
func newProblems(old, cfg *registry.Config) error {
	var errs []error
	for _, name := range slices.Sorted(maps.Keys(cfg.Invalid)) {
		if was := old.Invalid[name]; was == nil || was.Error() != cfg.Invalid[name].Error() {
			errs = append(errs, cfg.Invalid[name])
		}
	}
	known := map[string]bool{}
	for _, err := range old.Problems {
		known[err.Error()] = true
	}
	for _, err := range cfg.Problems {
		if !known[err.Error()] {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// keepSettings keeps old's nameLength, maxMessageSize and limits
// (maxInFlight, maxSessions, maxInFlightTotal) in cfg: the exposed names,
// the readers' bounds and the clients' are set for the whole run.
func (m *Mux) keepSettings(old, cfg *registry.Config) {
	if cfg.ExposedNameLength() != old.ExposedNameLength() {
		m.logger.Warn("nameLength changed; it takes effect at the next start", "now", old.ExposedNameLength(), "next", cfg.ExposedNameLength())
	}
	if cfg.MessageSize() != old.MessageSize() {
		m.logger.Warn("maxMessageSize changed; it takes effect at the next start", "now", old.MessageSize().String(), "next", cfg.MessageSize().String())
	}
	if cfg.Limits != old.Limits {
		m.logger.Warn("maxInFlight, maxSessions or maxInFlightTotal changed; they take effect at the next start")
	}
	cfg.NameLength, cfg.MaxMessageSize, cfg.Limits = old.NameLength, old.MaxMessageSize, old.Limits
}

// diff is what a reload changed, by server name.
type diff struct {
	added, removed, restarted, reshown []string
	unchanged                          int
	pending                            sync.WaitGroup // the stops and starts under way
}

func (d *diff) wait() { d.pending.Wait() }

// apply makes cfg the configuration served (see Reload).
func (m *Mux) apply(cfg *registry.Config) *diff {
	d := &diff{}
	enabled := map[string]*registry.Server{}
	for _, s := range cfg.Enabled() {
		enabled[s.Name] = s
	}
	var changes []proxy.UpstreamChange
	var stops []func()
	m.mu.Lock()
	names := slices.Sorted(maps.Keys(m.ups))
	for name := range enabled {
		if m.ups[name] == nil {
			names = append(names, name)
		}
	}
	slices.Sort(names)
	var launch []*running
	replaced := map[*running]*running{} // new → old
	for _, name := range names {
		old, s := m.ups[name], enabled[name]
		switch {
		case s == nil:
			old.retired.Store(true)
			delete(m.ups, name)
			changes = append(changes, proxy.UpstreamChange{Name: name})
			stops = append(stops, old.stop)
			d.removed = append(d.removed, name)
			m.calls.Forget(name) // statuspage (issue 21)
			delete(m.restarted, name)
		case old == nil:
			r := m.newRunning(cfg, s)
			m.ups[name] = r
			changes = append(changes, proxy.UpstreamChange{Name: name, Cfg: s, Up: r.sup})
			launch = append(launch, r)
			d.added = append(d.added, name)
		case reflect.DeepEqual(old.cfg, s):
			d.unchanged++
		default:
			fields := changedFields(old.cfg, s)
			if shownOnly(fields) {
				old.cfg = s
				changes = append(changes, proxy.UpstreamChange{Name: name, Cfg: s, Up: old.sup})
				d.reshown = append(d.reshown, name)
				continue
			}
			old.retired.Store(true)
			r := m.newRunning(cfg, s)
			m.ups[name] = r
			changes = append(changes, proxy.UpstreamChange{Name: name, Cfg: s, Up: r.sup, KeepCatalogue: true})
			replaced[r] = old
			d.restarted = append(d.restarted, name)
			m.logger.Info("restarting upstream: its entry changed", "upstream", name, "fields", strings.Join(fields, ", "))
		}
	}
	m.cfg, m.invalid = cfg, cfg.Invalid
	for _, r := range launch {
		m.launchLocked(r, false)
	}
	m.mu.Unlock()

	m.srv.Reconfigure(changes)
	m.recordInvalid(cfg.Invalid)
	for _, stop := range stops {
		if stop != nil {
			d.pending.Go(stop)
		}
	}
	for r, old := range replaced {
		d.pending.Go(func() {
			if old.stop != nil {
				old.stop() // its child is gone before the new one starts
			}
			m.mu.Lock()
			m.launchLocked(r, false)
			m.mu.Unlock()
		})
	}
	return d
}

// shownFields are the fields of an entry that change only how its
// catalogue is shown, not the upstream.
var shownFields = []string{"prefix", "tools", "toolOverrides", "promptOverrides", "toolPinning"}

// shownOnly reports whether fields are all shownFields.
func shownOnly(fields []string) bool {
	for _, f := range fields {
		if !slices.Contains(shownFields, f) {
			return false
		}
	}
	return true
}

// changedFields returns the JSON names of the fields in which a and b
// differ. It names fields and never says their values, which may be
// secrets.
func changedFields(a, b *registry.Server) []string {
	va, vb := reflect.ValueOf(a).Elem(), reflect.ValueOf(b).Elem()
	var out []string
	for i := range va.NumField() {
		f := va.Type().Field(i)
		if !f.IsExported() || reflect.DeepEqual(va.Field(i).Interface(), vb.Field(i).Interface()) {
			continue
		}
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if name == "" || name == "-" {
			name = f.Name
		}
		out = append(out, name)
	}
	return out
}
