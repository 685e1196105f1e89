// Package doctor answers "what is wrong with my servers, and how do I fix
// it": it starts every configured upstream on its own, times each step
// (start, initialize, listing), and turns what it sees into [Problem]s,
// each with a fix a person can apply. mcpmux doctor prints the [Report].
//
// A stdio server is probed by a small client of this package, which sees
// what mcpmux tolerates but a person should fix (lines on stdout before
// initialize); a remote one through an [upstream.Supervisor], as serve
// reaches it. Exposed names are computed as the proxy computes them.
package doctor

import (
	"github.com/mcpmux/mcpmux/upstream/oauth"

	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/mcpmux/mcpmux/proxy"
	"github.com/mcpmux/mcpmux/registry"
)

// Options configures Run. The zero value means defaults.
type Options struct {
	// Env is added to every child's environment, as NAME=value entries
	// (mcpmux's marks, so that an entry that is mcpmux itself refuses).
	Env []string
	// LookPath finds a command as the child would; nil means a lookup in
	// the PATH the child gets.
	LookPath func(file, path string) (string, error)
	// Progress, if set, is told when a server's probe starts and ends.
	Progress func(server string, done bool)
	// OAuth logs in to remote servers that ask for it (see
	// upstream.Options.OAuth). Nil: a challenge is a problem.
	OAuth *oauth.Manager
}

// Problem is one thing wrong with a server, and how to fix it.
type Problem struct {
	What string `json:"problem"`
	Fix  string `json:"fix"`
}

// Check is what doctor found of one server.
type Check struct {
	Server string `json:"server"`
	// Start, Initialize and List are how long starting the child (or
	// connecting), its initialize and reading its lists took; zero if
	// not reached. A remote server's connection and initialize are timed
	// together, in Initialize.
	Start      time.Duration `json:"start,omitempty"`
	Initialize time.Duration `json:"initialize,omitempty"`
	List       time.Duration `json:"list,omitempty"`
	Tools      int           `json:"tools"`
	Disabled   bool          `json:"disabled,omitempty"`
	Problems   []Problem     `json:"problems,omitempty"`

	tools     []string // the upstream's own tool names
	toolBytes int      // the JSON of the tools it exposes
	long      []string // its exposed tools with descriptions past Claude Code's cap
}

// OK reports whether nothing is wrong.
func (c *Check) OK() bool { return len(c.Problems) == 0 }

func (c *Check) add(what, fix string, args ...any) {
	c.Problems = append(c.Problems, Problem{What: what, Fix: fmt.Sprintf(fix, args...)})
}

// Report is doctor's finding: one Check per server, sorted by name.
type Report struct {
	Config string   `json:"config"`
	Checks []*Check `json:"servers"`
	// Problems are those of the file itself (settings left at their
	// defaults).
	Problems []Problem `json:"problems,omitempty"`
	// ToolMode is the tool mode serve would be in, for the catalogue
	// doctor read.
	ToolMode ToolMode `json:"toolMode"`
}

// ToolMode is the tool mode in force for the servers doctor checked.
type ToolMode struct {
	Configured string `json:"configured"`
	Mode       string `json:"mode"` // "full" or "search"
	Why        string `json:"why"`
	Tools      int    `json:"tools"`
	// Warnings say what hosts will do to the catalogue, in full mode.
	Warnings []string `json:"warnings,omitempty"`
}

// OK reports whether nothing is wrong anywhere.
func (r *Report) OK() bool {
	if len(r.Problems) > 0 {
		return false
	}
	for _, c := range r.Checks {
		if !c.OK() {
			return false
		}
	}
	return true
}

// Run checks every server of cfg: the invalid entries from what the file
// says, and every enabled one by starting it, all at once. It returns when
// every probe is done; each is bounded by its server's startTimeout.
func Run(ctx context.Context, cfg *registry.Config, opts Options) *Report {
	r := &Report{Config: cfg.Path}
	for _, err := range cfg.Problems {
		r.Problems = append(r.Problems, Problem{What: err.Error(), Fix: "correct it, or remove it to use the default"})
	}
	for _, name := range slices.Sorted(maps.Keys(cfg.Invalid)) {
		r.Checks = append(r.Checks, invalidCheck(name, cfg.Invalid[name]))
	}
	var mu sync.Mutex
	var wg sync.WaitGroup
	for _, s := range cfg.Servers {
		if s.Disabled {
			mu.Lock()
			r.Checks = append(r.Checks, &Check{Server: s.Name, Disabled: true})
			mu.Unlock()
			continue
		}
		wg.Go(func() {
			if opts.Progress != nil {
				opts.Progress(s.Name, false)
				defer opts.Progress(s.Name, true)
			}
			c := probe(ctx, s, opts)
			mu.Lock()
			r.Checks = append(r.Checks, c)
			mu.Unlock()
		})
	}
	wg.Wait()
	slices.SortFunc(r.Checks, func(a, b *Check) int { return cmp.Compare(a.Server, b.Server) })
	for _, w := range cfg.Warnings {
		for _, c := range r.Checks {
			if strings.HasPrefix(w.Error(), fmt.Sprintf("server %q: ", c.Server)) {
				c.add(strings.TrimPrefix(w.Error(), fmt.Sprintf("server %q: ", c.Server)), "rename the key, or remove it")
			}
		}
	}
	checkNames(cfg, r.Checks)
	r.ToolMode = toolMode(cfg, r.Checks)
	return r
}

