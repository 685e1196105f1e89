package main

import (
	"context"
	"encoding/json"
	"flag"
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
	fs := newFlagSet("history", stderr, &c)
	dir.register(fs)
	limit := fs.Int("limit", 50, "print at most this many events; 0 for all")
	asJSON := fs.Bool("json", false, "print JSON instead of a table")
	server, err := parseWithServer(fs, args)
	if err != nil {
		return err
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
	logger := newLogger(stderr, lvl, m)
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

// parseWithServer parses args, which may hold one server name before,
// between or after the flags, and returns the name.
func parseWithServer(fs *flag.FlagSet, args []string) (string, error) {
	if err := fs.Parse(args); err != nil {
		return "", err
	}
	if fs.NArg() == 0 {
		return "", nil
	}
	server := fs.Arg(0)
	if err := fs.Parse(fs.Args()[1:]); err != nil {
		return "", err
	}
	if fs.NArg() > 0 {
		return "", fmt.Errorf("history takes one server at most, got %q", append([]string{server}, fs.Args()...))
	}
	return server, nil
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
