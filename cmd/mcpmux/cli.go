package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/mcpmux/mcpmux/registry"
)

// doc is what `mcpmux CMD --help` says of a command, besides its flags.
type doc struct {
	args    string // what follows the command's name in its usage line
	summary string // one line, for the overview
	text    string // what it does, in a paragraph or two
	example string // one or more example command lines
}

// docs are the help of every command a user runs, in the overview's order.
var docs = []struct {
	name string
	doc
}{
	{"serve", doc{
		summary: "serve the merged MCP server on stdin/stdout (the default)",
		text: `Starts every configured upstream and serves their merged tools, prompts
and resources to one MCP client over stdin and stdout, until stdin closes
or SIGINT/SIGTERM arrives; then stops every upstream and exits. An MCP
host (Claude Desktop, Claude Code, Cursor, ...) starts it; on a terminal
it says it is waiting for a client.

With --http ADDR it serves many clients over HTTP instead: streamable
HTTP at /mcp, HTTP+SSE at /sse, /healthz and /readyz. With a token
(--token or MCPMUX_TOKEN) every request must carry it; an ADDR that is not
loopback needs one. With a session key (--session-key-file or
MCPMUX_SESSION_KEY) replicas that share it serve each other's sessions
behind a load balancer; on SIGTERM /readyz answers 503 and the requests in
flight finish ("drainTimeout", 5s) before mcpmux exits.`,
		example: "mcpmux serve --config ~/.config/mcpmux/config.json\nMCPMUX_TOKEN=... mcpmux serve --http 127.0.0.1:8080",
	}},
	{"tools", doc{
		summary: "start the upstreams and print the merged catalogue",
		text: `Starts the upstreams, waits as a client's first tools/list does (until
each has delivered its catalogue or failed, within its startTimeout), and
prints the merged tool catalogue: exposed name, server, original name,
description. --prompts and --resources add those lists; --json prints
every entry as the client sees it, schemas included. Tools and prompts
that tool pinning withholds (see mcpmux trust) are not listed, as serve
would not list them; each is named on stderr with the command that
approves it. Exits 1, naming them, if any upstream is unavailable.`,
		example: "mcpmux tools\nmcpmux tools --prompts --resources --json",
	}},
	{"call", doc{
		args:    "TOOL",
		summary: "call one tool of the merged catalogue and print the result",
		text: `Starts the upstreams, calls TOOL (its exposed name, as mcpmux tools
lists it) with the arguments of --args, a JSON object, and prints the
result's text content, or with --json the whole result. A tool that
tool pinning withholds is not called, as serve would not call it: the
error names the command that approves it. Exits 1 if the call fails or
the tool reports an error.`,
		example: `mcpmux call everything__echo --args '{"message": "hi"}'`,
	}},
	{"login", doc{
		args:    "SERVER",
		summary: "log in to a remote server that asks for OAuth",
		text: `Runs the MCP authorization flow (OAuth 2.1 with PKCE) for SERVER, a
remote server of the configuration: finds its authorization server,
registers mcpmux with it if needed, opens the browser at its login page
and waits for it to send the browser back to 127.0.0.1 (an ephemeral port
unless "oauth": {"callbackPort": N}). The browser is $MCPMUX_BROWSER (a
command, given the URL as its last argument), else $BROWSER, else the
system's; the URL is printed on stderr too. With --no-browser, nothing is
opened: log in on any machine and paste the address the browser ends on.
The tokens are kept encrypted; a running serve picks them up.`,
		example: "mcpmux login github\nmcpmux login github --no-browser",
	}},
	{"logout", doc{
		args:    "SERVER",
		summary: "forget a remote server's OAuth tokens",
		text: `Forgets the tokens of SERVER, and revokes them first where its
authorization server offers revocation.`,
		example: "mcpmux logout github",
	}},
	{"validate", doc{
		summary: "check the configuration and print every problem",
		text: `Reads the configuration and prints every problem in it at once: files
that are not JSON, bad fields, unset variables, near-miss keys ("comand"
for "command"). Starts nothing. Exits 1 if anything is wrong.`,
		example: `mcpmux validate --config claude_desktop_config.json`,
	}},
	{"doctor", doc{
		summary: "start every upstream and say what is wrong and how to fix it",
		text: `Starts every configured upstream, times its start, initialize and
listing, and prints one table: each server, how long each step took, and
what is wrong with it and how to fix it (a command not on PATH, an unset
variable, an npx package that does not exist, a server that writes to
stdout before initialize, a tool name that had to be shortened or
collided, tools that need client capabilities the host may not give).
Exits 1 if anything is wrong.`,
		example: `mcpmux doctor`,
	}},
	{"import", doc{
		summary: "merge the MCP servers of Claude, Cursor, VS Code, Windsurf into the config",
		text: `Reads the MCP servers of the hosts on this machine (Claude Desktop,
Claude Code's ~/.claude.json and ./.mcp.json, Cursor, VS Code's
.vscode/mcp.json and user settings, Windsurf), or of --from FILE, and
shows what would be added to the mcpmux configuration. Nothing is written
without --write. A server whose name is taken already is reported and
left alone; mcpmux's own entry is never imported.

--replace-host HOST (with --write) then rewrites that host's file so that
it starts mcpmux alone, after a timestamped backup next to it; --undo
HOST puts the latest backup back.`,
		example: "mcpmux import\nmcpmux import --write\nmcpmux import --write --replace-host claude-desktop\nmcpmux import --undo claude-desktop",
	}},
	{"discover", doc{
		summary: "list MCP servers on this machine that are not configured",
		text: `Lists MCP servers that are on this machine but not in the mcpmux
configuration: those of the hosts' files (see mcpmux import) and the
executables named mcp-* or *-mcp-server on PATH and in common install
directories (~/.local/bin, ~/go/bin, ~/.cargo/bin, npm's global bin, ...).
The scan is cached in the registry for --ttl. --add NAME adds one to the
configuration.`,
		example: "mcpmux discover\nmcpmux discover --add mcp-server-time",
	}},
	{"status", doc{
		summary: "print the state of every configured upstream",
		text: `Prints what the registry knows of every configured upstream: its state
(live from a running serve, else the last recorded), restarts in the last
24 hours, catalogue sizes, calls, errors, p95 latency and last error.`,
		example: `mcpmux status --json`,
	}},
	{"history", doc{
		args:    "[SERVER]",
		summary: "print the connection history, newest first",
		text: `Prints the connection history the registry keeps (connected,
disconnected, error, restart, stopped), newest first, of SERVER or of
every server.`,
		example: `mcpmux history github --limit 20`,
	}},
	{"trust", doc{
		args:    "SERVER [TOOL...]",
		summary: "approve the withheld tools and prompts of a server",
		text: `mcpmux pins every upstream tool and prompt definition (name, title,
description, schemas, annotations) at first sight, and withholds one
whose definition later changes, or that carries hidden instructions
(invisible Unicode, <IMPORTANT> blocks, requests for secrets, words about
another server's tools), until it is approved: it leaves tools/list and
calls to it are refused, naming this command.

mcpmux trust SERVER approves every withheld tool and prompt of SERVER as
last seen; with TOOL names (the upstream's own names), only those. A
running mcpmux serve lists them again within a second. --list shows
what is withheld and why. "toolPinning" in the configuration ("withhold",
"warn" or "off"; per server too) chooses what happens to a change.

The pins live in pins.json in the data directory. A damaged one is moved
aside (pins.json.damaged-TIME, with a warning): the tools of a server
first seen after that are withheld until approved, since what was
approved is no longer known. The pins of a server no mcpmux has served
for 90 days are forgotten; --prune forgets at once those of every server
that the configuration does not name. A server pinned afresh is trusted
at first sight again, as a new one is.`,
		example: "mcpmux trust --list\nmcpmux trust github create_issue\nmcpmux trust github\nmcpmux trust --prune",
	}},
	{"version", doc{
		summary: "print the version",
		text:    `Prints mcpmux's version (also: mcpmux --version).`,
		example: `mcpmux version`,
	}},
	{"help", doc{
		args:    "[COMMAND]",
		summary: "print the help of a command",
		text:    `Prints the help of COMMAND, as mcpmux COMMAND --help does, or the overview.`,
		example: `mcpmux help import`,
	}},
}

