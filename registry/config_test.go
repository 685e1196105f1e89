package registry

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

// env returns a lookupEnv that sees only vars.
func env(vars map[string]string) func(string) (string, bool) {
	return func(name string) (string, bool) {
		v, ok := vars[name]
		return v, ok
	}
}

// writeFile writes data to a file in a fresh temporary directory and
// returns its path.
func writeFile(tb testing.TB, data string) string {
	tb.Helper()
	path := filepath.Join(tb.TempDir(), "config.json")
	if err := os.WriteFile(path, []byte(data), 0o600); err != nil {
		tb.Fatal(err)
	}
	return path
}

func ptr[T any](v T) *T { return &v }

// claudeDesktop is shaped like a real claude_desktop_config.json, with the
// keys Claude Desktop and other tools add, plus one remote server in Cursor's
// spelling and one using mcpmux's own settings.
const claudeDesktop = `{
  "globalShortcut": "Ctrl+Space",
  "preferences": {"menuBarEnabled": false},
  "mcpServers": {
    "filesystem": {
      "command": "npx",
      "args": ["-y", "@modelcontextprotocol/server-filesystem", "$HOME/Desktop"],
      "description": "files",
      "autoApprove": ["read_file"]
    },
    "github": {
      "command": "docker",
      "args": ["run", "-i", "--rm", "-e", "GITHUB_PERSONAL_ACCESS_TOKEN", "ghcr.io/github/github-mcp-server"],
      "env": {"GITHUB_PERSONAL_ACCESS_TOKEN": "${GITHUB_TOKEN}"},
      "alwaysAllow": [],
      "timeout": "2m",
      "prefix": "gh",
      "backoff": {"initial": "1s", "max": "1m", "maxAttempts": 5},
      "healthCheck": {"interval": "-1s", "threshold": 2}
    },
    "linear": {
      "type": "streamableHttp",
      "url": "https://mcp.linear.app/mcp",
      "headers": {"Authorization": "Bearer ${LINEAR_KEY:-none}"},
      "disabled": true
    }
  }
}`

func TestParseClaudeDesktop(t *testing.T) {
	got, err := Parse([]byte(claudeDesktop), env(map[string]string{"GITHUB_TOKEN": "ghp_secret"}))
	if err != nil {
		t.Fatalf("Parse(claudeDesktop) error: %v", err)
	}
	want := &Config{Servers: map[string]*Server{
		"filesystem": {
			Name:    "filesystem",
			Command: "npx",
			Args:    []string{"-y", "@modelcontextprotocol/server-filesystem", "$HOME/Desktop"},
		},
		"github": {
			Name:        "github",
			Command:     "docker",
			Args:        []string{"run", "-i", "--rm", "-e", "GITHUB_PERSONAL_ACCESS_TOKEN", "ghcr.io/github/github-mcp-server"},
			Env:         map[string]string{"GITHUB_PERSONAL_ACCESS_TOKEN": "ghp_secret"},
			Prefix:      ptr("gh"),
			Timeout:     Duration(2 * time.Minute),
			Backoff:     Backoff{Initial: Duration(time.Second), Max: Duration(time.Minute), MaxAttempts: 5},
			HealthCheck: HealthCheck{Interval: Duration(-time.Second), Threshold: 2},

			expandedSecrets: []string{"ghp_secret"},
		},
		"linear": {
			Name:     "linear",
			Type:     "streamableHttp",
			URL:      "https://mcp.linear.app/mcp",
			Headers:  map[string]string{"Authorization": "Bearer none"},
			Disabled: true,
		},
	}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Parse(claudeDesktop) = %#v, want %#v", got.Servers, want.Servers)
	}
	var names []string
	for _, s := range got.Enabled() {
		names = append(names, s.Name)
	}
	if want := []string{"filesystem", "github"}; !reflect.DeepEqual(names, want) {
		t.Errorf("Enabled() names = %q, want %q", names, want)
	}
}

