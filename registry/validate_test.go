package registry

import (
	"maps"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestParseReportsEveryProblem(t *testing.T) {
	data := `{"mcpServers": {
	  "github":   {"command": "gh", "timeout": "-1s", "env": {"GITHUB_TOKEN": "${GITHUB_TOKEN}"}},
	  "both":     {"command": "x", "url": "https://example.com/mcp"},
	  "neither":  {"args": ["a"]},
	  "ftp":      {"url": "ftp://example.com/mcp"},
	  "spaced":   {"command": "x", "prefix": "has space"},
	  "backoff":  {"command": "x", "backoff": {"initial": "10s", "max": "1s", "maxAttempts": -1, "jitter": true}},
	  "health":   {"command": "x", "healthCheck": {"threshold": "3"}, "lazy": "yes"},
	  "ws":       {"type": "websocket", "url": "https://example.com"},
	  "off":      {"disabled": true, "env": {"T": "${MISSING}"}},
	  "offbad":   {"disabled": true, "timeout": 30},
	  "fine":     {"command": "x", "timeout": "30s", "startTimeout": "2m"},
	  "slow":     {"command": "x", "startTimeout": "-5s"}
	}, "nameLength": 70}`
	want := []string{
		`field "nameLength": must be from 16 to 64 (the default is 48), got 70`,
		`server "backoff": field "backoff.jitter": unknown key (want initial, max, maxAttempts)`,
		`server "backoff": field "backoff.max": must be at least backoff.initial (10s), got 1s`,
		`server "backoff": field "backoff.maxAttempts": must not be negative (0 means no limit), got -1`,
		`server "both": field "url": is set together with "command"; set exactly one of them`,
		`server "ftp": field "url": must be an absolute http or https URL, got scheme "ftp"`,
		`server "github": field "env.GITHUB_TOKEN": variable ${GITHUB_TOKEN} is not set`,
		`server "github": field "timeout": must be positive, got "-1s"`,
		`server "health": field "lazy": must be true or false, got a string`,
		`server "health": field "healthCheck.threshold": must be an integer, got a string`,
		`server "neither": field "command": is not set, and neither is "url"; set exactly one of them`,
		`server "offbad": field "timeout": must be a duration string like "30s" or "1m30s", got the number 30`,
		`server "slow": field "startTimeout": must be positive, got "-5s"`,
		`server "spaced": field "prefix": must be at most 40 letters, digits, "_" or "-" ("" means no prefix), got "has space"`,
		`server "ws": field "type": is "websocket", want "stdio", "sse" or "http" (or "streamable-http")`,
	}
	c, err := Parse([]byte(data), env(nil))
	if err == nil {
		t.Fatalf("Parse(data) = %v, nil, want %d errors", c, len(want))
	}
	if got := strings.Split(err.Error(), "\n"); strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("Parse(data) error =\n%s\nwant\n%s", err, strings.Join(want, "\n"))
	}
}

