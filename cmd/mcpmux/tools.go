package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"sync"
	"text/tabwriter"
	"time"

	"github.com/mcpmux/mcpmux/proxy"
	"github.com/mcpmux/mcpmux/upstream"
)

// runTools starts every upstream, waits until each is ready or has failed,
// prints the merged tool catalogue, and stops them all again.
func runTools(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var c commonFlags
	fs := newFlagSet("tools", stderr, &c)
	asJSON := fs.Bool("json", false, "print JSON instead of a table")
	wait := fs.Duration("wait", 60*time.Second, "how long to wait for upstreams to start")
	if err := fs.Parse(args); err != nil {
		return err
	}
	cfg, logger, err := setup(c, stderr)
	if err != nil {
		return err
	}
	srv, sups := build(cfg, logger, wiring{})

	ctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	for _, s := range sups {
		wg.Go(func() { _ = s.Run(ctx) })
	}
	settle(ctx, sups, *wait)
	statuses := make([]upstream.Status, len(sups))
	for i, s := range sups {
		statuses[i] = s.Status()
	}
	cancel()
	wg.Wait()

	for _, st := range statuses {
		if st.State != upstream.StateReady {
			fmt.Fprintf(stderr, "mcpmux: upstream %q is unavailable (%s): %s\n", st.Server, st.State, st.LastError)
		}
	}
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(srv.Tools())
	}
	return printTools(stdout, srv.Tools())
}

// settle waits until no upstream is still starting, or until d has passed.
func settle(ctx context.Context, sups []*upstream.Supervisor, d time.Duration) {
	deadline := time.NewTimer(d)
	defer deadline.Stop()
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		starting := false
		for _, s := range sups {
			if s.Status().State == upstream.StateStarting {
				starting = true
			}
		}
		if !starting {
			return
		}
		select {
		case <-ctx.Done():
			return
		case <-deadline.C:
			return
		case <-tick.C:
		}
	}
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
