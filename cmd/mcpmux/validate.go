package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
)

// errInvalid is validate's failure; the problems went to stdout.
var errInvalid = errors.New("the configuration has problems")

// runValidate prints every problem of the configuration at once, and
// fails if there is any. It starts nothing.
func runValidate(_ context.Context, args []string, _ io.Reader, stdout, _ io.Writer) error {
	var c commonFlags
	fs := newFlagSet("validate", stdout, &c)
	if _, err := parseArgs(fs, "validate", args, 0); err != nil {
		return err
	}
	path, _, err := configPath(c)
	if err != nil {
		return err
	}
	cfg, err := loadConfig(c)
	if cfg == nil {
		fmt.Fprintf(stdout, "%s: cannot be read:\n  %s\n", path, strings.ReplaceAll(err.Error(), "\n", "\n  "))
		return errInvalid
	}
	var problems []string
	for _, err := range cfg.Problems {
		problems = append(problems, err.Error())
	}
	for _, name := range slices.Sorted(maps.Keys(cfg.Invalid)) {
		problems = append(problems, strings.Split(cfg.Invalid[name].Error(), "\n")...)
	}
	warnings := cfg.Warnings
	for _, w := range warnings {
		problems = append(problems, w.Error())
	}
	if len(problems) == 0 {
		fmt.Fprintf(stdout, "%s: %d servers, %d enabled; no problems\n", cfg.Path, len(cfg.Servers), len(cfg.Enabled()))
		return nil
	}
	fmt.Fprintf(stdout, "%s: %d problems\n", cfg.Path, len(problems))
	for _, p := range problems {
		fmt.Fprintf(stdout, "  %s\n", p)
	}
	return errInvalid
}
