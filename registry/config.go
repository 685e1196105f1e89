package registry

import (
	"bytes"
	"cmp"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/mcpmux/mcpmux/internal/jsonrpc"
)

// Defaults for a [Server]'s optional settings.
const (
	DefaultTimeout         = 60 * time.Second
	DefaultStartTimeout    = 30 * time.Second
	DefaultIdleTimeout     = 10 * time.Minute
	DefaultBackoffInitial  = 500 * time.Millisecond
	DefaultBackoffMax      = 30 * time.Second
	DefaultHealthInterval  = 30 * time.Second
	DefaultHealthThreshold = 3

	// DefaultNameLength leaves room, within the 64 characters most hosts
	// accept, for Claude Code's "mcp__<entry>__" with an entry name of up
	// to 9 characters, and for Gemini CLI's "mcp_<entry>_".
	DefaultNameLength = 48
	// MinNameLength and MaxNameLength bound [Config.NameLength].
	MinNameLength, MaxNameLength = 16, 64
)

// ErrNoServers is returned by [Parse] for a file without a "mcpServers"
// object.
var ErrNoServers = errors.New(`no "mcpServers" object`)

// DefaultPath returns where mcpmux looks for its configuration when not told:
// mcpmux/config.json under [os.UserConfigDir].
func DefaultPath() (string, error) {
	dir, err := os.UserConfigDir()
	if err != nil {
		return "", fmt.Errorf("finding the user config directory: %w", err)
	}
	return filepath.Join(dir, "mcpmux", "config.json"), nil
}

// Load reads the configuration file at path and parses it as [Parse] does,
// expanding variables from the process environment, and records its
// absolute path in Path. Its errors name path. Like Parse, it returns the
// configuration with an error if only some of it is wrong.
func Load(path string) (*Config, error) {
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("reading config %s: %w", path, fs.ErrNotExist)
	}
	if err != nil {
		return nil, fmt.Errorf("reading config: %w", err) // err names path
	}
	c, err := Parse(data, os.LookupEnv)
	if err != nil {
		err = fmt.Errorf("parsing config %s: %w", path, err)
	}
	if c != nil {
		c.Path, _ = filepath.Abs(path)
		c.loadEnvFiles(filepath.Dir(c.Path))
		if err == nil && len(c.Invalid) > 0 {
			err = fmt.Errorf("parsing config %s: %w", path, c.invalidErr())
		}
	}
	return c, err
}

// Parse decodes a configuration file, expands variable references in it,
// fills in each [Server]'s Name from its key and checks the result as
// [Config.Validate] does. It returns every problem at once, joined with
// [errors.Join].
//
// A file that is not JSON, or has no "mcpServers" object, gives no
// configuration at all. Otherwise one bad entry does not spoil the others:
// Parse returns the configuration with the good entries in Servers and
// the bad ones in Invalid, and with an error if there are any, or any
// Problems with the file's own settings, which are then left at their
// defaults. So a caller that needs a valid file checks the error, and one
// that serves what it can checks the configuration.
//
// The file has Claude Desktop's shape. Keys mcpmux does not know are ignored,
// at the top level and in server entries alike; mcpmux's own settings
// (disabled, prefix, timeout, backoff, healthCheck, lazy, idleTimeout,
// tools, toolOverrides, promptOverrides, secrets) are decoded strictly, and
// so are the objects among them, which may contain only the keys documented
// on [Backoff], [HealthCheck], [ToolFilter] and [Override]. An override's
// name must be a valid exposed name within the bound of exposed names once
// the server's prefix is before it. An empty "mcpServers" object is valid:
// mcpmux then serves nothing.
//
// References to environment variables, looked up with lookupEnv (nil means
// [os.LookupEnv]), are expanded in a server's command, args, env values, cwd,
// url and header values:
//
//   - ${NAME} is the value of NAME, which must be set (it may be empty).
//   - ${NAME:-default} is the value of NAME, or default when NAME is unset
//     or empty, as in the shell. The default is taken literally and can
//     contain neither "}" nor another reference.
//   - Anything else is left as written: a lone "$", "$NAME" without braces
//     (files from the wild contain things like "$HOME", which Claude Desktop
//     does not expand either) and "$$", which is not an escape: "$${NAME}"
//     is "$" followed by the value of NAME.
//
// NAME is a letter or underscore followed by letters, digits and
// underscores. An unset variable without a default and a malformed reference
// are errors that name the variable, never a value. In a disabled server an
// unset variable is not an error, and the string that refers to it is kept
// as written.
func Parse(data []byte, lookupEnv func(string) (string, bool)) (*Config, error) {
	if lookupEnv == nil {
		lookupEnv = os.LookupEnv
	}
	// Some Windows editors start a UTF-8 file with a byte order mark.
	data = bytes.TrimPrefix(data, []byte("\ufeff"))
	entries, top, err := decodeServers(data)
	if err != nil {
		return nil, err
	}
	c := &Config{Servers: make(map[string]*Server, len(entries))}
	for _, err := range []error{decodeNameLength(top, &c.NameLength), decodeMessageSize(top, &c.MaxMessageSize), decodeInstructionsWait(top, &c.InstructionsWait), decodePinning(top, &c.ToolPinning)} {
		if err != nil {
			c.Problems = append(c.Problems, err)
		}
	}
	c.Problems = append(c.Problems, c.Limits.decode(top)...)
	c.Problems = append(c.Problems, c.decodeToolMode(top)...)
	c.Problems = append(c.Problems, c.Replicas.decode(top)...)
	c.Problems = append(c.Problems, c.decodeProfiles(top, slices.Collect(maps.Keys(entries)))...)
	if checkNameLength(c.NameLength) != nil {
		c.NameLength = 0
	}
	if checkMessageSize(c.MaxMessageSize) != nil {
		c.MaxMessageSize = 0
	}
	if checkInstructionsWait(c.InstructionsWait) != nil {
		c.InstructionsWait = nil
	}
	errs := slices.Clone(c.Problems)
	for _, name := range slices.Sorted(maps.Keys(entries)) {
		ch := &checker{server: name, nameLength: c.NameLength}
		s := decodeServer(ch, entries[name], lookupEnv)
		if s != nil {
			s.check(ch)
		}
		switch {
		case len(ch.errs) > 0:
			if c.Invalid == nil {
				c.Invalid = make(map[string]error)
			}
			c.Invalid[name] = errors.Join(ch.errs...)
			if s != nil {
				c.rejected = append(c.rejected, s)
			}
		default:
			c.Servers[name] = s
		}
		errs = append(errs, ch.errs...)
		c.Warnings = append(c.Warnings, ch.warnings...)
	}
	return c, errors.Join(errs...)
}

