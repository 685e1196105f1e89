package main

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/mcpmux/mcpmux/internal/mux"
	"github.com/mcpmux/mcpmux/registry"
	"github.com/mcpmux/mcpmux/registry/pin"
	"github.com/mcpmux/mcpmux/registry/store"
)

// readTimeout bounds how long status and history wait for a running
// mcpmux to let go of the store.
const readTimeout = 5 * time.Second

// runStatus prints what the registry knows of every configured server.
func runStatus(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var c commonFlags
	var dir dataDirFlag
	fs := newFlagSet("status", stdout, &c)
	dir.register(fs)
	asJSON := fs.Bool("json", false, "print JSON instead of a table")
	if _, err := parseArgs(fs, "status", args, 0); err != nil {
		return err
	}
	cfg, logger, err := setup(&c, stderr)
	if err != nil {
		return err
	}
	defer c.close()
	path, err := dir.path()
	if err != nil {
		return err
	}
	// An entry this process cannot use (a variable of the host's that is
	// not set here, say) is shown as a running serve sees it, or else as
	// invalid: status never needs a secret to run.
	servers := slices.Collect(maps.Values(cfg.Servers))
	for name := range cfg.Invalid {
		servers = append(servers, &registry.Server{Name: name})
	}
	slices.SortFunc(servers, func(a, b *registry.Server) int { return cmp.Compare(a.Name, b.Name) })
	ctx, cancel := context.WithTimeout(ctx, readTimeout)
	defer cancel()
	now := time.Now()
	sums, err := openStore(path, logger).Summarize(ctx, servers, now)
	pins, pinsErr := store.LoadPins(path)
	if err = errors.Join(err, pinsErr); err != nil {
		logger.Warn("reading the registry; showing what could be read", "dir", path, "err", err)
	}
	for i, s := range sums {
		if bad := cfg.Invalid[s.Server]; bad != nil && !s.Live {
			sums[i].State = &store.ServerState{Server: s.Server, State: store.StateInvalid, Since: now, LastError: bad.Error()}
			sums[i].Tools, sums[i].Fetched = 0, time.Time{}
		}
	}
	m := mux.Masker(cfg) // the store holds masked text; an older one may not
	for i := range sums {
		if st := sums[i].State; st != nil {
			masked := *st
			masked.LastError = m.String(st.LastError)
			sums[i].State = &masked
		}
	}
	logins := oauthLogins(cfg, sums)
	pending := pins.Pending("")
	serving := servingURLs(path, now)
	if *asJSON {
		return printStatusJSON(stdout, path, sums, logins, pending, serving)
	}
	if err := printStatus(stdout, sums, now); err != nil {
		return err
	}
	for _, sv := range serving {
		fmt.Fprintf(stdout, "\nmcpmux serve (pid %d) serves %s (metrics at %s/metrics)\n", sv.PID, sv.URL, sv.URL)
	}
	if err := printLogins(stdout, logins); err != nil || len(pending) == 0 {
		return err
	}
	fmt.Fprintf(stdout, "\n%d tool or prompt definitions are not approved (mcpmux trust SERVER [TOOL...] approves them):\n", len(pending))
	return printPending(stdout, pending, false)
}

// statusEntry is one server in `mcpmux status --json`.
type statusEntry struct {
	store.Summary
	ErrorRate float64 `json:"errorRate"`
	P50       string  `json:"latencyP50,omitempty"`
	P95       string  `json:"latencyP95,omitempty"`
}

// servingInstance is a running serve with an HTTP listener (--http or --metrics).
type servingInstance struct {
	PID int    `json:"pid"`
	URL string `json:"url"`
}

// servingURLs returns the running serves of dataDir that have an HTTP
// listener, from their live files.
func servingURLs(dataDir string, now time.Time) []servingInstance {
	insts, _ := store.Instances(dataDir)
	var out []servingInstance
	for _, inst := range insts {
		if inst.URL != "" && inst.Running(now) {
			out = append(out, servingInstance{inst.PID, inst.URL})
		}
	}
	return out
}

