package registry

import (
	"encoding/json"
	"fmt"
	"maps"
	"regexp"
	"slices"

	"github.com/mcpmux/mcpmux/internal/jsonrpc"
)

// Profile is one subset of the catalogue, for the clients that ask for
// it by name (serve --profile, /mcp/p/NAME): what they list, search and
// call. The zero value is the whole catalogue.
type Profile struct {
	// Name is the profile's key in "profiles". Not read from JSON.
	Name string `json:"-"`
	// Servers, if not empty, are the only servers whose tools the
	// profile has.
	Servers []string `json:"servers,omitempty"`
	// Tools chooses among those tools by their exposed names, with shell
	// patterns ("github__*"): with Allow, only those that match it; never
	// those that match Deny.
	Tools ToolFilter `json:"tools,omitzero"`
	// ToolMode is the profile's tool mode; empty means the configuration's.
	ToolMode string `json:"toolMode,omitempty"`
	// AlwaysList, if set, replaces the configuration's alwaysList for the
	// profile.
	AlwaysList []string `json:"alwaysList,omitempty"`
}

// Allows reports whether the profile has the tool of server exposed as
// name.
func (p *Profile) Allows(server, name string) bool {
	if len(p.Servers) > 0 && !slices.Contains(p.Servers, server) {
		return false
	}
	if len(p.Tools.Allow) > 0 && !matchAny(p.Tools.Allow, name) {
		return false
	}
	return !matchAny(p.Tools.Deny, name)
}

// validProfileName is what a profile's name may hold: it is a URL's path
// segment (/mcp/p/NAME) and a command-line argument.
var validProfileName = regexp.MustCompile(`^[A-Za-z0-9_.-]{1,64}$`)

// decodeProfiles decodes the top-level "profiles", if present. A profile
// with a problem is left out, and the problem returned.
func (c *Config) decodeProfiles(top map[string]json.RawMessage, servers []string) []error {
	raw, ok := top["profiles"]
	if !ok {
		return nil
	}
	var entries map[string]json.RawMessage
	if err := json.Unmarshal(raw, &entries); err != nil {
		return []error{fmt.Errorf(`field "profiles": must be an object of profiles by name, got %s`, jsonrpc.Kind(raw))}
	}
	var errs []error
	for _, name := range slices.Sorted(maps.Keys(entries)) {
		p := &Profile{Name: name}
		fail := func(format string, args ...any) {
			errs = append(errs, fmt.Errorf("profile %q: "+format, append([]any{name}, args...)...))
			p = nil
		}
		switch err := decodeStrict(entries[name], p); {
		case !validProfileName.MatchString(name):
			fail("the name may hold only A-Z a-z 0-9 _ . - (at most 64)")
		case err != nil:
			fail("%w", err)
		case CheckToolMode(p.ToolMode) != nil:
			fail(`field "toolMode": %w`, CheckToolMode(p.ToolMode))
		case checkGlobs(slices.Concat(p.Tools.Allow, p.Tools.Deny, p.AlwaysList)) != nil:
			fail("%w", checkGlobs(slices.Concat(p.Tools.Allow, p.Tools.Deny, p.AlwaysList)))
		}
		for _, s := range p.serverList() {
			if !slices.Contains(servers, s) {
				msg := fmt.Sprintf(`field "servers": no server %q in "mcpServers"`, s)
				if near := Closest(s, servers, 2); near != "" {
					msg += fmt.Sprintf("; did you mean %q?", near)
				}
				fail("%s", msg)
				break
			}
		}
		if p != nil {
			if c.Profiles == nil {
				c.Profiles = map[string]*Profile{}
			}
			c.Profiles[name] = p
		}
	}
	return errs
}

func (p *Profile) serverList() []string {
	if p == nil {
		return nil
	}
	return p.Servers
}

// ProfileNames returns the names of the profiles, sorted.
func (c *Config) ProfileNames() []string { return slices.Sorted(maps.Keys(c.Profiles)) }