// invalidErr joins the problems of the Invalid entries.
func (c *Config) invalidErr() error {
	var errs []error
	for _, name := range slices.Sorted(maps.Keys(c.Invalid)) {
		errs = append(errs, c.Invalid[name])
	}
	return errors.Join(errs...)
}

// SecretValues returns the secret values of every server of the file (see
// [Server.SecretValues]), the invalid ones' too, longest first. A value
// that still holds a ${NAME} reference was not expanded (its variable is
// not set): it is the file's text, not a secret, and masking it would hide
// the very name an error message gives.
func (c *Config) SecretValues() []string {
	var out []string
	add := func(s *Server) {
		for _, v := range s.SecretValues() {
			if !strings.Contains(v, "${") {
				out = append(out, v)
			}
		}
	}
	for _, s := range c.Servers {
		if s != nil {
			add(s)
		}
	}
	for _, s := range c.rejected {
		add(s)
	}
	slices.SortFunc(out, func(a, b string) int { return cmp.Or(len(b)-len(a), strings.Compare(a, b)) })
	return slices.Compact(out)
}

// Validate reports every problem with c at once, joined with [errors.Join],
// in the order of the servers' names. Each error names the server and the
// field, e.g. `server "github": field "timeout": must be positive, got "-1s"`.
// A disabled server is checked only for mcpmux's own settings: it may lack a
// command or url.
func (c *Config) Validate() error {
	errs := append([]error{checkNameLength(c.NameLength), checkMessageSize(c.MaxMessageSize), checkInstructionsWait(c.InstructionsWait), topPinning(c.ToolPinning)}, c.Limits.check()...)
	errs = append(errs, c.Replicas.check()...)
	for _, name := range slices.Sorted(maps.Keys(c.Servers)) {
		ch := &checker{server: name, nameLength: c.NameLength}
		if checkNameLength(c.NameLength) != nil {
			ch.nameLength = 0 // reported above; names are checked against the default
		}
		if s := c.Servers[name]; s == nil {
			ch.fail("", "is nil")
		} else {
			s.check(ch)
		}
		errs = append(errs, ch.errs...)
	}
	return errors.Join(errs...)
}

// ExposedNameLength returns the bound of exposed names: NameLength, or
// [DefaultNameLength] if unset.
func (c *Config) ExposedNameLength() int {
	if c.NameLength == 0 {
		return DefaultNameLength
	}
	return c.NameLength
}

