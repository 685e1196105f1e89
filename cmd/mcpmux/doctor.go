package main

import (
	"context"
	"errors"
	"io"

	"github.com/mcpmux/mcpmux/internal/doctor"
)

// errDoctor is doctor's failure; the table says what is wrong.
var errDoctor = errors.New("some servers have problems (see the table)")

// runDoctor starts every upstream, times it, and prints a table of what
// is wrong and how to fix it.
func runDoctor(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	var c commonFlags
	fs := newFlagSet("doctor", stdout, &c)
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