// docOf returns the help of the command name.
func docOf(name string) (doc, bool) {
	for _, d := range docs {
		if d.name == name {
			return d.doc, true
		}
	}
	return doc{}, false
}

// commandNames returns the names of the commands a user runs.
func commandNames() []string {
	var names []string
	for _, d := range docs {
		if _, ok := commands[d.name]; ok || d.name == "help" {
			names = append(names, d.name)
		}
	}
	return names
}

// printOverview writes the help of mcpmux as a whole.
func printOverview(w io.Writer) {
	var b strings.Builder
	b.WriteString("mcpmux: one MCP server that stands in for many.\n\nUsage:\n  mcpmux [COMMAND] [flags]\n\nCommands:\n")
	for _, name := range commandNames() {
		d, _ := docOf(name)
		fmt.Fprintf(&b, "  %-10s %s\n", name, d.summary)
	}
	b.WriteString(`
Every command takes --config FILE (default $MCPMUX_CONFIG, else
mcpmux/config.json in the user config directory), --log-level LEVEL and
--log-file FILE. "mcpmux COMMAND --help" says more of each.
`)
	if commands["import"] != nil && commands["doctor"] != nil {
		b.WriteString(`
Start with:
  mcpmux import              see what it would take over from Claude, Cursor, VS Code...
  mcpmux import --write      take it over
  mcpmux doctor              check that each server works
`)
	}
	io.WriteString(w, b.String())
}