// toolMode decides the tool mode as serve would for the catalogues the
// checks read.
func toolMode(cfg *registry.Config, checks []*Check) ToolMode {
	tm := ToolMode{Configured: cfg.Mode(), Mode: registry.ToolModeFull}
	size := 0
	var long []string
	for _, c := range checks {
		tm.Tools += c.Tools
		size += c.toolBytes
		long = append(long, c.long...)
	}
	search, why := registry.DecideToolMode(cfg.Mode(), cfg.ToolBudget, tm.Tools, registry.EstimateTokens(size))
	tm.Why = why
	if search {
		tm.Mode = registry.ToolModeSearch
		return tm
	}
	tm.Warnings = registry.ToolWarnings(tm.Tools, long)
	return tm
}

// measure records the size of the tools of s that c exposes, and those
// whose descriptions are past Claude Code's cap.
func (c *Check) measure(s *registry.Server, tools []json.RawMessage) {
	for _, t := range tools {
		var v struct{ Name, Description string }
		if json.Unmarshal(t, &v) != nil || !s.ToolAllowed(v.Name) {
			continue
		}
		c.toolBytes += len(t) + 1
		if len(v.Description) > registry.ClaudeCodeDescMax {
			c.long = append(c.long, fmt.Sprintf("%s/%s (%d bytes)", s.Name, v.Name, len(v.Description)))
		}
	}
}

// probe checks one enabled server.
func probe(ctx context.Context, s *registry.Server, opts Options) *Check {
	if s.Transport() == registry.TransportStdio {
		return probeStdio(ctx, s, opts)
	}
	return probeRemote(ctx, s, opts)
}

var unsetVar = regexp.MustCompile(`variable \$\{([A-Za-z_][A-Za-z0-9_]*)\} is not set`)

// invalidCheck explains an entry mcpmux cannot use.
func invalidCheck(name string, err error) *Check {
	c := &Check{Server: name}
	for _, line := range strings.Split(err.Error(), "\n") {
		what := strings.TrimPrefix(line, fmt.Sprintf("server %q: ", name))
		if m := unsetVar.FindStringSubmatch(what); m != nil {
			c.add(what, "export %s before starting mcpmux, or set it in the \"env\" of mcpmux's entry in the host's config (GUI hosts pass none of your shell's variables); or write ${%s:-default}", m[1], m[1])
			continue
		}
		c.add(what, "correct the entry (mcpmux validate lists every problem); the other servers run without it")
	}
	return c
}

// checkNames reports the tools whose exposed names are not
// prefix__name: shortened or cleaned to fit every host, or changed
// because another tool has the same name. Each kind is one problem of
// the server, with a few of its tools for example.
func checkNames(cfg *registry.Config, checks []*Check) {
	var entries []proxy.NameEntry
	byServer := map[string]*Check{}
	for _, c := range checks {
		s := cfg.Servers[c.Server]
		if s == nil {
			continue
		}
		byServer[c.Server] = c
		for _, t := range c.tools {
			entries = append(entries, proxy.NameEntry{Server: c.Server, Prefix: s.ExposedPrefix(), Original: t})
		}
	}
	maxLen := cfg.ExposedNameLength()
	names := proxy.AssignNames(entries, maxLen)
	owners := map[string][]string{} // base name → servers
	for _, e := range entries {
		owners[base(e)] = append(owners[base(e)], e.Server)
	}
	type kinds struct{ collided, long, cleaned []string }
	found := map[string]*kinds{}
	for i, e := range entries {
		b := base(e)
		if names[i] == b {
			continue
		}
		k := found[e.Server]
		if k == nil {
			k = &kinds{}
			found[e.Server] = k
		}
		shown := fmt.Sprintf("%q as %s", firstChars(e.Original, 30), names[i])
		switch {
		case len(owners[b]) > 1:
			k.collided = append(k.collided, shown)
		case validChars(b):
			k.long = append(k.long, shown)
		default:
			k.cleaned = append(k.cleaned, shown)
		}
	}
	for _, server := range slices.Sorted(maps.Keys(found)) {
		c, k := byServer[server], found[server]
		if len(k.collided) > 0 {
			var others []string
			for _, e := range entries {
				if e.Server != server && slices.Contains(owners[base(e)], server) && !slices.Contains(others, e.Server) {
					others = append(others, e.Server)
				}
			}
			c.add(fmt.Sprintf("tools named as tools of %s get a hash: %s", strings.Join(others, ", "), examples(k.collided)),
				"give one of the servers another \"prefix\"")
		}
		if len(k.long) > 0 {
			c.add(fmt.Sprintf("names longer than nameLength (%d) with the prefix are shortened: %s", maxLen, examples(k.long)),
				"give the server a shorter \"prefix\" (\"\" for none), or raise \"nameLength\" if your hosts allow")
		}
		if len(k.cleaned) > 0 {
			c.add(fmt.Sprintf("names with characters hosts refuse (only A-Z a-z 0-9 _ - pass) are changed: %s", examples(k.cleaned)),
				"nothing to do: call them by the exposed names (mcpmux tools lists them)")
		}
	}
}

// examples shows the first three of list, and how many more there are.
func examples(list []string) string {
	if len(list) <= 3 {
		return strings.Join(list, ", ")
	}
	return fmt.Sprintf("%s and %d more", strings.Join(list[:3], ", "), len(list)-3)
}

// validChars reports whether s is made of the characters every host
// accepts in a tool name.
func validChars(s string) bool {
	for _, r := range s {
		if !(r == '_' || r == '-' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9') {
			return false
		}
	}
	return s != ""
}

// base is the exposed name an entry has when nothing needs to change.
func base(e proxy.NameEntry) string {
	if e.Prefix == "" {
		return e.Original
	}
	return e.Prefix + "__" + e.Original
}

// toolNames returns the "name" of each tool of a tools/list result.
func toolNames(tools []json.RawMessage) []string {
	var out []string
	for _, t := range tools {
		var v struct {
			Name string `json:"name"`
		}
		if json.Unmarshal(t, &v) == nil {
			out = append(out, v.Name)
		}
	}
	return out
}