func TestParseChecks(t *testing.T) {
	tests := []struct {
		name   string
		server string // one "mcpServers" entry, named "s"
		want   string // the error, after `server "s": `; "" for none
	}{
		{name: "stdio", server: `{"command": "x"}`},
		{name: "http", server: `{"url": "http://localhost:8080/mcp"}`},
		{name: "sse", server: `{"type": "sse", "url": "https://example.com/sse"}`},
		{name: "streamable-http", server: `{"type": "streamable-http", "url": "https://example.com/mcp"}`},
		{name: "explicit stdio", server: `{"type": "stdio", "command": "x"}`},
		{name: "empty prefix", server: `{"command": "x", "prefix": ""}`},
		{name: "zero durations mean defaults", server: `{"command": "x", "timeout": "0s", "idleTimeout": "0s"}`},
		{name: "negative health interval disables", server: `{"command": "x", "healthCheck": {"interval": "-1s"}}`},
		{name: "disabled without command", server: `{"disabled": true}`},
		{name: "disabled with bad url", server: `{"disabled": true, "url": "nope"}`},
		{name: "stdio type with url", server: `{"type": "stdio", "url": "https://example.com"}`, want: `field "type": is "stdio", which needs "command", not "url"`},
		{name: "sse type with command", server: `{"type": "sse", "command": "x"}`, want: `field "type": is "sse", which needs "url", not "command"`},
		{name: "relative url", server: `{"url": "/mcp"}`, want: `field "url": must be an absolute http or https URL, got scheme ""`},
		{name: "url without host", server: `{"url": "http:///mcp"}`, want: `field "url": must be an absolute http or https URL, got no host`},
		{name: "unparsable url", server: `{"url": "http://exa mple.com/?token=s3cret"}`, want: `field "url": is not a valid URL`},
		{name: "long prefix", server: `{"command": "x", "prefix": "` + strings.Repeat("p", 41) + `"}`, want: `field "prefix": must be at most 40`},
		{name: "bad duration", server: `{"command": "x", "idleTimeout": "soon"}`, want: `field "idleTimeout": time: invalid duration "soon" (want a duration string like "30s" or "1m30s")`},
		{name: "negative idle timeout", server: `{"command": "x", "idleTimeout": "-5m"}`, want: `field "idleTimeout": must be positive, got "-5m0s"`},
		{name: "backoff max below default initial", server: `{"command": "x", "backoff": {"max": "100ms"}}`, want: `field "backoff.max": must be at least backoff.initial (500ms), got 100ms`},
		{name: "backoff initial above default max", server: `{"command": "x", "backoff": {"initial": "1m"}}`, want: `field "backoff.max": must be at least backoff.initial (1m0s), got 30s (the default)`},
		{name: "backoff not an object", server: `{"command": "x", "backoff": "1s"}`, want: `field "backoff": must be an object, got a string`},
		{name: "negative threshold", server: `{"command": "x", "healthCheck": {"threshold": -1}}`, want: `field "healthCheck.threshold": must not be negative (0 means the default, 3), got -1`},
		{name: "unknown health key", server: `{"command": "x", "healthCheck": {"timeout": "1s"}}`, want: `field "healthCheck.timeout": unknown key (want interval, threshold)`},
		{name: "tool filter", server: `{"command": "x", "tools": {"allow": ["list_*", "get_?ssue"], "deny": ["list_secrets"]}}`},
		{name: "bad tool pattern", server: `{"command": "x", "tools": {"deny": ["ok", "[unclosed"]}}`, want: `field "tools.deny[1]": is not a valid pattern (see path.Match): "[unclosed"`},
		{name: "tool filter not a list", server: `{"command": "x", "tools": {"allow": "echo"}}`, want: `field "tools.allow": must be an array of strings, got a string`},
		{name: "unknown tool filter key", server: `{"command": "x", "tools": {"only": ["x"]}}`, want: `field "tools.only": unknown key (want allow, deny)`},
		{name: "max concurrency", server: `{"command": "x", "maxConcurrency": 4}`},
		{name: "negative max concurrency", server: `{"command": "x", "maxConcurrency": -1}`, want: `field "maxConcurrency": must not be negative (0 means no limit), got -1`},
		{name: "max concurrency string", server: `{"command": "x", "maxConcurrency": "4"}`, want: `field "maxConcurrency": must be an integer, got a string`},
		{name: "fractional attempts", server: `{"command": "x", "backoff": {"maxAttempts": 1.5}}`, want: `field "backoff.maxAttempts": must be an integer, got a number`},
		{name: "prefix number", server: `{"command": "x", "prefix": 7}`, want: `field "prefix": must be a string, got a number`},
		{name: "command array", server: `{"command": ["npx"]}`, want: `field "command": must be a string, got an array`},
		{name: "args string", server: `{"command": "x", "args": "-y"}`, want: `field "args": must be an array of strings, got a string`},
		{name: "arg number", server: `{"command": "x", "args": ["-p", 8080]}`, want: `field "args[1]": must be a string, got a number`},
		{name: "env value number", server: `{"command": "x", "env": {"PORT": 8080}}`, want: `field "env.PORT": must be a string, got a number`},
		{name: "headers array", server: `{"url": "https://example.com", "headers": ["a"]}`, want: `field "headers": must be an object of strings, got an array`},
		{name: "disabled string", server: `{"command": "x", "disabled": "true"}`, want: `field "disabled": must be true or false, got a string`},
		{name: "overrides", server: `{"command": "x", "toolOverrides": {"echo": {"name": "say", "title": "Say", "description": "", "annotations": {"readOnlyHint": true}}}, "promptOverrides": {"p": {"name": "q", "description": "d"}}}`},
		{name: "override name with a space", server: `{"command": "x", "toolOverrides": {"echo": {"name": "say it"}}}`, want: `field "toolOverrides.echo.name": must be 1 to 64 of A-Z a-z 0-9 _ - (the characters every host accepts), got "say it"`},
		{name: "override name too long", server: `{"command": "x", "prefix": "everything", "toolOverrides": {"echo": {"name": "` + strings.Repeat("n", 40) + `"}}}`, want: `field "toolOverrides.echo.name": makes the exposed name "everything__` + strings.Repeat("n", 40) + `" 52 characters long, over the bound of 48 (see "nameLength"); choose a shorter name or prefix`},
		{name: "override names shared", server: `{"command": "x", "toolOverrides": {"a": {"name": "c"}, "b": {"name": "c"}}}`, want: `field "toolOverrides.b.name": is "c", the name toolOverrides.a is given too; two entries cannot share a name`},
		{name: "override name number", server: `{"command": "x", "promptOverrides": {"p": {"name": 7}}}`, want: `field "promptOverrides.p.name": must be a string, got a number`},
		{name: "prompt annotations", server: `{"command": "x", "promptOverrides": {"p": {"annotations": {}}}}`, want: `field "promptOverrides.p.annotations": unknown key (want name, title, description)`},
		{name: "override unknown key", server: `{"command": "x", "toolOverrides": {"echo": {"nmae": "say"}}}`, want: `field "toolOverrides.echo.nmae": unknown key (want name, title, description, annotations)`},
		{name: "override not an object", server: `{"command": "x", "toolOverrides": {"echo": "say"}}`, want: `field "toolOverrides.echo": must be an object, got a string`},
		{name: "overrides not an object", server: `{"command": "x", "toolOverrides": ["echo"]}`, want: `field "toolOverrides": must be an object, got an array`},
		{name: "override annotations not an object", server: `{"command": "x", "toolOverrides": {"echo": {"annotations": true}}}`, want: `field "toolOverrides.echo.annotations": must be an object, got a boolean`},
		{name: "override of no name", server: `{"command": "x", "toolOverrides": {"": {"name": "x"}}}`, want: `field "toolOverrides.": names no tool: the key must be the upstream's own name`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			data := `{"mcpServers": {"s": ` + tt.server + `}}`
			_, err := Parse([]byte(data), env(nil))
			switch {
			case tt.want == "" && err != nil:
				t.Errorf("Parse(%s) error = %v, want nil", tt.server, err)
			case tt.want != "" && (err == nil || !strings.HasPrefix(err.Error(), `server "s": `+tt.want)):
				t.Errorf("Parse(%s) error = %v, want %q", tt.server, err, `server "s": `+tt.want)
			case err != nil && strings.Contains(err.Error(), "\n"):
				t.Errorf("Parse(%s) error = %v, want one problem", tt.server, err)
			case err != nil && strings.Contains(err.Error(), "s3cret"):
				t.Errorf("Parse(%s) error = %v, want no secret in it", tt.server, err)
			}
		})
	}
}

