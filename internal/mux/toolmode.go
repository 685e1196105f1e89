package mux

import (
	"context"

	"github.com/mcpmux/mcpmux/proxy"
	"github.com/mcpmux/mcpmux/registry"
)

// ToolMode returns how the proxy lists tools under cfg.
func ToolMode(cfg *registry.Config) proxy.ToolMode {
	return proxy.ToolMode{Mode: cfg.Mode(), Budget: cfg.ToolBudget, AlwaysList: cfg.AlwaysList, Profiles: cfg.Profiles}
}

// toolModeStatus is the tool mode in mcpmux://status.
type toolModeStatus struct {
	// Configured is the configuration's (or --tool-mode's) mode.
	Configured string `json:"configured"`
	// Mode is the one in force: "full" or "search".
	Mode string `json:"mode"`
	// Why says why, in a phrase.
	Why string `json:"why"`
	// Tools is how many tools the merged catalogue holds.
	Tools int `json:"tools"`
	// Warnings are what hosts will do to a catalogue listed in full.
	Warnings []string `json:"warnings,omitempty"`
}

func (m *Mux) toolModeStatus() toolModeStatus {
	m.mu.Lock()
	configured := m.cfg.Mode()
	m.mu.Unlock()
	mode, why := m.srv.ToolModeInForce()
	return toolModeStatus{Configured: configured, Mode: mode, Why: why, Tools: len(m.srv.Tools()), Warnings: m.srv.ToolWarnings()}
}

// logToolMode logs the tool mode in force, and why, once every upstream
// has delivered its catalogue, failed or run out of its start timeout;
// in full mode, with what hosts will do to the catalogue. Later changes
// are logged by the proxy as they happen.
func (m *Mux) logToolMode(ctx context.Context) {
	m.srv.WaitCatalogues(ctx)
	if ctx.Err() != nil {
		return
	}
	st := m.toolModeStatus()
	m.logger.Info("tool mode", "mode", st.Mode, "why", st.Why, "configured", st.Configured, "tools", st.Tools)
	for _, w := range st.Warnings {
		m.logger.Warn("tool catalogue: "+w, "mode", st.Mode)
	}
}
