package registry

import (
	"errors"
	"strings"
	"testing"
)

func TestExpand(t *testing.T) {
	lookup := env(map[string]string{"TOKEN": "s3cret", "EMPTY": "", "HOME": "/home/u"})
	tests := []struct {
		name    string
		in      string
		want    string
		wantErr string // substring of the only error; "" for none
	}{
		{name: "no references", in: "plain", want: "plain"},
		{name: "set", in: "Bearer ${TOKEN}", want: "Bearer s3cret"},
		{name: "set twice", in: "${TOKEN}:${TOKEN}", want: "s3cret:s3cret"},
		{name: "set empty", in: "[${EMPTY}]", want: "[]"},
		{name: "unset with default", in: "${NOPE:-/tmp/x}", want: "/tmp/x"},
		{name: "empty with default", in: "${EMPTY:-fallback}", want: "fallback"},
		{name: "set with default", in: "${TOKEN:-fallback}", want: "s3cret"},
		{name: "empty default", in: "a${NOPE:-}b", want: "ab"},
		{name: "default with colon", in: "${NOPE:-http://localhost:8080}", want: "http://localhost:8080"},
		{name: "literal $HOME", in: "$HOME/Desktop", want: "$HOME/Desktop"},
		{name: "lone dollar", in: "costs $5 $", want: "costs $5 $"},
		{name: "double dollar is not an escape", in: "$${TOKEN}", want: "$s3cret"},
		{name: "braces without dollar", in: "{TOKEN}", want: "{TOKEN}"},
		{name: "missing", in: "${GITHUB_TOKEN}", wantErr: "variable ${GITHUB_TOKEN} is not set"},
		{name: "unclosed", in: "x ${TOKEN", wantErr: `"${" without a closing "}"`},
		{name: "empty name", in: "${}", wantErr: `malformed variable reference: "" is not a variable name`},
		{name: "digit first", in: "${1A}", wantErr: `"1A" is not a variable name`},
		{name: "shell default without colon", in: "${TOKEN-x}", wantErr: `"TOKEN-x" is not a variable name`},
		{name: "nested", in: "${NOPE:-${TOKEN}}", wantErr: "the default of ${NOPE} contains another reference"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, errs := expand(tt.in, lookup)
			if tt.wantErr == "" {
				if got != tt.want || errs != nil {
					t.Errorf("expand(%q) = %q, %v, want %q, nil", tt.in, got, errs, tt.want)
				}
				return
			}
			if len(errs) != 1 || !strings.Contains(errs[0].Error(), tt.wantErr) {
				t.Fatalf("expand(%q) errors = %v, want one containing %q", tt.in, errs, tt.wantErr)
			}
			if strings.Contains(errs[0].Error(), "s3cret") {
				t.Errorf("expand(%q) error = %v, want no value in it", tt.in, errs[0])
			}
		})
	}
}

func TestExpandReportsEveryReference(t *testing.T) {
	_, errs := expand("${A} ${B:-b} ${C}", env(nil))
	got := errors.Join(errs...).Error()
	if want := "variable ${A} is not set\nvariable ${C} is not set"; got != want {
		t.Errorf("expand(...) errors = %q, want %q", got, want)
	}
}

func TestParseExpandsFields(t *testing.T) {
	data := `{"mcpServers": {
	  "local": {
	    "command": "${BIN:-npx}", "args": ["--dir", "${DIR}", "$HOME"], "cwd": "${DIR}",
	    "env": {"TOKEN": "${TOKEN}", "PLAIN": "x"}
	  },
	  "remote": {"url": "https://${HOST}/mcp", "headers": {"Authorization": "Bearer ${TOKEN}"}}
	}}`
	c, err := Parse([]byte(data), env(map[string]string{"DIR": "/srv", "TOKEN": "s3cret", "HOST": "example.com"}))
	if err != nil {
		t.Fatalf("Parse(data) error: %v", err)
	}
	local, remote := c.Servers["local"], c.Servers["remote"]
	tests := []struct {
		name, got, want string
	}{
		{name: "command", got: local.Command, want: "npx"},
		{name: "args", got: strings.Join(local.Args, " "), want: "--dir /srv $HOME"},
		{name: "cwd", got: local.Cwd, want: "/srv"},
		{name: "env", got: local.Env["TOKEN"] + " " + local.Env["PLAIN"], want: "s3cret x"},
		{name: "url", got: remote.URL, want: "https://example.com/mcp"},
		{name: "headers", got: remote.Headers["Authorization"], want: "Bearer s3cret"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.got != tt.want {
				t.Errorf("Parse(data) %s = %q, want %q", tt.name, tt.got, tt.want)
			}
		})
	}
}

func TestParseExpansionErrors(t *testing.T) {
	data := `{"mcpServers": {
	  "a": {"command": "${BIN}", "args": ["${X", "${ARG}"], "headers": {"Auth": "${TOKEN}"}, "url": "${URL}"},
	  "off": {"disabled": true, "command": "${BIN}", "env": {"T": "${TOKEN}"}, "args": ["${Y"]}
	}}`
	_, err := Parse([]byte(data), env(map[string]string{"URL": "https://h/?k=s3cret"}))
	want := strings.Join([]string{
		`server "a": field "command": variable ${BIN} is not set`,
		`server "a": field "args[0]": "${" without a closing "}"`,
		`server "a": field "args[1]": variable ${ARG} is not set`,
		`server "a": field "headers.Auth": variable ${TOKEN} is not set`,
		`server "off": field "args[0]": "${" without a closing "}"`,
	}, "\n")
	if err == nil || err.Error() != want {
		t.Errorf("Parse(data) error =\n%v\nwant\n%s", err, want)
	}
}

func TestParseKeepsUnsetReferencesOfDisabledServers(t *testing.T) {
	data := `{"mcpServers": {"off": {"disabled": true, "command": "${BIN}", "env": {"T": "${TOKEN}", "U": "${SET}"}}}}`
	c, err := Parse([]byte(data), env(map[string]string{"SET": "v"}))
	if err != nil {
		t.Fatalf("Parse(data) error: %v", err)
	}
	s := c.Servers["off"]
	if s.Command != "${BIN}" || s.Env["T"] != "${TOKEN}" || s.Env["U"] != "v" {
		t.Errorf("Parse(data) server = %+v, want command and env.T as written, env.U expanded", s)
	}
}
