package registry

import (
	"encoding/json"
	"time"
)

// Config is an mcpmux configuration file. Its shape is Claude Desktop's
// claude_desktop_config.json: a "mcpServers" object keyed by server name.
// Keys mcpmux does not know are ignored, so a user's existing file works as is.
type Config struct {
	// Servers are the upstream MCP servers, keyed by name. Each Server's Name
	// is filled in from its key.
	Servers map[string]*Server `json:"mcpServers"`
	// NameLength bounds the length of every exposed tool and prompt name,
	// leaving room for the prefix a host adds of its own. Zero means
	// [DefaultNameLength].
	NameLength int `json:"nameLength,omitempty"`
	// MaxMessageSize bounds one message from the client or from an
	// upstream; a larger one is refused. Zero means [DefaultMessageSize].
	MaxMessageSize Size `json:"maxMessageSize,omitempty"`
	// InstructionsWait bounds how long a client's initialize waits for the
	// handshakes of upstreams whose instructions are not cached, to relay
	// them. Nil means [DefaultInstructionsWait]; "0s" means no wait.
	InstructionsWait *Duration `json:"instructionsWait,omitempty"`
	// Replicas: serve --http's drain and portable sessions.
	Replicas
	// Limits bound the requests and sessions of clients.
	Limits
	// ToolMode is "full", "search" or "auto" (see [ToolModeAuto]); empty
	// means auto.
	ToolMode string `json:"toolMode,omitempty"`
	// ToolBudget is how large a catalogue auto mode lists in full.
	ToolBudget ToolBudget `json:"toolBudget,omitzero"`
	// AlwaysList are the exposed names (or shell patterns of them) of the
	// tools that search mode lists as themselves.
	AlwaysList []string `json:"alwaysList,omitempty"`
	// Profiles are subsets of the catalogue for the clients that ask for
	// them by name, keyed by name.
	Profiles map[string]*Profile `json:"profiles,omitempty"`
	// ToolPinning is what happens to a tool or prompt whose definition
	// changed since it was first seen, or that the scanner flags:
	// "withhold" (left out of the lists until approved with mcpmux
	// trust), "warn" (listed, logged and shown) or "off" (not pinned).
	// Empty means "withhold". A server's own "toolPinning" wins.
	ToolPinning string `json:"toolPinning,omitempty"`

	// Path is the file the configuration was loaded from, absolute; empty
	// if it was not loaded from a file. Not read from JSON.
	Path string `json:"-"`
	// Invalid are the entries of "mcpServers" that cannot be used, by name,
	// each with every problem it has; they are not in Servers, and mcpmux
	// serves the others. Not read from JSON.
	Invalid map[string]error `json:"-"`
	// Problems are those of the file's own settings (nameLength,
	// maxMessageSize, the Limits), which are left at their defaults. Not read from
	// JSON.
	Problems []error `json:"-"`
	// Warnings are what is likely a mistake but not an error: a key one
	// edit away from one of mcpmux's ("comand"), which is ignored as
	// unknown keys are. Not read from JSON.
	Warnings []error `json:"-"`

	// rejected is what could be decoded of the Invalid entries, whose
	// secrets are secrets all the same.
	rejected []*Server
}

// Server is one upstream MCP server: Claude Desktop's fields (command, args,
// env, cwd; url and headers for remote servers) plus mcpmux's own optional
// settings. The zero value of every optional field means its default.
type Server struct {
	// Name is the key of the server in "mcpServers". Not read from JSON.
	Name string `json:"-"`

	// Command is the executable of a stdio server, looked up in PATH.
	Command string `json:"command,omitempty"`
	// Args are passed to Command.
	Args []string `json:"args,omitempty"`
	// Env is merged over mcpmux's own environment for the child. Values are
	// secrets: they never appear in logs.
	Env map[string]string `json:"env,omitempty"`
	// Cwd is the child's working directory; empty means mcpmux's own.
	Cwd string `json:"cwd,omitempty"`
	// EnvFile (VS Code's) names a file of NAME=value lines, set in the
	// child's environment under Env, which wins. [Load] reads it, relative
	// to the configuration's directory; [Parse] only decodes the name.
	EnvFile string `json:"envFile,omitempty"`

	// URL is the endpoint of a remote server (SSE or streamable HTTP).
	URL string `json:"url,omitempty"`
	// Type is "stdio", "sse" or "http"; empty means stdio when Command is
	// set and streamable HTTP when URL is set.
	Type string `json:"type,omitempty"`
	// Headers are sent with every HTTP request. Values are secrets.
	Headers map[string]string `json:"headers,omitempty"`
	// OAuth shapes the MCP authorization flow of a remote server, which is
	// on by default (see [OAuth]).
	OAuth OAuth `json:"oauth,omitzero"`

	// Disabled servers are not started and contribute nothing.
	Disabled bool `json:"disabled,omitempty"`
	// Prefix namespaces the server's tools and prompts as prefix__name. Nil
	// means the server's Name; "" means no prefix.
	Prefix *string `json:"prefix,omitempty"`
	// Timeout bounds each request to this server. Zero means DefaultTimeout.
	Timeout Duration `json:"timeout,omitempty"`
	// StartTimeout bounds starting, initialising and listing the server.
	// Zero means DefaultStartTimeout.
	StartTimeout Duration `json:"startTimeout,omitempty"`
	// Backoff shapes reconnection after a failure.
	Backoff Backoff `json:"backoff,omitzero"`
	// HealthCheck shapes the periodic liveness check.
	HealthCheck HealthCheck `json:"healthCheck,omitzero"`
	// MaxConcurrency bounds the requests in flight to the server; the rest
	// wait their turn, each within its timeout. Zero means no bound.
	MaxConcurrency int `json:"maxConcurrency,omitempty"`
	// Lazy servers with a cached catalogue are started on first use only.
	Lazy bool `json:"lazy,omitempty"`
	// IdleTimeout stops a lazy server after this long without calls. Zero
	// means DefaultIdleTimeout.
	IdleTimeout Duration `json:"idleTimeout,omitempty"`
	// Tools chooses which of the server's tools are exposed.
	Tools ToolFilter `json:"tools,omitzero"`
	// LogStderr is the level at which the lines the server writes to its
	// stderr are logged: "debug", "info", "warn" or "error". Empty means
	// debug.
	LogStderr string `json:"logStderr,omitempty"`
	// ToolOverrides change how the server's tools are shown to the
	// client, keyed by the upstream's own tool names.
	ToolOverrides map[string]Override `json:"toolOverrides,omitempty"`
	// PromptOverrides do the same for its prompts (without Annotations,
	// which prompts do not have).
	PromptOverrides map[string]Override `json:"promptOverrides,omitempty"`
	// AlwaysList keeps every tool of the server listed as itself in
	// search mode.
	AlwaysList bool `json:"alwaysList,omitempty"`
	// SecretEnv names env entries whose values are secrets although their
	// names do not say so (see [Server.IsSecretEnv]).
	SecretEnv []string `json:"secrets,omitempty"`
	// ToolPinning overrides the configuration's "toolPinning" for this
	// server. Empty means the configuration's.
	ToolPinning string `json:"toolPinning,omitempty"`

	// expandedSecrets are the values that ${NAME} references to
	// secret-named variables expanded to (see [Server.SecretValues]).
	expandedSecrets []string
}

