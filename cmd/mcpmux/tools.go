package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/mcpmux/mcpmux/internal/mux"
	"github.com/mcpmux/mcpmux/proxy"
	"github.com/mcpmux/mcpmux/upstream"
)

// runTools starts every upstream, waits until each has delivered its
// catalogue or failed (as the first tools/list of serve does), prints the
// merged tool catalogue, and stops them all again. It fails, after
// printing what it has, if any upstream did not deliver its catalogue.
func runTools(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var c commonFlags
	fs := newFlagSet("tools", stdout, &c)
	asJSON := fs.Bool("json", false, "print JSON instead of a table")
	var waitFlag durationFlag
	fs.Var(&waitFlag, "wait", "wait at most `D` (such as 10s) for the upstreams (default: each one's \"startTimeout\")")
	wait := (*time.Duration)(&waitFlag)
	if _, err := parseArgs(fs, "tools", args, 0); err != nil {
		return err
	}
	cfg, logger, err := setup(&c, stderr)
	if err != nil {
		return err
	}
	defer c.close()
	k, stopKeeper := startKeeper(ctx, stderr, logger)
	defer stopKeeper()
	m := mux.New(cfg, mux.Options{Logger: logger, Version: version(), Headless: true, Groups: groups(k), Env: readAncestry().childEnv(cfg)})
	srv, sups := m.Proxy(), m.Upstreams()
	stop := m.Start(ctx)
	waitCtx := ctx
	if *wait > 0 {
		var cancelWait context.CancelFunc
		waitCtx, cancelWait = context.WithTimeout(ctx, *wait)
		defer cancelWait()
	}
	srv.WaitCatalogues(waitCtx)
	statuses := make([]upstream.Status, len(sups))
	for i, s := range sups {
		statuses[i] = s.Status()
	}
	stop()

	var failed []string
	for _, st := range statuses {
		if st.State != upstream.StateReady {
			failed = append(failed, strconv.Quote(st.Server))
			why := mux.Masker(cfg).String(st.LastError)
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
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		err = enc.Encode(srv.Tools())
	} else {
		err = printTools(stdout, srv.Tools())
	}
	if err == nil && len(failed) > 0 {
		err = fmt.Errorf("%d of %d upstreams unavailable: %s", len(failed), len(statuses)+len(cfg.Invalid), strings.Join(failed, ", "))
	}
	return err
}

// printTools writes the catalogue as a table: exposed name, server,
// original name, and the first line of the description.
func printTools(w io.Writer, tools []proxy.ToolInfo) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "NAME\tSERVER\tORIGINAL\tDESCRIPTION")
	for _, t := range tools {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", t.Name, t.Server, t.Original, firstLine(t.Description, 80))
	}
	return tw.Flush()
}

func firstLine(s string, max int) string {
	s, _, _ = strings.Cut(strings.TrimSpace(s), "\n")
	if r := []rune(s); len(r) > max {
		return string(r[:max-1]) + "…"
	}
	return s
}
