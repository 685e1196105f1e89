package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"strings"
	"time"

	"github.com/mcpmux/mcpmux/proxy"
	"github.com/mcpmux/mcpmux/registry/pin"
	"github.com/mcpmux/mcpmux/registry/store"
)

// runTrust approves the withheld tools and prompts of one server, or
// lists what is withheld.
func runTrust(_ context.Context, args []string, _ io.Reader, stdout, stderr io.Writer) error {
	var c commonFlags
	var dir dataDirFlag
	fs := newFlagSet("trust", stdout, &c)
	dir.register(fs)
	list := fs.Bool("list", false, "list what is withheld (or, under toolPinning \"warn\", shown) and why, and approve nothing")
	asJSON := fs.Bool("json", false, "with --list: print JSON instead of a table")
	prune := fs.Bool("prune", false, "forget the pins of every server that is not in the configuration (a server that comes back is pinned afresh); approve nothing")
	names, err := parseArgs(fs, "trust", args, math.MaxInt)
	if err != nil {
		return err
	}
	if _, err := parseLevel(c.logLevel); err != nil {
		return err
	}
	path, err := dir.path()
	if err != nil {
		return err
	}
	if *prune {
		if len(names) > 0 {
			return &usageError{"trust", fmt.Sprintf("--prune takes no SERVER, got %s", quoteAll(names))}
		}
		return prunePins(c, path, stdout, stderr)
	}
	if *list {
		if len(names) > 1 {
			return &usageError{"trust", fmt.Sprintf("--list takes at most a SERVER, got %s", quoteAll(names))}
		}
		server := ""
		if len(names) == 1 {
			server = names[0]
		}
		b, err := store.LoadPins(path)
		if errors.Is(err, store.ErrPinsDamaged) {
			return fmt.Errorf("%w (the next mcpmux serve, tools, call or trust moves it aside and withholds what it has not seen)", err)
		}
		if err != nil {
			return fmt.Errorf("reading the tool pins in %s: %w", path, err)
		}
		return printPending(stdout, b.Pending(server), *asJSON)
	}
	if len(names) == 0 {
		return &usageError{"trust", "mcpmux trust takes a SERVER (and, optionally, the tools or prompts to approve); mcpmux trust --list shows what is withheld"}
	}
	server, tools := names[0], names[1:]
	var approved []pin.Pending
	_, movedTo, err := store.UpdatePins(path, func(b *pin.Book) error {
		var err error
		approved, err = b.Approve(server, tools, time.Now())
		return err
	})
	warnSetAside(stderr, path, movedTo)
	if err != nil {
		return err
	}
	for _, p := range approved {
		fmt.Fprintf(stdout, "approved %s %q of %q (%s)\n", p.Kind, p.Name, server, p.Reason())
	}
	fmt.Fprintln(stdout, "a running mcpmux serve lists them again within a second")
	return nil
}

// prunePins forgets the pins of the servers that the configuration does
// not name (enabled, disabled or invalid), and says which.
func prunePins(c commonFlags, dataDir string, stdout, stderr io.Writer) error {
	cfg, err := loadConfig(c)
	if err != nil {
		return err
	}
	keep := map[string]bool{}
	for name := range cfg.Servers {
		keep[name] = true
	}
	for name := range cfg.Invalid {
		keep[name] = true
	}
	var gone []string
	_, movedTo, err := store.UpdatePins(dataDir, func(b *pin.Book) error {
		gone = b.Prune(time.Now(), store.PinsMaxAge, keep)
		return nil
	})
	warnSetAside(stderr, dataDir, movedTo)
	if err != nil {
		return err
	}
	if len(gone) == 0 {
		_, err = fmt.Fprintf(stdout, "every server pinned in %s is in %s\n", store.PinsPath(dataDir), cfg.Path)
		return err
	}
	_, err = fmt.Fprintf(stdout, "forgot the pins of %s (not in %s)\n", quoteAll(gone), cfg.Path)
	return err
}

// warnSetAside tells that a damaged pins file was moved aside, if it was.
func warnSetAside(stderr io.Writer, dataDir, movedTo string) {
	if movedTo != "" {
		fmt.Fprintf(stderr, "mcpmux: warning: the tool pins file %s was damaged; moved it to %s. The tools of servers first seen since are withheld until approved: see mcpmux trust --list\n",
			store.PinsPath(dataDir), movedTo)
	}
}

// printPending prints what is withheld, as a table or JSON.
func printPending(w io.Writer, pending []pin.Pending, asJSON bool) error {
	if asJSON {
		type entry struct {
			Server   string        `json:"server"`
			Kind     pin.Kind      `json:"kind"`
			Name     string        `json:"name"`
			Withheld bool          `json:"withheld"`
			Changed  []string      `json:"changed,omitempty"`
			Findings []pin.Finding `json:"findings,omitempty"`
			Seen     time.Time     `json:"seen"`
			Approve  string        `json:"approve"`
		}
		out := make([]entry, 0, len(pending))
		for _, p := range pending {
			out = append(out, entry{p.Server, p.Kind, p.Name, p.Withheld, p.Changed, p.Findings, p.Seen, proxy.TrustCommand(p.Server, p.Name)})
		}
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(out)
	}
	if len(pending) == 0 {
		_, err := fmt.Fprintln(w, "nothing is withheld")
		return err
	}
	rows := make([][]string, 0, len(pending))
	for _, p := range pending {
		rows = append(rows, pendingRow(p))
	}
	return printTable(w, []string{"SERVER", "KIND", "NAME", "STATE", "WHY", "APPROVE WITH"}, rows)
}

// pendingRow is one row of the table of what is withheld.
func pendingRow(p pin.Pending) []string {
	state := "withheld"
	if !p.Withheld {
		state = "shown (warn)"
	}
	return []string{p.Server, string(p.Kind), printable(p.Name), state, firstLine(printable(p.Reason()), 100), proxy.TrustCommand(p.Server, p.Name)}
}

// printable replaces what a terminal would not show (the hidden
// characters a poisoned definition carries) with its code point.
func printable(s string) string {
	var b strings.Builder
	for _, r := range s {
		if r < 0x20 || r == 0x7F || r >= 0x200B && r <= 0x200F || r >= 0x202A && r <= 0x202E || r >= 0x2060 && r <= 0x2069 || r == 0xFEFF || r >= 0xE0000 && r <= 0xE007F {
			fmt.Fprintf(&b, "<U+%04X>", r)
			continue
		}
		b.WriteRune(r)
	}
	return b.String()
}
