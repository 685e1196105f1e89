package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"time"

	"github.com/mcpmux/mcpmux/internal/jsonrpc"
	"github.com/mcpmux/mcpmux/registry/hosts"
)

// runImport merges the MCP servers of the hosts on this machine (or of
// --from FILE) into the configuration: a dry run unless --write.
func runImport(_ context.Context, args []string, _ io.Reader, stdout, stderr io.Writer) error {
	var c commonFlags
	fs := newFlagSet("import", stdout, &c)
	from := fs.String("from", "", "read the servers of `FILE` (any host's shape) instead of the hosts' files")
	only := fs.String("host", "", "read only the files of `HOST`: "+hostNames())
	write := fs.Bool("write", false, "write the merged configuration (without it, only show what would change)")
	replace := fs.String("replace-host", "", "with --write: rewrite the files of `HOST` to start mcpmux alone, after a backup")
	undo := fs.String("undo", "", "put back the latest backup of the file of `HOST` that --replace-host rewrote")
	if _, err := parseArgs(fs, "import", args, 0); err != nil {
		return err
	}
	env := hosts.CurrentEnv(runtime.GOOS)
	if *undo != "" {
		return undoHost(stdout, *undo, env)
	}
	config, _, err := configPath(c)
	if err != nil {
		return err
	}
	files, err := importSources(*from, *only, env)
	if err != nil {
		return err
	}
	if *replace != "" {
		if _, err := hosts.Lookup(*replace); err != nil {
			return &usageError{"import", err.Error()}
		}
	}
	var entries []hosts.Entry
	fmt.Fprintln(stdout, "Read:")
	if len(files) == 0 {
		fmt.Fprintln(stdout, "  no host's file with MCP servers found (give one with --from FILE)")
	}
	for _, f := range files {
		got, err := hosts.Read(f)
		if err != nil {
			fmt.Fprintf(stderr, "mcpmux: %s\n", err)
		}
		fmt.Fprintf(stdout, "  %-15s %s: %s\n", f.Host, f.Path, plural(len(got), "server"))
		entries = append(entries, got...)
	}
	plan, err := hosts.NewPlan(config, entries, self())
	if err != nil {
		return err
	}
	printPlan(stdout, plan)
	if !*write {
		msg := "\nDry run: nothing written."
		if n := plan.Count(hosts.Add); n > 0 {
			msg += fmt.Sprintf(" Run again with --write to add %s to %s.", plural(n, "server"), plan.Config)
		}
		fmt.Fprintln(stdout, msg)
		return nil
	}
	if err := plan.Apply(); err != nil {
		return fmt.Errorf("writing %s: %w", plan.Config, err)
	}
	if n := plan.Count(hosts.Add); n > 0 {
		fmt.Fprintf(stdout, "\nWrote %s: %s added.\n", plan.Config, plural(n, "server"))
	}
	if *replace != "" {
		return replaceHost(stdout, plan, *replace, files)
	}
	return nil
}

// importSources returns the files to read: --from's, else those of every
// host (or of --host) that exist.
func importSources(from, only string, env hosts.Env) ([]hosts.File, error) {
	if from != "" {
		return []hosts.File{hosts.Detect(from)}, nil
	}
	all := hosts.All
	if only != "" {
		h, err := hosts.Lookup(only)
		if err != nil {
			return nil, &usageError{"import", err.Error()}
		}
		all = []hosts.Host{h}
	}
	var files []hosts.File
	for _, h := range all {
		files = append(files, h.Existing(env)...)
	}
	return files, nil
}

// printPlan writes what import does with each entry.
func printPlan(w io.Writer, p *hosts.Plan) {
	fmt.Fprintf(w, "\nInto %s:\n", p.Config)
	if len(p.Changes) == 0 {
		fmt.Fprintln(w, "  nothing to import")
	}
	for _, ch := range p.Changes {
		e := ch.Entry
		switch ch.Kind {
		case hosts.Add:
			fmt.Fprintf(w, "  + %-20s %s (from %s)\n", e.Name, describe(e.Raw), e.From.Host)
		case hosts.Same:
			fmt.Fprintf(w, "  = %-20s already there, the same (from %s)\n", e.Name, e.From.Host)
		case hosts.Clash:
			fmt.Fprintf(w, "  ! %-20s not imported: the name is taken by another entry (in %s); rename one of them to have both (from %s)\n", e.Name, ch.Other, e.From.Host)
		case hosts.Self:
			fmt.Fprintf(w, "  - %-20s not imported: it is mcpmux itself (from %s)\n", e.Name, e.From.Host)
		}
	}
}