func TestParseTopLevel(t *testing.T) {
	tests := []struct {
		name    string
		data    string
		want    string // substring of the error; "" for success
		wantErr error  // if set, errors.Is must hold
		partial bool   // the error leaves a configuration: a bad entry or setting
	}{
		{name: "empty servers", data: `{"mcpServers": {}}`},
		{name: "byte order mark", data: "\ufeff{\"mcpServers\": {}}"},
		{name: "extra keys only", data: `{"mcpServers": {}, "globalShortcut": "", "x": [1, {}]}`},
		{name: "no servers", data: `{"globalShortcut": ""}`, want: `no "mcpServers" object`, wantErr: ErrNoServers},
		{name: "null document", data: `null`, want: `no "mcpServers" object`, wantErr: ErrNoServers},
		{name: "servers array", data: `{"mcpServers": []}`, want: `"mcpServers" is an array`, wantErr: ErrNoServers},
		{name: "servers null", data: `{"mcpServers": null}`, want: `"mcpServers" is null`, wantErr: ErrNoServers},
		{name: "top array", data: `[{"mcpServers": {}}]`, want: "top level is an array, want an object"},
		{name: "entry string", data: `{"mcpServers": {"a": "npx"}}`, want: `server "a": must be an object, got a string`, partial: true},
		{name: "empty name", data: `{"mcpServers": {"": {"command": "x"}}}`, want: `server "": name must not be empty`, partial: true},
		{name: "name length", data: `{"mcpServers": {}, "nameLength": 40}`},
		{name: "name length string", data: `{"mcpServers": {}, "nameLength": "40"}`, want: `field "nameLength": must be an integer from 16 to 64, got a string`, partial: true},
		{name: "name length too short", data: `{"mcpServers": {}, "nameLength": 8}`, want: `field "nameLength": must be from 16 to 64 (the default is 48), got 8`, partial: true},
		{name: "message size", data: `{"mcpServers": {}, "maxMessageSize": "16MB"}`},
		{name: "message size in bytes", data: `{"mcpServers": {}, "maxMessageSize": 1048576}`},
		{name: "message size not a size", data: `{"mcpServers": {}, "maxMessageSize": "big"}`, want: `field "maxMessageSize": must be a size like "64MB"`, partial: true},
		{name: "message size negative", data: `{"mcpServers": {}, "maxMessageSize": -1}`, want: `field "maxMessageSize": must be a size`, partial: true},
		{name: "message size too small", data: `{"mcpServers": {}, "maxMessageSize": 100}`, want: `field "maxMessageSize": must be from 1KB to 4GB (the default is 64MB), got 100B`, partial: true},
		{name: "message size an object", data: `{"mcpServers": {}, "maxMessageSize": {}}`, want: `field "maxMessageSize": must be a size like "64MB" or a number of bytes, got an object`, partial: true},
		{name: "limits", data: `{"mcpServers": {}, "maxInFlight": 100, "maxSessions": 8, "maxInFlightTotal": 400}`},
		{name: "in flight string", data: `{"mcpServers": {}, "maxInFlight": "100"}`, want: `field "maxInFlight": must be an integer from 1 to 1048576, got a string`, partial: true},
		{name: "sessions negative", data: `{"mcpServers": {}, "maxSessions": -1}`, want: `field "maxSessions": must be from 1 to 1048576 (the default is 256), got -1`, partial: true},
		{name: "total too large", data: `{"mcpServers": {}, "maxInFlightTotal": 2000000}`, want: `field "maxInFlightTotal": must be from 1 to 1048576 (the default is 16384), got 2000000`, partial: true},
		{name: "tool mode", data: `{"mcpServers": {}, "toolMode": "search", "toolBudget": {"tools": 50, "tokens": 9000}, "alwaysList": ["gh__*"]}`},
		{name: "tool mode unknown", data: `{"mcpServers": {}, "toolMode": "lazy"}`, want: `field "toolMode": must be "full", "search" or "auto", got "lazy"`, partial: true},
		{name: "tool mode a number", data: `{"mcpServers": {}, "toolMode": 1}`, want: `field "toolMode": must be "full", "search" or "auto", got a number`, partial: true},
		{name: "tool budget unknown key", data: `{"mcpServers": {}, "toolBudget": {"tool": 50}}`, want: `field "toolBudget": decoding: json: unknown field "tool"`, partial: true},
		{name: "tool budget negative", data: `{"mcpServers": {}, "toolBudget": {"tools": -1}}`, want: `field "toolBudget": tools and tokens must not be negative`, partial: true},
		{name: "always list not a list", data: `{"mcpServers": {}, "alwaysList": "gh__*"}`, want: `field "alwaysList": must be an array of tool names or patterns, got a string`, partial: true},
		{name: "profiles", data: `{"mcpServers": {"a": {"command": "x"}}, "profiles": {"dev": {"servers": ["a"], "tools": {"allow": ["a__*"], "deny": ["a__rm"]}, "toolMode": "search", "alwaysList": ["a__ls"]}}}`},
		{name: "profile of an unknown server", data: `{"mcpServers": {}, "profiles": {"dev": {"servers": ["githb"]}}}`, want: `profile "dev": field "servers": no server "githb" in "mcpServers"`, partial: true},
		{name: "profile unknown key", data: `{"mcpServers": {}, "profiles": {"dev": {"server": []}}}`, want: `profile "dev": decoding: json: unknown field "server"`, partial: true},
		{name: "profile bad name", data: `{"mcpServers": {}, "profiles": {"a/b": {}}}`, want: `profile "a/b": the name may hold only`, partial: true},
		{name: "profile bad mode", data: `{"mcpServers": {}, "profiles": {"dev": {"toolMode": "none"}}}`, want: `profile "dev": field "toolMode": must be`, partial: true},
		{name: "profiles not an object", data: `{"mcpServers": {}, "profiles": []}`, want: `field "profiles": must be an object of profiles by name, got an array`, partial: true},
		{name: "always list bad pattern", data: `{"mcpServers": {}, "alwaysList": ["gh__["]}`, want: `field "alwaysList": bad pattern "gh__["`, partial: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := Parse([]byte(tt.data), env(nil))
			if tt.want == "" {
				if err != nil || c == nil || c.Servers == nil {
					t.Fatalf("Parse(%s) = %v, %v, want a config with no servers", tt.data, c, err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Parse(%s) error = %v, want it to contain %q", tt.data, err, tt.want)
			}
			switch {
			case !tt.partial && c != nil:
				t.Errorf("Parse(%s) = %v, want nil with an error", tt.data, c)
			case tt.partial && (c == nil || len(c.Servers) != 0 || len(c.Invalid)+len(c.Problems) != 1):
				t.Errorf("Parse(%s) = %+v, want a configuration with the bad entry or setting left out", tt.data, c)
			}
			if tt.wantErr != nil && !errors.Is(err, tt.wantErr) {
				t.Errorf("errors.Is(Parse(%s) error, %v) = false, want true", tt.data, tt.wantErr)
			}
		})
	}
}

func TestLimits(t *testing.T) {
	c, err := Parse([]byte(`{"mcpServers": {}, "maxInFlight": 100, "maxInFlightTotal": 400}`), env(nil))
	if err != nil {
		t.Fatal(err)
	}
	if got := [3]int{c.InFlight(), c.Sessions(), c.InFlightTotal()}; got != [3]int{100, DefaultMaxSessions, 400} {
		t.Errorf("InFlight, Sessions, InFlightTotal = %v, want [100 %d 400]", got, DefaultMaxSessions)
	}
	c.MaxSessions = -3
	if err := c.Validate(); err == nil || !strings.Contains(err.Error(), `field "maxSessions"`) {
		t.Errorf("Validate() with maxSessions -3 = %v, want an error naming it", err)
	}
}

func TestNameLength(t *testing.T) {
	for data, want := range map[string]int{`{"mcpServers": {}}`: DefaultNameLength, `{"mcpServers": {}, "nameLength": 40}`: 40} {
		c, err := Parse([]byte(data), env(nil))
		if err != nil || c.ExposedNameLength() != want {
			t.Errorf("Parse(%s).ExposedNameLength() = %v, %v; want %d", data, c.ExposedNameLength(), err, want)
		}
	}
}

func TestToolMode(t *testing.T) {
	c, err := Parse([]byte(`{"mcpServers": {"a": {"command": "x", "alwaysList": true}}, "toolMode": "search", "toolBudget": {"tools": 50}, "alwaysList": ["b__*"]}`), env(nil))
	if err != nil {
		t.Fatal(err)
	}
	if tools, tokens := c.ToolBudget.Limits(); c.Mode() != ToolModeSearch || tools != 50 || tokens != DefaultBudgetTokens {
		t.Errorf("Mode() = %q, Limits() = %d, %d", c.Mode(), tools, tokens)
	}
	if !AlwaysListed(c.AlwaysList, c.Servers["a"], "a__x") || !AlwaysListed(c.AlwaysList, nil, "b__y") || AlwaysListed(c.AlwaysList, nil, "c__z") {
		t.Errorf("AlwaysListed is wrong for %v", c.AlwaysList)
	}
	if c, _ := Parse([]byte(`{"mcpServers": {}}`), env(nil)); c.Mode() != ToolModeAuto {
		t.Errorf("default Mode() = %q, want auto", c.Mode())
	}
	for _, tt := range []struct {
		mode          string
		tools, tokens int
		search        bool
		why           string
	}{
		{ToolModeFull, 900, 1e6, false, "toolMode is full"},
		{ToolModeSearch, 1, 1, true, "toolMode is search"},
		{ToolModeAuto, 100, 20000, false, "auto: 100 tools, about 20000 tokens, fit the budget of 100 tools and 20000 tokens"},
		{ToolModeAuto, 101, 100, true, "auto: 101 tools exceed the budget of 100"},
		{ToolModeAuto, 10, 20001, true, "auto: about 20001 tokens of tool definitions exceed the budget of 20000"},
	} {
		if search, why := DecideToolMode(tt.mode, ToolBudget{}, tt.tools, tt.tokens); search != tt.search || why != tt.why {
			t.Errorf("DecideToolMode(%s, %d, %d) = %v, %q; want %v, %q", tt.mode, tt.tools, tt.tokens, search, why, tt.search, tt.why)
		}
	}
	warnings := ToolWarnings(300, []string{"a (3000 bytes)"})
	if len(warnings) != 2 || !strings.Contains(warnings[0], "Claude Desktop drops") || !strings.Contains(warnings[1], "a (3000 bytes)") {
		t.Errorf("ToolWarnings(300, ...) = %q", warnings)
	}
	if w := ToolWarnings(129, nil); len(w) != 1 || !strings.Contains(w[0], "VS Code sends at most 128") {
		t.Errorf("ToolWarnings(129) = %q", w)
	}
}

func TestProfiles(t *testing.T) {
	c, err := Parse([]byte(`{"mcpServers": {"a": {"command": "x"}, "b": {"command": "x"}}, "profiles": {"dev": {"servers": ["a"], "tools": {"deny": ["a__rm"]}}, "bad": {"servers": ["bb"]}}}`), env(nil))
	if err == nil || c == nil || !strings.Contains(err.Error(), `no server "bb" in "mcpServers"; did you mean "b"?`) {
		t.Fatalf("Parse = %v, %v; want the bad profile's error", c, err)
	}
	p := c.Profiles["dev"]
	if p == nil || c.Profiles["bad"] != nil || p.Name != "dev" {
		t.Fatalf("Profiles = %v, want dev alone", c.Profiles)
	}
	for _, tt := range []struct {
		server, name string
		want         bool
	}{{"a", "a__ls", true}, {"a", "a__rm", false}, {"b", "b__ls", false}} {
		if got := p.Allows(tt.server, tt.name); got != tt.want {
			t.Errorf("Allows(%s, %s) = %v, want %v", tt.server, tt.name, got, tt.want)
		}
	}
}

func TestMessageSize(t *testing.T) {
	for data, want := range map[string]Size{
		`{"mcpServers": {}}`:                             64 << 20,
		`{"mcpServers": {}, "maxMessageSize": "16MB"}`:   16 << 20,
		`{"mcpServers": {}, "maxMessageSize": "16 mb"}`:  16 << 20,
		`{"mcpServers": {}, "maxMessageSize": "1.5GiB"}`: 3 << 29,
		`{"mcpServers": {}, "maxMessageSize": "512KB"}`:  512 << 10,
		`{"mcpServers": {}, "maxMessageSize": 2048}`:     2048,
		`{"mcpServers": {}, "maxMessageSize": "2048"}`:   2048,
	} {
		c, err := Parse([]byte(data), env(nil))
		if err != nil || c.MessageSize() != want {
			t.Errorf("Parse(%s).MessageSize() = %v, %v; want %v", data, c.MessageSize(), err, want)
		}
	}
}

func TestParseSyntaxError(t *testing.T) {
	tests := []struct {
		name string
		data string
		want string
	}{
		{name: "bad value", data: `{"mcpServers": x}`, want: "line 1, column 16: invalid character 'x'"},
		{name: "trailing comma", data: "{\n  \"mcpServers\": {\n    \"a\": {},\n  }\n}", want: "line 4, column 3: invalid character '}'"},
		{name: "missing comma", data: "{\n\"mcpServers\": {\"a\": {\"command\": \"x\"\n\"args\": []}}}", want: "line 3, column 1: invalid character '\"' after object key:value pair"},
		{name: "after multibyte", data: "{\"é\": ?}", want: "line 1, column 7: invalid character '?'"},
		{name: "truncated", data: "{\n  \"mcpServers\": {\n    \"a\": {", want: "line 3, column 10: unexpected end of JSON input"},
		{name: "empty file", data: "", want: "line 1, column 1: unexpected end of JSON input"},
		{name: "second document", data: "{\"mcpServers\": {}}\n{}", want: "line 2, column 1: invalid character '{' after top-level value"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse([]byte(tt.data), env(nil))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Parse(%q) error = %v, want it to contain %q", tt.data, err, tt.want)
			}
		})
	}
}