func TestValidate(t *testing.T) {
	tests := []struct {
		name string
		c    *Config
		want string // "" for valid
	}{
		{name: "empty", c: &Config{}},
		{name: "valid", c: &Config{Servers: map[string]*Server{"a": {Name: "a", Command: "x"}}}},
		{name: "nil server", c: &Config{Servers: map[string]*Server{"a": nil}}, want: `server "a": is nil`},
		{name: "name mismatch", c: &Config{Servers: map[string]*Server{"a": {Command: "x"}}}, want: `server "a": Name is "", want the server's key`},
		{
			name: "several",
			c: &Config{Servers: map[string]*Server{
				"b": {Name: "b", Command: "x", Timeout: Duration(-time.Second)},
				"a": {Name: "a"},
			}},
			want: `server "a": field "command": is not set, and neither is "url"; set exactly one of them` + "\n" +
				`server "b": field "timeout": must be positive, got "-1s"`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.c.Validate()
			got := ""
			if err != nil {
				got = err.Error()
			}
			if got != tt.want {
				t.Errorf("Validate() = %q, want %q", got, tt.want)
			}
		})
	}
}

// One bad entry leaves the others usable: the bad one is in Invalid, with
// every problem it has, and its secrets are still known as secrets.
func TestParseKeepsGoodEntries(t *testing.T) {
	data := `{"mcpServers": {
	  "a": {"command": "a"},
	  "b": {"url": "https://example.com/mcp"},
	  "broken": {"command": "x", "timeout": "soon", "env": {"API_TOKEN": "secret-value-123", "GH": "${UNSET_VAR_FOR_TEST}"}},
	  "c": {"command": "c", "disabled": true}
	}, "nameLength": 7}`
	c, err := Parse([]byte(data), env(nil))
	if err == nil || c == nil {
		t.Fatalf("Parse = %v, %v; want the configuration and an error", c, err)
	}
	if got := slices.Sorted(maps.Keys(c.Servers)); !slices.Equal(got, []string{"a", "b", "c"}) {
		t.Errorf("Servers = %q, want a, b, c", got)
	}
	want := `server "broken": field "timeout": time: invalid duration "soon" (want a duration string like "30s" or "1m30s")` + "\n" +
		`server "broken": field "env.GH": variable ${UNSET_VAR_FOR_TEST} is not set`
	if len(c.Invalid) != 1 || c.Invalid["broken"] == nil || c.Invalid["broken"].Error() != want {
		t.Errorf("Invalid = %v, want broken:\n%s", c.Invalid, want)
	}
	if len(c.Problems) != 1 || c.NameLength != 0 {
		t.Errorf("Problems = %v, NameLength = %d; want the nameLength problem, and the default", c.Problems, c.NameLength)
	}
	if !slices.Contains(c.SecretValues(), "secret-value-123") {
		t.Errorf("SecretValues() = %q, want the broken entry's token too", c.SecretValues())
	}
}