// printHelp writes the help of the command name, with the flags of fs.
func printHelp(w io.Writer, name string, fs *flag.FlagSet) {
	d, _ := docOf(name)
	var b strings.Builder
	fmt.Fprintf(&b, "mcpmux %s: %s.\n\nUsage:\n  mcpmux %s", name, d.summary, name)
	if d.args != "" {
		b.WriteString(" " + d.args)
	}
	hasFlags := false
	if fs != nil {
		fs.VisitAll(func(*flag.Flag) { hasFlags = true })
	}
	if hasFlags {
		b.WriteString(" [flags]")
	}
	b.WriteString("\n\n" + d.text + "\n")
	if hasFlags {
		b.WriteString("\nFlags:\n")
		fs.VisitAll(func(f *flag.Flag) {
			kind, usage := flag.UnquoteUsage(f)
			fmt.Fprintf(&b, "  --%s", f.Name)
			if kind != "" {
				b.WriteString(" " + strings.ToUpper(kind))
			}
			b.WriteString("\n      " + strings.ReplaceAll(usage, "\n", "\n      ") + "\n")
		})
	}
	b.WriteString("\nExample:\n")
	for line := range strings.Lines(d.example) {
		b.WriteString("  " + line)
	}
	b.WriteString("\n")
	io.WriteString(w, b.String())
}

// flagOutput is where a FlagSet of mcpmux writes: nowhere. The flag
// package would print an error and then the whole usage; mcpmux prints
// one error with a hint instead (see parseArgs). help is where --help
// writes: stdout.
type flagOutput struct{ help io.Writer }

func (flagOutput) Write(p []byte) (int, error) { return len(p), nil }

// usageError is a command line mcpmux cannot run: an unknown flag, a bad
// value, an extra argument. Its message ends with where to read more.
type usageError struct {
	cmd string
	msg string
}