func TestLoad(t *testing.T) {
	t.Setenv("MCPMUX_TEST_TOKEN", "tok-123")
	path := writeFile(t, `{"mcpServers": {"a": {"command": "x", "env": {"TOKEN": "${MCPMUX_TEST_TOKEN}"}}}}`)
	c, err := Load(path)
	if err != nil {
		t.Fatalf("Load(%s) error: %v", path, err)
	}
	if got := c.Servers["a"].Env["TOKEN"]; got != "tok-123" {
		t.Errorf("Load(%s).Servers[a].Env[TOKEN] = %q, want %q", path, got, "tok-123")
	}
}

func TestLoadErrors(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "nope.json")
	invalid := writeFile(t, `{"mcpServers": {"a": {}}}`)
	tests := []struct {
		name    string
		path    string
		want    string
		wantErr error
	}{
		{name: "missing", path: missing, want: "reading config " + missing + ": file does not exist", wantErr: fs.ErrNotExist},
		{name: "invalid", path: invalid, want: "parsing config " + invalid + `: server "a": field "command": is not set`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := Load(tt.path)
			if err == nil || !strings.HasPrefix(err.Error(), tt.want) {
				t.Fatalf("Load(%s) = %v, %v, want error starting %q", tt.path, c, err, tt.want)
			}
			if tt.wantErr != nil && !errors.Is(err, tt.wantErr) {
				t.Errorf("errors.Is(Load(%s) error, %v) = false, want true", tt.path, tt.wantErr)
			}
		})
	}
}

func TestLoadExample(t *testing.T) {
	c, err := Load("../config.example.json")
	if err != nil {
		t.Fatalf("Load(../config.example.json) error: %v", err)
	}
	if err := c.Validate(); err != nil {
		t.Errorf("Validate() of the example = %v, want nil", err)
	}
	if n := len(c.Enabled()); n < 2 {
		t.Errorf("len(Enabled()) of the example = %d, want at least 2", n)
	}
	for _, s := range c.Enabled() {
		if s.Transport() != TransportStdio {
			t.Errorf("example server %q: Transport() = %q, want %q", s.Name, s.Transport(), TransportStdio)
		}
	}
}

func TestDefaultPath(t *testing.T) {
	t.Setenv("XDG_CONFIG_HOME", t.TempDir()) // read on Unix other than macOS
	t.Setenv("HOME", t.TempDir())
	got, err := DefaultPath()
	if err != nil {
		t.Fatalf("DefaultPath() error: %v", err)
	}
	if want := filepath.Join("mcpmux", "config.json"); !strings.HasSuffix(got, want) || !filepath.IsAbs(got) {
		t.Errorf("DefaultPath() = %q, want an absolute path ending in %q", got, want)
	}
}