func TestParseOverrides(t *testing.T) {
	data := `{"nameLength": 20, "mcpServers": {
	  "s": {"command": "x", "prefix": "p", "toolOverrides": {"echo": {"name": "say", "title": "Say", "description": "", "annotations": {"readOnlyHint": true, "x": { "a" : 1 }}}},
	        "promptOverrides": {"greet": {"description": "Greets"}}},
	  "long": {"command": "x", "toolOverrides": {"echo": {"name": "fifteen_chars_x"}}}
	}}`
	c, err := Parse([]byte(data), env(nil))
	want := `server "long": field "toolOverrides.echo.name": makes the exposed name "long__fifteen_chars_x" 21 characters long, over the bound of 20 (see "nameLength"); choose a shorter name or prefix`
	if err == nil || err.Error() != want {
		t.Fatalf("Parse(data) error = %v, want %s", err, want)
	}
	o := c.Servers["s"].ToolOverrides["echo"]
	if o.Name != "say" || o.Title == nil || *o.Title != "Say" || o.Description == nil || *o.Description != "" {
		t.Errorf("toolOverrides.echo = %+v, want name, title and an empty description", o)
	}
	if got := string(o.Annotations["x"]); got != `{"a":1}` || string(o.Annotations["readOnlyHint"]) != "true" {
		t.Errorf("toolOverrides.echo.annotations = %s, want compact values", o.Annotations)
	}
	if p := c.Servers["s"].PromptOverrides["greet"]; p.Name != "" || p.Description == nil || *p.Description != "Greets" {
		t.Errorf("promptOverrides.greet = %+v, want only a description", p)
	}

	c.NameLength = 16
	c.Servers["s"].ToolOverrides["echo"] = Override{Name: strings.Repeat("n", 14)}
	if err := c.Validate(); err == nil || !strings.Contains(err.Error(), `field "toolOverrides.echo.name": makes the exposed name`) {
		t.Errorf("Validate() with nameLength 16 = %v, want the override's name too long", err)
	}
}
