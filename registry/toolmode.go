package registry

import (
	"bytes"
	"encoding/json"
	"fmt"
	"path"
	"slices"
	"strings"

	"github.com/mcpmux/mcpmux/internal/jsonrpc"
)

// The tool modes ([Config.ToolMode]).
const (
	// ToolModeFull lists every tool of every upstream.
	ToolModeFull = "full"
	// ToolModeSearch lists three tools (search_tools, describe_tools,
	// call_tool) and the always-listed ones; the model finds the others
	// by searching.
	ToolModeSearch = "search"
	// ToolModeAuto is full while the catalogue fits the tool budget, and
	// search beyond it. It is the default.
	ToolModeAuto = "auto"
)

// Defaults of [ToolBudget]. Claude Desktop cuts a connector at 256
// tools and VS Code sends at most 128 per request, to which its own tools
// count too; Copilot CLI defers tools past about 30. A catalogue of at
// most 100 tools, leaving VS Code room for its ~28 built-in ones, in at
// most 20,000 tokens (10% of a 200,000-token context) is listed in full.
// README.md explains the arithmetic.
const (
	DefaultBudgetTools  = 100
	DefaultBudgetTokens = 20000
)

// ToolBudget is how large a catalogue auto mode lists in full.
type ToolBudget struct {
	// Tools is the most tools listed in full. Zero means
	// [DefaultBudgetTools].
	Tools int `json:"tools,omitempty"`
	// Tokens is the most tokens the tools' definitions may cost, estimated
	// as their JSON's bytes divided by 4. Zero means [DefaultBudgetTokens].
	Tokens int `json:"tokens,omitempty"`
}

// Limits returns the budget with its defaults filled in.
func (b ToolBudget) Limits() (tools, tokens int) {
	tools, tokens = b.Tools, b.Tokens
	if tools <= 0 {
		tools = DefaultBudgetTools
	}
	if tokens <= 0 {
		tokens = DefaultBudgetTokens
	}
	return tools, tokens
}

// Mode returns the tool mode: ToolMode, or [ToolModeAuto] if unset.
func (c *Config) Mode() string {
	if c.ToolMode == "" {
		return ToolModeAuto
	}
	return c.ToolMode
}

// AlwaysListed reports whether the tool exposed as name, of server,
// stays listed in search mode: by the top-level alwaysList (names or
// globs), or by its server's alwaysList.
func AlwaysListed(patterns []string, server *Server, name string) bool {
	if server != nil && server.AlwaysList {
		return true
	}
	return matchAny(patterns, name)
}

// decodeToolMode decodes the top-level "toolMode", "toolBudget" and
// "alwaysList", if present; a bad one is left at its default.
func (c *Config) decodeToolMode(top map[string]json.RawMessage) []error {
	var errs []error
	if raw, ok := top["toolMode"]; ok {
		var m string
		switch err := json.Unmarshal(raw, &m); {
		case err != nil:
			errs = append(errs, fmt.Errorf(`field "toolMode": must be "full", "search" or "auto", got %s`, jsonrpc.Kind(raw)))
		case CheckToolMode(m) != nil:
			errs = append(errs, fmt.Errorf(`field "toolMode": %w`, CheckToolMode(m)))
		default:
			c.ToolMode = m
		}
	}
	if raw, ok := top["toolBudget"]; ok {
		if err := decodeStrict(raw, &c.ToolBudget); err != nil {
			errs = append(errs, fmt.Errorf(`field "toolBudget": %w`, err))
			c.ToolBudget = ToolBudget{}
		} else if c.ToolBudget.Tools < 0 || c.ToolBudget.Tokens < 0 {
			errs = append(errs, fmt.Errorf(`field "toolBudget": tools and tokens must not be negative`))
			c.ToolBudget = ToolBudget{}
		}
	}
	if raw, ok := top["alwaysList"]; ok {
		if err := json.Unmarshal(raw, &c.AlwaysList); err != nil {
			errs = append(errs, fmt.Errorf(`field "alwaysList": must be an array of tool names or patterns, got %s`, jsonrpc.Kind(raw)))
			c.AlwaysList = nil
		} else if err := checkGlobs(c.AlwaysList); err != nil {
			errs = append(errs, fmt.Errorf(`field "alwaysList": %w`, err))
			c.AlwaysList = nil
		}
	}
	return errs
}