// decodeNameLength decodes the top-level "nameLength", if present.
func decodeNameLength(top map[string]json.RawMessage, dst *int) error {
	raw, ok := top["nameLength"]
	if !ok {
		return nil
	}
	if err := json.Unmarshal(raw, dst); err != nil {
		return fmt.Errorf(`field "nameLength": must be an integer from %d to %d, got %s`, MinNameLength, MaxNameLength, jsonrpc.Kind(raw))
	}
	return checkNameLength(*dst)
}

// decodeMessageSize decodes the top-level "maxMessageSize", if present.
func decodeMessageSize(top map[string]json.RawMessage, dst *Size) error {
	raw, ok := top["maxMessageSize"]
	if !ok {
		return nil
	}
	if err := json.Unmarshal(raw, dst); err != nil {
		return fmt.Errorf(`field "maxMessageSize": %w`, err)
	}
	return checkMessageSize(*dst)
}

// MessageSize returns the bound of one message: MaxMessageSize, or
// DefaultMessageSize if unset.
func (c *Config) MessageSize() Size {
	if c.MaxMessageSize <= 0 {
		return DefaultMessageSize
	}
	return c.MaxMessageSize
}

// checkNameLength reports a nameLength out of bounds; 0 means the default.
func checkNameLength(n int) error {
	if n != 0 && (n < MinNameLength || n > MaxNameLength) {
		return fmt.Errorf(`field "nameLength": must be from %d to %d (the default is %d), got %d`, MinNameLength, MaxNameLength, DefaultNameLength, n)
	}
	return nil
}

// Enabled returns the servers that are not disabled, sorted by name.
func (c *Config) Enabled() []*Server {
	var enabled []*Server
	for _, s := range c.Servers {
		if s != nil && !s.Disabled {
			enabled = append(enabled, s)
		}
	}
	slices.SortFunc(enabled, func(a, b *Server) int { return cmp.Compare(a.Name, b.Name) })
	return enabled
}

// decodeServers decodes the top level of a configuration file and returns
// the raw entries of its "mcpServers" object, and its top-level members.
func decodeServers(data []byte) (entries, top map[string]json.RawMessage, err error) {
	if err := json.Unmarshal(data, &top); err != nil {
		return nil, nil, syntaxError(data, err)
	}
	raw, ok := top["mcpServers"]
	if !ok {
		raw, ok = top["servers"] // VS Code's .vscode/mcp.json
	}
	if !ok {
		if near := Closest("mcpServers", slices.Collect(maps.Keys(top)), 2); near != "" {
			return nil, nil, fmt.Errorf("%w; did you mean %q?", ErrNoServers, near)
		}
		return nil, nil, ErrNoServers
	}
	if kind := jsonrpc.Kind(raw); kind != "an object" {
		return nil, nil, fmt.Errorf(`%w: "mcpServers" is %s`, ErrNoServers, kind)
	}
	if err := json.Unmarshal(raw, &entries); err != nil {
		return nil, nil, fmt.Errorf(`decoding "mcpServers": %w`, err)
	}
	return entries, top, nil
}

// syntaxError explains why data could not be decoded as a JSON object,
// with the line and column of a syntax error.
func syntaxError(data []byte, err error) error {
	var serr *json.SyntaxError
	switch {
	case errors.As(err, &serr):
		// Offset counts the bytes read, the offending one included.
		line, col := position(data, int(serr.Offset)-1)
		return fmt.Errorf("line %d, column %d: %w", line, col, err)
	case errors.Is(err, io.ErrUnexpectedEOF):
		line, col := position(data, len(data))
		return fmt.Errorf("line %d, column %d: file ends early: %w", line, col, err)
	case jsonrpc.Kind(data) != "an object":
		return fmt.Errorf("top level is %s, want an object", jsonrpc.Kind(data))
	}
	return fmt.Errorf("decoding JSON: %w", err)
}

// position returns the 1-based line and column (in characters) of data[off].
func position(data []byte, off int) (line, col int) {
	off = min(max(off, 0), len(data))
	before := data[:off]
	lineStart := bytes.LastIndexByte(before, '\n') + 1
	return bytes.Count(before, []byte{'\n'}) + 1, utf8.RuneCount(before[lineStart:]) + 1
}

// ID identifies the configuration file: a short digest of its absolute
// path with symbolic links resolved, so that every way of naming one file
// gives one ID. It is "" for a configuration not loaded from a file.
func (c *Config) ID() string {
	if c.Path == "" {
		return ""
	}
	path := c.Path
	if resolved, err := filepath.EvalSymlinks(path); err == nil {
		path = resolved
	}
	sum := sha256.Sum256([]byte("mcpmux config id v1\x00" + path))
	return hex.EncodeToString(sum[:8])
}
