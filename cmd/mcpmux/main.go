// Command mcpmux is one MCP server that stands in for many: it starts every
// upstream MCP server in its configuration, merges their catalogues under
// namespaced names, and routes each request to the right upstream.
//
// Usage:
//
//	mcpmux [serve] [--config FILE] [--data-dir DIR | --no-registry] [--log-level LEVEL]
//	mcpmux tools [--config FILE] [--prompts] [--resources] [--json]
//	mcpmux call TOOL [--args JSON] [--json]
//	mcpmux validate [--config FILE]
//	mcpmux doctor [--json]
//	mcpmux import [--from FILE] [--host HOST] [--write] [--replace-host HOST] [--undo HOST]
//	mcpmux discover [--add NAME] [--refresh] [--ttl D]
//	mcpmux status [--config FILE] [--data-dir DIR] [--json]
//	mcpmux history [SERVER] [--data-dir DIR] [--limit N] [--json]
//	mcpmux help [COMMAND]
//
// Each command's help (cli.go, and the golden files under
// testdata/help) says what it does, its flags and an example.
//
// The registry, in the user's state directory unless --data-dir says
// otherwise, remembers each upstream's catalogue (so that serve answers at
// once while the upstreams start), its connection history and its call
// statistics; status and history read it, even while serve runs.
//
// This package only parses flags and runs commands: internal/mux builds
// the running system from the configuration, and the work is done in
// packages proxy, upstream, registry, registry/store, registry/hosts
// (import, discover), internal/doctor and internal/local (tools, call).
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
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/mcpmux/mcpmux/registry"
	"github.com/mcpmux/mcpmux/registry/store"
)

func main() {
	asSubreaper, handsOff = true, true
	ctx, stop := notifyContext(context.Background())
	err := run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
	stop()
	if err != nil && !errors.Is(err, flag.ErrHelp) {
		fmt.Fprintln(os.Stderr, "mcpmux:", err)
		os.Exit(1)
	}
}

// signalled is when the first SIGINT or SIGTERM arrived, in Unix
// nanoseconds; zero if none has. serve's stop counts its bound from it
// (see mux.Options.StopAsked).
var signalled atomic.Int64

// notifyContext is signal.NotifyContext for SIGINT and SIGTERM that also
// notes when the first of them arrived (see signalled). Later signals are
// caught too, until stop: a host sends SIGTERM right after SIGINT, and
// mcpmux, stopping, must not die of it.
func notifyContext(parent context.Context) (ctx context.Context, stop func()) {
	ctx, cancel := context.WithCancel(parent)
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	done := make(chan struct{})
	go func() {
		select {
		case <-sigs:
			signalled.CompareAndSwap(0, time.Now().UnixNano())
			cancel()
		case <-done:
		}
	}()
	return ctx, func() {
		signal.Stop(sigs)
		close(done)
		cancel()
	}
}

// stopAsked returns when the first SIGINT or SIGTERM arrived, the zero
// time if none has.
func stopAsked() time.Time {
	if ns := signalled.Load(); ns != 0 {
		return time.Unix(0, ns)
	}
	return time.Time{}
}

// run executes one command line. stdout carries MCP messages for serve and
// the command's output otherwise, --help included; logs go to stderr.
func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	err := dispatch(ctx, args, stdin, stdout, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return nil // the help went to stdout
	}
	return err
}

func dispatch(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	cmd := "serve"
	if len(args) > 0 {
		switch args[0] {
		case "-h", "-help", "--help":
			printOverview(stdout)
			return nil
		case "-v", "-version", "--version":
			args[0] = "version"
		}
	}
	if len(args) > 0 && args[0] != "" && args[0][0] != '-' {
		cmd, args = args[0], args[1:]
	}
	if c, ok := commands[cmd]; ok {
		return c(ctx, args, stdin, stdout, stderr)
	}
	switch cmd {
	case "help":
		return runHelp(ctx, args, stdin, stdout, stderr)
	case storeCommand:
		return store.ServeChild(ctx, stdin, stdout, stderr)
	case keeperCommand:
		return runKeeper(ctx, stdin, stderr)
	}
	msg := fmt.Sprintf("unknown command %q", cmd)
	if near := registry.Closest(cmd, commandNames(), 2); near != "" {
		msg += fmt.Sprintf("; did you mean %q?", near)
	}
	return fmt.Errorf("%s (commands: %s; see \"mcpmux --help\")", msg, strings.Join(commandNames(), ", "))
}

