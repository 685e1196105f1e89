package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/mcpmux/mcpmux/internal/jsonrpc"
	"github.com/mcpmux/mcpmux/internal/local"
	"github.com/mcpmux/mcpmux/internal/mux"
	"github.com/mcpmux/mcpmux/proxy"
	"github.com/mcpmux/mcpmux/registry"
	"github.com/mcpmux/mcpmux/registry/pin"
	"github.com/mcpmux/mcpmux/upstream"
)

// catalogue is what `mcpmux tools` prints: the lists a client sees.
type catalogue struct {
	Tools             []toolEntry       `json:"tools"`
	Prompts           []json.RawMessage `json:"prompts,omitempty"`
	Resources         []json.RawMessage `json:"resources,omitempty"`
	ResourceTemplates []json.RawMessage `json:"resourceTemplates,omitempty"`
}

// toolEntry is one tool of `mcpmux tools --json`: where it comes from,
// and the tool as the client sees it, schemas included.
type toolEntry struct {
	proxy.ToolInfo
	Tool json.RawMessage `json:"tool,omitempty"`
}

// runTools starts every upstream, waits until each has delivered its
// catalogue or failed (as the first tools/list of serve does), prints the
// merged catalogue, and stops them all again. It fails, after printing
// what it has, if any upstream did not deliver its catalogue.
func runTools(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var c commonFlags
	var dir dataDirFlag
	fs := newFlagSet("tools", stdout, &c)
	dir.register(fs)
	asJSON := fs.Bool("json", false, "print JSON: each tool as the client sees it (schemas included), with its server and original name; with --prompts or --resources, an object of the lists")
	prompts := fs.Bool("prompts", false, "list the prompts too")
	resources := fs.Bool("resources", false, "list the resources and resource templates too")
	profile := fs.String("profile", "", "list what the `NAME`d profile of the config's \"profiles\" sees")
	var wait durationFlag
	fs.Var(&wait, "wait", "wait at most `D` (such as 10s) for the upstreams (default: each one's \"startTimeout\")")
	if _, err := parseArgs(fs, "tools", args, 0); err != nil {
		return err
	}
	cfg, logger, masker, err := setupMasked(&c, stderr)
	if err != nil {
		return err
	}
	defer c.close()
	k, stopKeeper := startKeeper(ctx, stderr, logger)
	defer stopKeeper(false)
	p := newProgress(stderr, len(cfg.Enabled()), "ready")
	defer p.done()
	if err := checkProfile(cfg, *profile, false); err != nil {
		return err
	}
	// The catalogue itself, not search mode's three tools.
	cfg.ToolMode = registry.ToolModeFull
	if p := cfg.Profiles[*profile]; p != nil {
		p.ToolMode = ""
	}
	m := mux.New(cfg, mux.Options{Logger: logger, Version: version(), Headless: true, Profile: *profile, Groups: groups(k), Env: readAncestry().childEnv(cfg), Upstream: upstreamProgress(p),
		OAuth: newOAuth(personPresent(os.Stdin, stderr), stderr, logger, masker), Masker: masker, PinsDir: pinsDir(dir, logger)})
	cl, err := local.Start(ctx, m)
	if err != nil {
		return err
	}
	defer cl.Close()
	statuses := waitUpstreams(ctx, m, time.Duration(wait))
	cat, err := readCatalogue(ctx, cl, m.Proxy(), *prompts, *resources)
	withheld := m.Proxy().Withheld()
	cl.Close() // stops the upstreams
	if err != nil {
		return err
	}
	reportWithheld(stderr, withheld, *prompts)
	failed := reportUnavailable(stderr, cfg, statuses)
	switch {
	case *asJSON && !*prompts && !*resources:
		err = printJSON(stdout, cat.Tools)
	case *asJSON:
		err = printJSON(stdout, cat)
	default:
		err = printCatalogue(stdout, cat, *prompts, *resources)
	}
	if err == nil && len(failed) > 0 {
		err = fmt.Errorf("%d of %d upstreams unavailable: %s", len(failed), len(statuses)+len(cfg.Invalid), strings.Join(failed, ", "))
	}
	return err
}

// waitUpstreams waits until every upstream of m has delivered its
// catalogue or failed, within each one's start timeout and wait if
// positive, and returns their statuses.
func waitUpstreams(ctx context.Context, m *mux.Mux, wait time.Duration) []upstream.Status {
	if wait > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, wait)
		defer cancel()
	}
	m.Proxy().WaitCatalogues(ctx)
	statuses := make([]upstream.Status, 0, len(m.Upstreams()))
	for _, s := range m.Upstreams() {
		statuses = append(statuses, s.Status())
	}
	return statuses
}