func printStatusJSON(w io.Writer, dataDir string, sums []store.Summary, logins *loginSummary, pending []pin.Pending, urls []servingInstance) error {
	type held struct {
		Server   string   `json:"server"`
		Kind     pin.Kind `json:"kind"`
		Name     string   `json:"name"`
		Withheld bool     `json:"withheld"`
		Reason   string   `json:"reason"`
	}
	out := struct {
		DataDir  string            `json:"dataDir"`
		Servers  []statusEntry     `json:"servers"`
		OAuth    *loginSummary     `json:"oauth,omitempty"`
		Withheld []held            `json:"withheld,omitempty"`
		Serving  []servingInstance `json:"serving,omitempty"`
	}{DataDir: dataDir, Servers: make([]statusEntry, len(sums)), OAuth: logins, Serving: urls}
	for _, p := range pending {
		out.Withheld = append(out.Withheld, held{p.Server, p.Kind, p.Name, p.Withheld, p.Reason()})
	}
	for i, s := range sums {
		e := statusEntry{Summary: s, ErrorRate: s.ErrorRate()}
		if s.Calls.Calls > 0 {
			e.P50, e.P95 = s.Calls.Latency.Quantile(0.5).String(), s.Calls.Latency.Quantile(0.95).String()
		}
		out.Servers[i] = e
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(out)
}

// printStatus writes one aligned row per server.
func printStatus(w io.Writer, sums []store.Summary, now time.Time) error {
	header := []string{"SERVER", "STATE", "SEEN", "FOR", "RESTARTS/24H", "TOOLS", "PROMPTS", "RESOURCES", "CALLS", "ERRORS", "P95", "LAST ERROR"}
	rows := make([][]string, 0, len(sums))
	for _, s := range sums {
		rows = append(rows, statusRow(s, now))
	}
	return printTable(w, header, rows)
}

// statusRow is the row of one server in the status table.
func statusRow(s store.Summary, now time.Time) []string {
	state, seen, since, lastErr := "-", "never", "-", ""
	switch {
	case s.State != nil:
		state, since, lastErr = s.State.State, roundAge(now.Sub(s.State.Since)), s.State.LastError
		seen = "last known"
		switch {
		case s.Live:
			seen = "live"
		case s.Gone:
			seen = "mcpmux gone"
		}
	case s.Disabled:
		state = "disabled"
	}
	errWidth := 60
	if s.State != nil && s.State.State == store.StateInvalid {
		if !s.Live {
			seen, since = "config", "-" // as this process reads the file
		}
		lastErr, errWidth = configProblems(s.Server, lastErr), 120
	}
	tools, prompts, resources := "-", "-", "-"
	if !s.Fetched.IsZero() {
		tools, prompts, resources = fmt.Sprint(s.Tools), fmt.Sprint(s.Prompts), fmt.Sprint(s.Resources+s.Templates)
		if s.Stale {
			tools += " (stale)"
		}
	}
	errs, p95 := "-", "-"
	if s.Calls.Calls > 0 {
		errs = fmt.Sprintf("%d (%.1f%%)", s.Calls.Errors, 100*s.ErrorRate())
		p95 = s.Calls.Latency.Quantile(0.95).Round(time.Millisecond).String()
	}
	return []string{s.Server, state, seen, since, fmt.Sprint(s.RestartsLastDay), tools, prompts, resources,
		fmt.Sprint(s.Calls.Calls), errs, p95, firstLine(lastErr, errWidth)}
}

// configProblems shortens the problems of an invalid entry for the table:
// without the server's name, which the row has, the first in full and the
// others counted.
func configProblems(server, problems string) string {
	lines := strings.Split(strings.TrimSpace(problems), "\n")
	first := strings.TrimPrefix(lines[0], fmt.Sprintf("server %q: ", server))
	if len(lines) > 1 {
		first += fmt.Sprintf(" (and %d more; see status --json)", len(lines)-1)
	}
	return first
}

// roundAge rounds an age for display: to a tenth of a second below a
// minute, to seconds below an hour, to minutes above.
func roundAge(d time.Duration) string {
	switch {
	case d < 0:
		return "0s"
	case d < time.Minute:
		return d.Round(100 * time.Millisecond).String()
	case d < time.Hour:
		return d.Round(time.Second).String()
	}
	return d.Round(time.Minute).String()
}