// ToolFilter chooses tools by the upstream's own names, with shell-style
// patterns ("list_*", "get_?ssue"; see path.Match). The zero value exposes
// every tool.
type ToolFilter struct {
	// Allow, if not empty, exposes only the tools that match one of its
	// patterns.
	Allow []string `json:"allow,omitempty"`
	// Deny hides the tools that match one of its patterns, even allowed ones.
	Deny []string `json:"deny,omitempty"`
}

// Override changes how one upstream tool or prompt is shown to the client.
// Only the members it sets are changed; the rest of the upstream's object
// passes as the upstream sent it. The zero value changes nothing.
type Override struct {
	// Name replaces the upstream's own name: the entry is exposed as
	// prefix__Name, and called by that name only. Empty keeps the name.
	Name string `json:"name,omitempty"`
	// Title and Description, if set, replace the entry's own (an empty
	// string empties it).
	Title       *string `json:"title,omitempty"`
	Description *string `json:"description,omitempty"`
	// Annotations are set over the tool's own annotations, key by key;
	// the keys it does not name are kept. Tools only.
	Annotations map[string]json.RawMessage `json:"annotations,omitempty"`
}

// Backoff is the reconnect policy of one server.
type Backoff struct {
	// Initial is the first delay. Zero means 500ms.
	Initial Duration `json:"initial,omitempty"`
	// Max caps the delay. Zero means 30s.
	Max Duration `json:"max,omitempty"`
	// MaxAttempts stops reconnecting after this many failures in a row.
	// Zero means never give up.
	MaxAttempts int `json:"maxAttempts,omitempty"`
}

// HealthCheck is the liveness policy of one server.
type HealthCheck struct {
	// Interval between pings. Zero means 30s; a negative value disables.
	Interval Duration `json:"interval,omitempty"`
	// Threshold is how many pings in a row may fail before the connection
	// is restarted. Zero means 3.
	Threshold int `json:"threshold,omitempty"`
}

// Duration is a time.Duration written in JSON as a Go duration string
// ("30s", "1m30s").
type Duration time.Duration

// Catalogue is what one upstream server offers, as it sent it: every entry
// is the upstream's own JSON object, byte for byte, so that nothing a client
// could see is lost on the way through mcpmux.
type Catalogue struct {
	// ProtocolVersion is the version negotiated with the upstream.
	ProtocolVersion string `json:"protocolVersion,omitempty"`
	// ServerInfo is the upstream's serverInfo object.
	ServerInfo json.RawMessage `json:"serverInfo,omitempty"`
	// Capabilities is the upstream's capabilities object.
	Capabilities json.RawMessage `json:"capabilities,omitempty"`
	// Instructions are the upstream's usage instructions, if any.
	Instructions string `json:"instructions,omitempty"`

	Tools             []json.RawMessage `json:"tools,omitempty"`
	Prompts           []json.RawMessage `json:"prompts,omitempty"`
	Resources         []json.RawMessage `json:"resources,omitempty"`
	ResourceTemplates []json.RawMessage `json:"resourceTemplates,omitempty"`

	// ClientCapabilities are the capabilities mcpmux declared to the
	// upstream when it read the catalogue: servers offer some tools only to
	// clients that can sample, elicit or list roots.
	ClientCapabilities json.RawMessage `json:"clientCapabilities,omitempty"`

	// Fetched is when the catalogue was read from the upstream.
	Fetched time.Time `json:"fetched"`
	// Fingerprint identifies the server configuration the catalogue was read
	// with (see [Server.Fingerprint]); a cached catalogue whose fingerprint
	// differs from the current configuration's is stale.
	Fingerprint string `json:"fingerprint,omitempty"`
}