// readCatalogue lists what the client sees.
func readCatalogue(ctx context.Context, cl *local.Client, srv *proxy.Server, prompts, resources bool) (*catalogue, error) {
	var cat catalogue
	raw, err := cl.List(ctx, "tools/list", "tools")
	if err != nil {
		return nil, fmt.Errorf("listing tools: %w", err)
	}
	byName := make(map[string]json.RawMessage, len(raw))
	for _, t := range raw {
		if name, ok := jsonrpc.StringMember(t, "name"); ok {
			byName[name] = t
		}
	}
	for _, info := range srv.Tools() {
		if t, ok := byName[info.Name]; ok { // a profile's client lists only its own
			cat.Tools = append(cat.Tools, toolEntry{ToolInfo: info, Tool: t})
		}
	}
	lists := []struct {
		want          bool
		method, field string
		dst           *[]json.RawMessage
	}{
		{prompts, "prompts/list", "prompts", &cat.Prompts},
		{resources, "resources/list", "resources", &cat.Resources},
		{resources, "resources/templates/list", "resourceTemplates", &cat.ResourceTemplates},
	}
	for _, l := range lists {
		if !l.want {
			continue
		}
		if *l.dst, err = cl.List(ctx, l.method, l.field); err != nil {
			return nil, fmt.Errorf("listing %s: %w", l.field, err)
		}
	}
	return &cat, nil
}

// pinsDir returns the data directory whose tool pins tools and call
// judge by, as serve does; "" (pins in memory) if there is none.
func pinsDir(dir dataDirFlag, logger *slog.Logger) string {
	path, err := dir.path()
	if err != nil {
		logger.Warn("judging tools without the data directory's pins", "err", err)
		return ""
	}
	return path
}

// reportWithheld writes to stderr each tool (and prompt, if listed) that
// pinning withholds, or shows under "warn", with why and the command
// that approves it.
func reportWithheld(stderr io.Writer, withheld []proxy.Withheld, prompts bool) {
	for _, w := range withheld {
		if w.Kind != pin.Tool && !prompts {
			continue
		}
		state := "withheld, not listed"
		if !w.Withheld {
			state = "not approved, listed under toolPinning \"warn\""
		}
		fmt.Fprintf(stderr, "mcpmux: %s %q of upstream %q is %s: %s. Approve it with: %s\n", w.Kind, w.Exposed, w.Server, state, printable(w.Reason), w.Approve)
	}
}

// reportUnavailable writes to stderr why each upstream that is not ready
// is not, and each problem of the configuration, and returns the names
// of the unavailable upstreams, quoted.
func reportUnavailable(stderr io.Writer, cfg *registry.Config, statuses []upstream.Status) []string {
	var failed []string
	masker := mux.Masker(cfg)
	for _, st := range statuses {
		if st.State != upstream.StateReady {
			failed = append(failed, strconv.Quote(st.Server))
			why := masker.String(st.LastError)
			if why == "" {
				why = "still starting"
			}
			fmt.Fprintf(stderr, "mcpmux: upstream %q is unavailable (%s): %s\n", st.Server, st.State, why)
		}
	}
	for _, name := range slices.Sorted(maps.Keys(cfg.Invalid)) {
		failed = append(failed, strconv.Quote(name))
		fmt.Fprintf(stderr, "mcpmux: upstream %q is unavailable (invalid): %s\n", name, strings.ReplaceAll(cfg.Invalid[name].Error(), "\n", "; "))
	}
	for _, err := range cfg.Problems {
		fmt.Fprintf(stderr, "mcpmux: configuration setting ignored; using the default: %s\n", err)
	}
	for _, err := range cfg.Warnings {
		fmt.Fprintf(stderr, "mcpmux: configuration key ignored: %s\n", err)
	}
	return failed
}

func printJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// printCatalogue writes the lists as tables: the tools (exposed name,
// server, original name, the first line of the description), then the
// prompts and the resources if asked for.
func printCatalogue(w io.Writer, cat *catalogue, prompts, resources bool) error {
	rows := make([][]string, 0, len(cat.Tools))
	for _, t := range cat.Tools {
		rows = append(rows, []string{t.Name, t.Server, t.Original, firstLine(t.Description, 80)})
	}
	if err := printTable(w, []string{"NAME", "SERVER", "ORIGINAL", "DESCRIPTION"}, rows); err != nil {
		return err
	}
	if prompts {
		fmt.Fprintln(w)
		if err := printTable(w, []string{"PROMPT", "DESCRIPTION"}, members(cat.Prompts, "name", "description")); err != nil {
			return err
		}
	}
	if resources {
		fmt.Fprintln(w)
		rows := members(cat.Resources, "uri", "name", "description")
		for _, r := range members(cat.ResourceTemplates, "uriTemplate", "name", "description") {
			rows = append(rows, append(r[:2:2], "(template) "+r[2]))
		}
		if err := printTable(w, []string{"RESOURCE", "NAME", "DESCRIPTION"}, rows); err != nil {
			return err
		}
	}
	return nil
}

// members returns a row of the string members keys of each entry; the
// last is cut to its first line.
func members(entries []json.RawMessage, keys ...string) [][]string {
	rows := make([][]string, 0, len(entries))
	for _, e := range entries {
		row := make([]string, len(keys))
		for i, k := range keys {
			row[i], _ = jsonrpc.StringMember(e, k)
			row[i] = firstLine(row[i], 80)
		}
		rows = append(rows, row)
	}
	return rows
}

func firstLine(s string, max int) string {
	s, _, _ = strings.Cut(strings.TrimSpace(s), "\n")
	if r := []rune(s); len(r) > max {
		return string(r[:max-1]) + "…"
	}
	return s
}
