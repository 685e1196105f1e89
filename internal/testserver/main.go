// Command testserver is a configurable MCP server used by mcpmux tests.
//
// It speaks raw JSON-RPC 2.0 over stdio, one JSON message per line, and is
// written by hand (no MCP library) so that tests control the exact bytes on
// the wire: raw JSON Schemas, unknown fields, odd content types, garbage
// output and crashes. Tests build it with testutil.TestServerPath and start
// it as a real subprocess.
//
// Behaviour is selected with flags. Extra flags may also be given in the
// TESTSERVER_ARGS environment variable (space separated); they are parsed
// after the command-line flags, so they win when both set the same flag.
//
// The server exits 0 on stdin EOF (after answering requests in flight, for
// at most 200ms), 2 with -crash-on-start, 3 from the crash tool, 4 right
// after the Nth tools/call response (-exit-after N) and 64 on bad flags.
// With -freeze-after N it stops answering after the Nth tools/call
// response and no longer exits on stdin EOF: it lives until killed.
package main

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"strings"
	"time"
)

// config holds every flag of the test server.
type config struct {
	name             string
	pageSize         int
	tools            int
	oddNames         bool
	resources        int
	sharedURI        string
	crashOnStart     bool
	exitAfter        int
	freezeAfter      int
	noPing           bool
	hangInitialize   bool
	garbage          bool
	crlf             bool
	stderrChatter    bool
	startDelay       time.Duration
	startGate        string
	slowList         time.Duration
	lateTools        int
	rootsTool        bool
	logFile          string
	hostile          bool
	missing          string
	printEnv         bool
	interrupts       string // -interrupts: the file that records them
	ignoreInterrupt  bool
	metaTool         bool
	instructions     string
	instructionsSize int
	catalogue        string
}

func main() {
	cfg, err := parseConfig(os.Args[1:], os.Getenv("TESTSERVER_ARGS"))
	if errors.Is(err, flag.ErrHelp) {
		os.Exit(0)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "testserver:", err)
		os.Exit(64)
	}
	if cfg.printEnv {
		printEnv()
	}
	if cfg.crashOnStart {
		os.Exit(2)
	}
	if cfg.interrupts != "" {
		recordInterrupts(cfg.interrupts, cfg.ignoreInterrupt)
	}
	s, err := newServer(cfg, os.Stdout)
	if err != nil {
		fmt.Fprintln(os.Stderr, "testserver:", err)
		os.Exit(1)
	}
	if err := s.serve(os.Stdin); err != nil {
		fmt.Fprintln(os.Stderr, "testserver: reading stdin:", err)
		os.Exit(1)
	}
	s.shutdown()
}

// parseConfig parses argv followed by the space-separated flags in env.
func parseConfig(argv []string, env string) (config, error) {
	var c config
	fs := flag.NewFlagSet("testserver", flag.ContinueOnError)
	fs.StringVar(&c.name, "name", "testserver", "server name (serverInfo.name, whoami, resource URIs)")
	fs.IntVar(&c.pageSize, "page-size", 0, "max entries per list page (0 = no pagination)")
	fs.IntVar(&c.tools, "tools", 0, "number of generated tools tool_0000..")
	fs.BoolVar(&c.oddNames, "odd-names", false, "also expose tools with awkward names")
	fs.IntVar(&c.resources, "resources", 3, "number of static resources")
	fs.StringVar(&c.sharedURI, "shared-uri", "", "also expose this resource URI (reads return \"from <name>\")")
	fs.BoolVar(&c.crashOnStart, "crash-on-start", false, "exit with code 2 before reading anything")
	fs.IntVar(&c.exitAfter, "exit-after", 0, "exit with code 4 right after the Nth tools/call response")
	fs.IntVar(&c.freezeAfter, "freeze-after", 0, "answer nothing more (not even ping) after the Nth tools/call response, and ignore stdin EOF")
	fs.BoolVar(&c.noPing, "no-ping", false, "answer ping with a method-not-found error")
	fs.BoolVar(&c.hangInitialize, "hang-initialize", false, "never answer initialize")
	fs.BoolVar(&c.garbage, "garbage", false, "write non-JSON lines before initialize and tools/call responses")
	fs.BoolVar(&c.crlf, "crlf", false, "end every line written to stdout with \\r\\n, as some Windows servers do")
	fs.BoolVar(&c.stderrChatter, "stderr-chatter", false, "log every received message to stderr")
	fs.DurationVar(&c.startDelay, "start-delay", 0, "sleep before answering initialize")
	fs.StringVar(&c.startGate, "start-gate", "", "answer initialize only once this file exists (tests open the gate when they are ready)")
	fs.DurationVar(&c.slowList, "slow-list", 0, "sleep before answering tools/list")
	fs.IntVar(&c.lateTools, "late-tools", 0, "after answering the first tools/list, add tools late_0000.. and notify tools/list_changed")
	fs.BoolVar(&c.rootsTool, "roots-tool", false, "offer tool roots_tool only to a client that declares roots in initialize")
	fs.StringVar(&c.logFile, "log-file", "", "append one JSON line per received message to this file")
	fs.BoolVar(&c.hostile, "hostile", false, "also expose the tools that flood the client (flood_list_changed, flood_requests, update, stats)")
	fs.StringVar(&c.missing, "missing", "", "answer these methods (comma-separated) with method-not-found, capabilities notwithstanding")
	fs.StringVar(&c.instructions, "instructions", "", "the instructions initialize returns")
	fs.IntVar(&c.instructionsSize, "instructions-size", 0, "pad the instructions with words to this many bytes")
	fs.StringVar(&c.catalogue, "catalogue", "", "also serve the tools and prompts of this JSON file ({\"tools\": [...], \"prompts\": [...]}), read again every 20ms; a change notifies list_changed")
	fs.BoolVar(&c.metaTool, "meta-tool", false, "also expose tool meta, which returns the params of its call as it received them, byte for byte (its text)")
	fs.BoolVar(&c.printEnv, "print-env", false, "write the environment to stderr at start, one variable a line")
	fs.StringVar(&c.interrupts, "interrupts", "", "append a line to this file for each interrupt (SIGINT, SIGTERM; on Windows Ctrl+C, CTRL_BREAK, console close), then exit 0")
	fs.BoolVar(&c.ignoreInterrupt, "ignore-interrupt", false, "with -interrupts: record interrupts, and go on running")

	args := append(append([]string{}, argv...), strings.Fields(env)...)
	if err := fs.Parse(args); err != nil {
		return c, err
	}
	if fs.NArg() > 0 {
		return c, fmt.Errorf("unexpected arguments: %q", fs.Args())
	}
	return c, nil
}
