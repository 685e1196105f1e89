// Command release builds mcpmux's release into one directory:
//
//	go run ./internal/release -o DIR [-version 1.2.0]
//
// It cross-compiles cmd/mcpmux for the six targets in [targets] (Windows,
// macOS and Linux, amd64 and arm64), each with CGO_ENABLED=0, -trimpath and
// the version stamped into main.buildVersion (so that `mcpmux version`
// prints it); packs the Claude Desktop extension, DIR/mcpmux.mcpb (an MCP
// Bundle, manifest 0.3, see [manifestFor]), whose macOS binary is a
// universal one made of the two darwin builds ([writeUniversal]); and
// writes DIR/SHA256SUMS over all of it, in `sha256sum -c` format.
//
// The version is -version's, else the one `git describe` gives the checkout
// ([resolveVersion]). Every build is a `go build` child process with the
// environment it needs; nothing else runs.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"time"
)

func main() {
	var opts options
	flag.StringVar(&opts.Out, "o", "", "write the release into `DIR` (created if missing)")
	flag.StringVar(&opts.Version, "version", "", "the release's `VERSION`, semver with or without a v (default: from git describe)")
	flag.Usage = func() {
		fmt.Fprintf(flag.CommandLine.Output(), "Usage: go run ./internal/release -o DIR [-version VERSION]\n\n"+
			"Builds mcpmux for six targets, the Claude Desktop bundle mcpmux.mcpb, and SHA256SUMS.\n\n")
		flag.PrintDefaults()
	}
	flag.Parse()
	if opts.Out == "" || flag.NArg() > 0 {
		flag.Usage()
		os.Exit(2)
	}
	opts.Log = os.Stderr
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := run(ctx, opts); err != nil {
		fmt.Fprintln(os.Stderr, "release:", err)
		os.Exit(1)
	}
}

// options says what run builds, and where.
type options struct {
	// Out is the directory the release is written to; it is created if
	// missing. Required.
	Out string
	// Version is the release's version, semver with or without a leading
	// "v"; empty means the one git describe gives (see resolveVersion).
	Version string
	// Dir is a directory inside the mcpmux module; empty means the
	// current directory.
	Dir string
	// Log receives one line per step; nil discards them.
	Log io.Writer
}

// run builds the release that opts describes.
func run(ctx context.Context, opts options) error {
	if opts.Out == "" {
		return errors.New("no output directory")
	}
	if opts.Log == nil {
		opts.Log = io.Discard
	}
	root, err := moduleRoot(ctx, opts.Dir)
	if err != nil {
		return err
	}
	version, err := resolveVersion(ctx, root, opts.Version)
	if err != nil {
		return err
	}
	out, err := filepath.Abs(opts.Out)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(out, 0o755); err != nil {
		return fmt.Errorf("creating the output directory: %w", err)
	}
	fmt.Fprintf(opts.Log, "release: mcpmux v%s into %s\n", version, out)
	files := make([]string, 0, len(targets)+1)
	for _, t := range targets {
		start := time.Now()
		name := t.fileName()
		if err := goBuild(ctx, root, t, version, filepath.Join(out, name)); err != nil {
			return err
		}
		fmt.Fprintf(opts.Log, "release: built %s (%s)\n", name, time.Since(start).Round(time.Millisecond))
		files = append(files, name)
	}
	if err := writeBundle(out, version, sourceTime()); err != nil {
		return err
	}
	fmt.Fprintf(opts.Log, "release: packed %s\n", bundleName)
	files = append(files, bundleName)
	if err := writeSums(out, files); err != nil {
		return err
	}
	fmt.Fprintf(opts.Log, "release: wrote %s\n", sumsName)
	return nil
}

// sourceTime is the time stamped on the bundle's files: $SOURCE_DATE_EPOCH
// (the reproducible-builds convention) when it is set, else now.
func sourceTime() time.Time {
	var sec int64
	if _, err := fmt.Sscan(os.Getenv("SOURCE_DATE_EPOCH"), &sec); err == nil && sec > 0 {
		return time.Unix(sec, 0).UTC()
	}
	return time.Now().UTC()
}
