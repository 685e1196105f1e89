package registry

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// A key one edit away from one of mcpmux's is a warning with "did you
// mean"; the entry is served all the same, and other unknown keys are
// ignored in silence.
func TestNearMissKeys(t *testing.T) {
	c, err := Parse([]byte(`{"mcpServers": {"a": {"comand": "x", "command": "y", "disable": true, "timout": "1s", "tool": {}, "Command": "z", "description": "from the wild"}}}`), env(nil))
	if err != nil {
		t.Fatal(err)
	}
	if c.Servers["a"] == nil {
		t.Fatalf("server a not served: %v", c.Invalid)
	}
	var got []string
	for _, w := range c.Warnings {
		got = append(got, w.Error())
	}
	want := []string{
		`server "a": field "Command": is not a key mcpmux reads, and is ignored; did you mean "command"?`,
		`server "a": field "comand": is not a key mcpmux reads, and is ignored; did you mean "command"?`,
		`server "a": field "disable": is not a key mcpmux reads, and is ignored; did you mean "disabled"?`,
		`server "a": field "timout": is not a key mcpmux reads, and is ignored; did you mean "timeout"?`,
		`server "a": field "tool": is not a key mcpmux reads, and is ignored; did you mean "tools"?`,
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("Warnings =\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// VS Code's .vscode/mcp.json: "servers" instead of "mcpServers", with
// "type" and "envFile", whose variables come under the entry's own env.
func TestVSCodeShape(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, ".env"), []byte("# comment\nexport API_KEY=\"k-123456\"\nMODE=file\n\nOTHER='x y'\r\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "mcp.json")
	data := `{"inputs": [], "servers": {
		"mem": {"type": "stdio", "command": "npx", "args": ["-y", "@modelcontextprotocol/server-memory"], "envFile": ".env", "env": {"MODE": "own"}},
		"web": {"type": "http", "url": "https://example.com/mcp"},
		"gone": {"type": "stdio", "command": "x", "envFile": "missing.env"}}}`
	if err := os.WriteFile(path, []byte(data), 0o600); err != nil {
		t.Fatal(err)
	}
	c, err := Load(path)
	if c == nil {
		t.Fatal(err)
	}
	mem := c.Servers["mem"]
	if mem == nil || mem.Env["API_KEY"] != "k-123456" || mem.Env["MODE"] != "own" || mem.Env["OTHER"] != "x y" {
		t.Fatalf("mem = %+v, want the env file's variables under its own", mem)
	}
	if w := c.Servers["web"]; w == nil || w.Transport() != TransportHTTP {
		t.Errorf("web = %+v, want an http server", w)
	}
	if e := c.Invalid["gone"]; e == nil || !strings.Contains(e.Error(), `server "gone": field "envFile": reading`) {
		t.Errorf("gone: %v, want an envFile error", e)
	}
	if err == nil {
		t.Error("Load returned no error for the missing env file")
	}
	found := false
	for _, v := range c.SecretValues() {
		found = found || v == "k-123456"
	}
	if !found {
		t.Errorf("SecretValues = %q, want the env file's API_KEY", c.SecretValues())
	}
}

func TestNoServersDidYouMean(t *testing.T) {
	_, err := Parse([]byte(`{"mcpServer": {}}`), env(nil))
	if err == nil || !strings.Contains(err.Error(), `did you mean "mcpServer"?`) {
		t.Errorf("Parse = %v, want a did you mean", err)
	}
}

func TestParseEnvFile(t *testing.T) {
	for _, tt := range []struct{ in, err string }{
		{"A=1\nB", "line 2: want NAME=value"},
		{"1A=x", "line 1: want NAME=value"},
		{"=x", "line 1: want NAME=value"},
	} {
		if _, err := ParseEnvFile([]byte(tt.in)); err == nil || err.Error() != tt.err {
			t.Errorf("ParseEnvFile(%q) = %v, want %q", tt.in, err, tt.err)
		}
	}
}

var envFileError = regexp.MustCompile(`^line [0-9]+: want NAME=value$`)

// FuzzParseEnvFile: any file gives variables with valid names, or an
// error that quotes nothing of the file.
func FuzzParseEnvFile(f *testing.F) {
	for _, s := range []string{"A=1\n# c\nexport B='x'\n", "\ufeffC=\"q\"\r\n", "=", "A", "A=\"", "A='"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		vars, err := ParseEnvFile(data)
		if err != nil {
			if !envFileError.MatchString(err.Error()) {
				t.Fatalf("ParseEnvFile error %q", err)
			}
			return
		}
		for k := range vars {
			if !isVarName(k) {
				t.Fatalf("ParseEnvFile(%q) gave name %q", data, k)
			}
		}
	})
}
