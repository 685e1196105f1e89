package main

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/mcpmux/mcpmux/internal/doctor"
	"github.com/mcpmux/mcpmux/proxy"
	"github.com/mcpmux/mcpmux/registry/store"
)

// errDoctor is doctor's failure; the table says what is wrong.
var errDoctor = errors.New("some servers have problems (see the table)")

// runDoctor starts every upstream, times it, and prints a table of what
// is wrong and how to fix it.
func runDoctor(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	var c commonFlags
	var dir dataDirFlag
	fs := newFlagSet("doctor", stdout, &c)
	dir.register(fs)
	asJSON := fs.Bool("json", false, "print the findings as JSON")
	if _, err := parseArgs(fs, "doctor", args, 0); err != nil {
		return err
	}
	cfg, logger, masker, err := setupMasked(&c, stderr)
	if err != nil {
		return err
	}
	defer c.close()
	p := newProgress(stderr, len(cfg.Enabled()), "checked")
	report := doctor.Run(ctx, cfg, doctor.Options{Env: readAncestry().childEnv(cfg), Progress: p.update,
		OAuth: newOAuth(personPresent(stdin, stderr), stderr, logger, masker)})
	p.done()
	addWithheld(report, dir)
	if *asJSON {
		for _, ch := range report.Checks {
			for i := range ch.Problems {
				ch.Problems[i].What, ch.Problems[i].Fix = masker.String(ch.Problems[i].What), masker.String(ch.Problems[i].Fix)
			}
		}
		err = printJSON(stdout, report)
	} else {
		err = doctor.Render(stdout, report, doctor.RenderOptions{Mask: masker.String})
	}
	if err == nil && !report.OK() {
		err = errDoctor
	}
	return err
}

// addWithheld adds to each server's check the tools and prompts that
// pinning withholds (as the registry's pins say; see mcpmux trust), each
// with the command that approves it.
func addWithheld(report *doctor.Report, dir dataDirFlag) {
	path, err := dir.path()
	if err != nil {
		return
	}
	pins, err := store.LoadPins(path)
	if err != nil {
		report.Problems = append(report.Problems, doctor.Problem{What: "the tool pins cannot be read: " + err.Error(), Fix: "mcpmux serve replaces " + store.PinsPath(path) + " with fresh pins, each definition approved as it is next seen"})
	}
	for _, ch := range report.Checks {
		for _, p := range pins.Pending(ch.Server) {
			what := fmt.Sprintf("%s %q is withheld: %s", p.Kind, printable(p.Name), printable(p.Reason()))
			if !p.Withheld {
				what = fmt.Sprintf("%s %q is not approved (listed under toolPinning \"warn\"): %s", p.Kind, printable(p.Name), printable(p.Reason()))
			}
			ch.Problems = append(ch.Problems, doctor.Problem{What: what, Fix: "review it (mcpmux trust --list), then approve it: " + proxy.TrustCommand(p.Server, p.Name)})
		}
	}
}
