package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/mcpmux/mcpmux/internal/mux"
	"github.com/mcpmux/mcpmux/registry/store"
)

// runHistory prints the connection history of one server, or of all,
// newest first.
func runHistory(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var c commonFlags
	var dir dataDirFlag
	fs := newFlagSet("history", stdout, &c)
	dir.register(fs)
	limit := fs.Int("limit", 50, "print at most `N` events; 0 for all")
	asJSON := fs.Bool("json", false, "print JSON instead of a table")
	servers, err := parseArgs(fs, "history", args, 1)
	if err != nil {
		return err
	}
	server := ""
	if len(servers) == 1 {
		server = servers[0]
	}
	lvl, err := parseLevel(c.logLevel)
	if err != nil {
		return err
	}
	// The store holds masked text; an older one may not, so the reasons
	// are masked again with the configuration's secrets, if it can be read.
	cfg, err := loadConfig(c)
	if err != nil && c.config != "" {
		return err
	}
	m := mux.Masker(cfg)
	w, err := c.logWriter(stderr)
	if err != nil {
		return err
	}
	defer c.close()
	logger := newLogger(w, lvl, m)
	path, err := dir.path()
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, readTimeout)
	defer cancel()
	events, err := openStore(path, logger).History(ctx, server, *limit)
	if err != nil {
		return err
	}
	for i := range events {
		events[i].Reason = m.String(events[i].Reason)
	}
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(append([]store.Event{}, events...)) // [] rather than null
	}
	return printHistory(stdout, events)
}

// printHistory writes one aligned row per event.
func printHistory(w io.Writer, events []store.Event) error {
	rows := make([][]string, 0, len(events))
	for _, e := range events {
		rows = append(rows, []string{e.Time.Local().Format(time.DateTime), e.Server, string(e.Kind), eventDetail(e)})
	}
	return printTable(w, []string{"TIME", "SERVER", "EVENT", "DETAIL"}, rows)
}

// eventDetail describes an event's reason, duration and attempt.
func eventDetail(e store.Event) string {
	var parts []string
	if e.Duration > 0 {
		parts = append(parts, "after "+roundAge(e.Duration))
	}
	if e.Attempt > 0 {
		parts = append(parts, fmt.Sprintf("attempt %d", e.Attempt))
	}
	if e.Reason != "" {
		parts = append(parts, firstLine(e.Reason, 100))
	}
	return strings.Join(parts, ", ")
}