// CheckToolMode reports a tool mode that is none of the three; "" is
// the default.
func CheckToolMode(m string) error {
	if m != "" && !slices.Contains([]string{ToolModeFull, ToolModeSearch, ToolModeAuto}, m) {
		return fmt.Errorf(`must be "full", "search" or "auto", got %q`, m)
	}
	return nil
}

// checkGlobs reports a pattern path.Match cannot read.
func checkGlobs(patterns []string) error {
	for _, p := range patterns {
		if _, err := path.Match(p, ""); err != nil {
			return fmt.Errorf("bad pattern %q: %w", p, err)
		}
	}
	return nil
}

// decodeStrict decodes raw into dst, refusing unknown keys.
func decodeStrict(raw json.RawMessage, dst any) error {
	d := json.NewDecoder(bytes.NewReader(raw))
	d.DisallowUnknownFields()
	if err := d.Decode(dst); err != nil {
		return fmt.Errorf("decoding: %w", err)
	}
	return nil
}

// DecideToolMode says whether search mode is in force for a catalogue of
// tools tools whose definitions cost about tokens tokens, under mode and
// budget, and why, in a phrase.
func DecideToolMode(mode string, budget ToolBudget, tools, tokens int) (search bool, why string) {
	switch mode {
	case ToolModeFull:
		return false, "toolMode is full"
	case ToolModeSearch:
		return true, "toolMode is search"
	}
	maxTools, maxTokens := budget.Limits()
	switch {
	case tools > maxTools:
		return true, fmt.Sprintf("auto: %d tools exceed the budget of %d", tools, maxTools)
	case tokens > maxTokens:
		return true, fmt.Sprintf("auto: about %d tokens of tool definitions exceed the budget of %d", tokens, maxTokens)
	}
	return false, fmt.Sprintf("auto: %d tools, about %d tokens, fit the budget of %d tools and %d tokens", tools, tokens, maxTools, maxTokens)
}

// EstimateTokens estimates what tool definitions of size bytes of JSON
// cost a model: a token for every 4 bytes.
func EstimateTokens(size int) int { return size / 4 }

// Limits of hosts that a catalogue listed in full runs into.
const (
	ClaudeDesktopTools = 256  // Claude Desktop drops a connector's tools past these
	VSCodeTools        = 128  // VS Code sends at most these to the model
	ClaudeCodeDescMax  = 2048 // Claude Code cuts a tool's description here, in bytes
)

// maxWarnedTools bounds how many tools a warning names.
const maxWarnedTools = 5

// ToolWarnings says what hosts will do to a catalogue of tools tools
// listed in full, of which long (each "name (N bytes)") have descriptions
// longer than Claude Code's cap.
func ToolWarnings(tools int, long []string) []string {
	var out []string
	switch {
	case tools > ClaudeDesktopTools:
		out = append(out, fmt.Sprintf("%d tools: Claude Desktop drops a connector's tools past %d and VS Code sends at most %d; consider \"toolMode\": \"search\" or \"auto\"", tools, ClaudeDesktopTools, VSCodeTools))
	case tools > VSCodeTools:
		out = append(out, fmt.Sprintf("%d tools: VS Code sends at most %d to the model; consider \"toolMode\": \"search\" or \"auto\"", tools, VSCodeTools))
	}
	if len(long) > 0 {
		more := ""
		if len(long) > maxWarnedTools {
			more = fmt.Sprintf(" and %d more", len(long)-maxWarnedTools)
			long = long[:maxWarnedTools]
		}
		out = append(out, fmt.Sprintf("descriptions longer than Claude Code's %d-byte cap, which it cuts: %s%s", ClaudeCodeDescMax, strings.Join(long, ", "), more))
	}
	return out
}