// describe says what an entry runs, without the values of its env or
// headers, which may be secrets.
func describe(raw []byte) string {
	var parts []string
	if u, ok := jsonrpc.StringMember(raw, "url"); ok {
		parts = append(parts, redactURL(u))
	}
	if cmd, ok := jsonrpc.StringMember(raw, "command"); ok {
		parts = append(parts, cmd)
		if args, err := jsonrpc.Member(raw, "args"); err == nil && args != nil {
			elems, _ := jsonrpc.Elements(args)
			for _, a := range elems {
				if s, ok := jsonrpc.String(a); ok {
					parts = append(parts, s)
				}
			}
		}
	}
	for _, field := range []string{"env", "headers"} {
		obj, err := jsonrpc.Member(raw, field)
		if err != nil || obj == nil {
			continue
		}
		var m map[string]any
		if json.Unmarshal(obj, &m) == nil && len(m) > 0 {
			parts = append(parts, fmt.Sprintf("(%s: %s)", field, strings.Join(slices.Sorted(maps.Keys(m)), ", ")))
		}
	}
	return firstLine(strings.Join(parts, " "), 100)
}

// redactURL leaves out a URL's credentials and query, which may be
// secrets.
func redactURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "(a URL)"
	}
	u.User = nil
	if u.RawQuery != "" {
		u.RawQuery = "…"
	}
	u.Fragment = ""
	return u.String()
}

// replaceHost rewrites the files of host that import read to start
// mcpmux alone, unless one of their entries is not in the configuration.
func replaceHost(w io.Writer, p *hosts.Plan, host string, files []hosts.File) error {
	var targets []hosts.File
	for _, f := range files {
		if f.Host == host {
			targets = append(targets, f)
		}
	}
	if len(targets) == 0 {
		return fmt.Errorf("--replace-host %s: no file of %s was read", host, host)
	}
	for _, ch := range p.Changes {
		if ch.Entry.From.Host == host && ch.Kind == hosts.Clash {
			return fmt.Errorf("--replace-host %s: not replacing: %q of %s is not in %s (its name is taken); rename it in one of the files, and import again", host, ch.Entry.Name, ch.Entry.From.Path, p.Config)
		}
	}
	exe, err := filepath.Abs(self())
	if err != nil {
		return err
	}
	for _, f := range targets {
		backup, err := hosts.ReplaceHost(f, hosts.McpmuxEntry(f, exe, p.Config, os.Getenv("PATH")), time.Now())
		if err != nil {
			return err
		}
		fmt.Fprintf(w, "Replaced the servers of %s with mcpmux alone; the old file is %s.\n", f.Path, backup)
	}
	h, _ := hosts.Lookup(host)
	fmt.Fprintf(w, "Its entry passes mcpmux this shell's PATH, so that the servers' commands are found.\nRestart %s to use it. To undo: mcpmux import --undo %s\n", h.Title, host)
	return nil
}

// undoHost puts back the latest backup of each file of host.
func undoHost(w io.Writer, host string, env hosts.Env) error {
	h, err := hosts.Lookup(host)
	if err != nil {
		return &usageError{"import", err.Error()}
	}
	restored := 0
	for _, f := range h.Files(env) {
		if len(hosts.Backups(f.Path)) == 0 {
			continue
		}
		backup, err := hosts.Undo(f)
		if err != nil {
			return err
		}
		fmt.Fprintf(w, "Restored %s from %s.\n", f.Path, backup)
		restored++
	}
	if restored == 0 {
		return fmt.Errorf("no backup of %s's files found (mcpmux import --replace-host makes one)", h.Title)
	}
	return nil
}

func hostNames() string {
	var names []string
	for _, h := range hosts.All {
		names = append(names, h.Name)
	}
	return strings.Join(names, ", ")
}

func plural(n int, thing string) string {
	if n == 1 {
		return "1 " + thing
	}
	return fmt.Sprintf("%d %ss", n, thing)
}