func (e *usageError) Error() string {
	return fmt.Sprintf("%s (see \"mcpmux %s --help\")", e.msg, e.cmd)
}

// flagMessage matches the errors of the flag package worth rewording.
var (
	undefinedFlag = regexp.MustCompile(`^flag provided but not defined: -+(.*)$`)
	invalidValue  = regexp.MustCompile(`^invalid (?:boolean )?value "(.*)" for flag -+([^:]*): (.*)$`)
	needsArgument = regexp.MustCompile(`^flag needs an argument: -+(.*)$`)
)

// parseArgs parses args with fs, which newFlagSet made for the command
// cmd, and returns the arguments that are not flags: at most maxArgs of
// them, before, between or after the flags. --help prints the command's
// help to stdout and returns flag.ErrHelp.
func parseArgs(fs *flag.FlagSet, cmd string, args []string, maxArgs int) ([]string, error) {
	var positional []string
	for {
		err := fs.Parse(args)
		if errors.Is(err, flag.ErrHelp) {
			printHelp(fs.Output().(flagOutput).help, cmd, fs)
			return nil, flag.ErrHelp
		}
		if err != nil {
			return nil, &usageError{cmd, flagMessage(fs, err)}
		}
		if fs.NArg() == 0 {
			break
		}
		rest := fs.Args()
		if i := len(args) - len(rest); i > 0 && args[i-1] == "--" {
			positional = append(positional, rest...) // everything after "--"
			break
		}
		positional, args = append(positional, rest[0]), rest[1:]
	}
	if len(positional) > maxArgs {
		extra := positional[maxArgs:]
		if maxArgs == 0 {
			return nil, &usageError{cmd, fmt.Sprintf("mcpmux %s takes no arguments, got %s", cmd, quoteAll(extra))}
		}
		return nil, &usageError{cmd, fmt.Sprintf("unexpected argument %s after %s", quoteAll(extra), quoteAll(positional[:maxArgs]))}
	}
	return positional, nil
}

// flagMessage rewords an error of the flag package: with --, as mcpmux
// writes its flags, and with the closest flag for a misspelt one.
func flagMessage(fs *flag.FlagSet, err error) string {
	msg := err.Error()
	if m := undefinedFlag.FindStringSubmatch(msg); m != nil {
		name, _, _ := strings.Cut(m[1], "=")
		var known []string
		fs.VisitAll(func(f *flag.Flag) { known = append(known, f.Name) })
		out := fmt.Sprintf("unknown flag --%s", name)
		if near := registry.Closest(name, known, 2); near != "" {
			out += fmt.Sprintf("; did you mean --%s?", near)
		}
		return out
	}
	if m := invalidValue.FindStringSubmatch(msg); m != nil {
		return fmt.Sprintf("--%s %s: %s", m[2], strconv.Quote(m[1]), m[3])
	}
	if m := needsArgument.FindStringSubmatch(msg); m != nil {
		return fmt.Sprintf("--%s needs a value", m[1])
	}
	return msg
}

func quoteAll(ss []string) string {
	q := make([]string, len(ss))
	for i, s := range ss {
		q[i] = strconv.Quote(s)
	}
	return strings.Join(q, " ")
}

// durationFlag is a flag holding a duration written as Go writes one
// ("5s", "1m30s"). A number without a unit gets "did you mean 5s?".
type durationFlag time.Duration

func (d *durationFlag) String() string { return time.Duration(*d).String() }

func (d *durationFlag) Set(s string) error {
	v, err := time.ParseDuration(s)
	if err == nil {
		*d = durationFlag(v)
		return nil
	}
	if _, nerr := strconv.ParseFloat(s, 64); nerr == nil {
		return fmt.Errorf("a duration needs a unit; did you mean %ss?", s)
	}
	return errors.New(`not a duration; write one such as "5s", "500ms" or "1m30s"`)
}

// Type names the flag's value in the help.
func (d *durationFlag) Type() string { return "duration" }
