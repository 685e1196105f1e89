// Command mcpmux is one MCP server that stands in for many: it starts every
// upstream MCP server in its configuration, merges their catalogues under
// namespaced names, and routes each request to the right upstream.
//
// Usage:
//
//	mcpmux [serve] [--config FILE] [--data-dir DIR | --no-registry] [--log-level LEVEL]
//	mcpmux tools [--config FILE] [--json]
//	mcpmux status [--config FILE] [--data-dir DIR] [--json]
//	mcpmux history [SERVER] [--data-dir DIR] [--limit N] [--json]
//
// The registry, in the user's state directory unless --data-dir says
// otherwise, remembers each upstream's catalogue (so that serve answers at
// once while the upstreams start), its connection history and its call
// statistics; status and history read it, even while serve runs.
//
// This package only parses flags and runs commands: internal/mux builds
// the running system from the configuration, and the work is done in
// packages proxy, upstream, registry and registry/store.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime/debug"
	"syscall"

	"github.com/mcpmux/mcpmux/registry/store"
)

const usage = `mcpmux: one MCP server that stands in for many.

Usage:
  mcpmux [serve] [flags]   serve the merged MCP server on stdin/stdout
  mcpmux tools [flags]     start the upstreams and print the merged tool catalogue
  mcpmux status [flags]    print the state of every configured upstream
  mcpmux history [SERVER] [flags]
                           print the connection history, newest first
  mcpmux version           print the version

Flags:
`

func main() {
	asSubreaper = true
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
	stop()
	if err != nil && !errors.Is(err, flag.ErrHelp) {
		fmt.Fprintln(os.Stderr, "mcpmux:", err)
		os.Exit(1)
	}
}

// run executes one command line. stdout carries MCP messages for serve and
// the command's output otherwise; logs go to stderr.
func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	cmd := "serve"
	if len(args) > 0 && args[0] != "" && args[0][0] != '-' {
		cmd, args = args[0], args[1:]
	}
	switch cmd {
	case "serve":
		return runServe(ctx, args, stdin, stdout, stderr)
	case "tools":
		return runTools(ctx, args, stdout, stderr)
	case "status":
		return runStatus(ctx, args, stdout, stderr)
	case "history":
		return runHistory(ctx, args, stdout, stderr)
	case "version":
		fmt.Fprintln(stdout, "mcpmux", version())
		return nil
	case "help":
		fmt.Fprint(stdout, usage)
		return nil
	case storeCommand:
		return store.ServeChild(ctx, stdin, stdout, stderr)
	case keeperCommand:
		return runKeeper(ctx, stdin, stderr)
	}
	return fmt.Errorf("unknown command %q (try: serve, tools, status, history, version)", cmd)
}

// commonFlags are the flags every command takes.
type commonFlags struct {
	config   string
	logLevel string
}

func newFlagSet(name string, stderr io.Writer, c *commonFlags) *flag.FlagSet {
	fs := flag.NewFlagSet("mcpmux "+name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprint(stderr, usage)
		fs.PrintDefaults()
	}
	fs.StringVar(&c.config, "config", "", "configuration file (default: the user config dir's mcpmux/config.json)")
	fs.StringVar(&c.logLevel, "log-level", os.Getenv("MCPMUX_LOG_LEVEL"), "debug, info, warn or error (default info; env MCPMUX_LOG_LEVEL)")
	return fs
}

// version returns the module version mcpmux was built from.
func version() string {
	if info, ok := debug.ReadBuildInfo(); ok && info.Main.Version != "" && info.Main.Version != "(devel)" {
		return info.Main.Version
	}
	return "dev"
}