// runner runs one command with its arguments.
type runner func(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error

// commands are the commands a user runs, but help; each has its doc.
var commands map[string]runner

func init() { // in init: runHelp refers to commands
	commands = map[string]runner{
		"serve": runServe,
		"tools": func(ctx context.Context, args []string, _ io.Reader, stdout, stderr io.Writer) error {
			return runTools(ctx, args, stdout, stderr)
		},
		"status": func(ctx context.Context, args []string, _ io.Reader, stdout, stderr io.Writer) error {
			return runStatus(ctx, args, stdout, stderr)
		},
		"history": func(ctx context.Context, args []string, _ io.Reader, stdout, stderr io.Writer) error {
			return runHistory(ctx, args, stdout, stderr)
		},
		"version":  runVersion,
		"validate": runValidate,
		"call":     runCall,
		"doctor":   runDoctor,
		"import":   runImport,
		"discover": runDiscover,
		"login":    runLogin,
		"logout":   runLogout,
		"trust":    runTrust,
	}
}

// runVersion prints the version.
func runVersion(_ context.Context, args []string, _ io.Reader, stdout, _ io.Writer) error {
	if _, err := parseArgs(newBareFlagSet("version", stdout), "version", args, 0); err != nil {
		return err
	}
	fmt.Fprintln(stdout, "mcpmux", version())
	return nil
}

// runHelp prints the help of the command args names, or the overview.
func runHelp(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	switch {
	case len(args) == 0:
		printOverview(stdout)
		return nil
	case len(args) > 1:
		return &usageError{"help", fmt.Sprintf("help takes one command, got %s", quoteAll(args))}
	case args[0] == "help" || strings.HasPrefix(args[0], "-"):
		printHelp(stdout, "help", nil)
		return nil
	}
	if _, ok := docOf(args[0]); !ok {
		return dispatch(ctx, args, stdin, stdout, stderr) // the unknown command's error
	}
	return dispatch(ctx, []string{args[0], "--help"}, stdin, stdout, stderr)
}

// commonFlags are the flags every command takes.
type commonFlags struct {
	config   string
	logLevel string
	logFile  string

	closeLog func() // closes the --log-file; set by setup
}

// newFlagSet returns the flag set of the command name, with the flags
// every command takes. Its --help goes to stdout; its errors are
// parseArgs's to report.
func newFlagSet(name string, stdout io.Writer, c *commonFlags) *flag.FlagSet {
	fs := newBareFlagSet(name, stdout)
	fs.StringVar(&c.config, "config", "", "configuration `FILE` (default: $MCPMUX_CONFIG, else mcpmux/config.json in the user config directory)")
	fs.StringVar(&c.logLevel, "log-level", os.Getenv("MCPMUX_LOG_LEVEL"), "`LEVEL`: debug, info, warn or error (default info, or $MCPMUX_LOG_LEVEL)")
	fs.StringVar(&c.logFile, "log-file", "", "append the log to `FILE` instead of stderr, for hosts that hide stderr")
	return fs
}

// newBareFlagSet returns a flag set without the common flags.
func newBareFlagSet(name string, stdout io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet("mcpmux "+name, flag.ContinueOnError)
	fs.SetOutput(flagOutput{help: stdout})
	fs.Usage = func() {}
	return fs
}

// close closes what setup opened.
func (c *commonFlags) close() {
	if c.closeLog != nil {
		c.closeLog()
	}
}

// buildVersion is the release's version, stamped by internal/release with
// -ldflags "-X main.buildVersion=v1.2.3"; empty in other builds.
var buildVersion string

// version returns the stamped release version, else the module version
// mcpmux was built from (go install's), else "dev".
func version() string {
	if buildVersion != "" {
		return buildVersion
	}
	if info, ok := debug.ReadBuildInfo(); ok && info.Main.Version != "" && info.Main.Version != "(devel)" {
		return info.Main.Version
	}
	return "dev"
}
