package hosts

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// layout puts the sample files of testdata where each host keeps them
// on Linux, under a new home and project, and returns their Env.
func layout(t *testing.T) Env {
	t.Helper()
	home, project := t.TempDir(), t.TempDir()
	e := Env{Home: home, OS: "linux", ConfigHome: filepath.Join(home, ".config"), Project: project}
	for sample, dst := range map[string]string{
		"claude_desktop_config.json": filepath.Join(e.ConfigHome, "Claude", "claude_desktop_config.json"),
		"claude.json":                filepath.Join(home, ".claude.json"),
		"project-mcp.json":           filepath.Join(project, ".mcp.json"),
		"cursor-mcp.json":            filepath.Join(home, ".cursor", "mcp.json"),
		"vscode-mcp.json":            filepath.Join(project, ".vscode", "mcp.json"),
		"vscode-settings.json":       filepath.Join(e.ConfigHome, "Code", "User", "settings.json"),
		"windsurf-mcp_config.json":   filepath.Join(home, ".codeium", "windsurf", "mcp_config.json"),
	} {
		data, err := os.ReadFile(filepath.Join("testdata", sample))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.MkdirAll(filepath.Dir(dst), 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(dst, data, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return e
}

func readAll(t *testing.T, e Env) []Entry {
	t.Helper()
	var all []Entry
	for _, h := range All {
		for _, f := range h.Existing(e) {
			got, err := Read(f)
			if err != nil && !strings.Contains(err.Error(), `server "broken" is a string, not an object; left out`) {
				t.Errorf("Read(%s) = %v", f.Path, err)
			}
			all = append(all, got...)
		}
	}
	return all
}

// Every host's shape is read, from where the host keeps it.
func TestReadEveryHost(t *testing.T) {
	e := layout(t)
	var got []string
	for _, en := range readAll(t, e) {
		got = append(got, en.From.Host+"/"+en.Name)
	}
	want := []string{"claude-desktop/filesystem", "claude-desktop/github", "claude-code/mcpmux", "claude-code/sentry",
		"claude-code/memory", "cursor/github", "cursor/time", "vscode/playwright", "vscode/fetch", "windsurf/remote"}
	if !slices.Equal(got, want) {
		t.Errorf("entries = %q\nwant      %q", got, want)
	}
	for _, en := range readAll(t, e) {
		if en.Name == "remote" && !strings.Contains(string(en.Raw), `"url":"https://mcp.example.com/mcp?token=sample-secret-99"`) {
			t.Errorf("windsurf's serverUrl = %s, want url", en.Raw)
		}
		if en.Name == "fetch" && !strings.Contains(string(en.Raw), `"--user-agent=a//b"`) {
			t.Errorf("fetch = %s: a // in a string is not a comment", en.Raw)
		}
	}
}

// The paths of Claude Desktop on each system.
func TestClaudeDesktopPaths(t *testing.T) {
	h, _ := Lookup("claude-desktop")
	for _, tt := range []struct {
		e    Env
		want string
	}{
		{Env{OS: "darwin", Home: "/Users/u"}, "/Users/u/Library/Application Support/Claude/claude_desktop_config.json"},
		{Env{OS: "windows", AppData: "/appdata"}, filepath.Join("/appdata", "Claude", "claude_desktop_config.json")},
		{Env{OS: "linux", ConfigHome: "/home/u/.config"}, "/home/u/.config/Claude/claude_desktop_config.json"},
	} {
		if f := h.Files(tt.e); len(f) != 1 || f[0].Path != tt.want {
			t.Errorf("Files(%s) = %+v, want %s", tt.e.OS, f, tt.want)
		}
	}
}

// The plan adds what is new, keeps what is there, reports clashes and
// never takes mcpmux's own entry; the result keeps the file's members.
func TestPlan(t *testing.T) {
	e := layout(t)
	config := filepath.Join(t.TempDir(), "config.json")
	if err := os.WriteFile(config, []byte(`{"nameLength": 40, "mcpServers": {"time": {"command": "uvx", "args": ["mcp-server-time"]}, "sentry": {"url": "https://other"}}}`), 0o600); err != nil {
		t.Fatal(err)
	}
	p, err := NewPlan(config, readAll(t, e), "/nonexistent/self")
	if err != nil {
		t.Fatal(err)
	}
	kinds := map[string]Kind{}
	for _, c := range p.Changes {
		kinds[c.Entry.From.Host+"/"+c.Entry.Name] = c.Kind
	}
	want := map[string]Kind{"claude-desktop/filesystem": Add, "claude-desktop/github": Add, "claude-code/mcpmux": Self,
		"claude-code/sentry": Clash, "claude-code/memory": Add, "cursor/github": Clash, "cursor/time": Same,
		"vscode/playwright": Add, "vscode/fetch": Add, "windsurf/remote": Add}
	for k, v := range want {
		if kinds[k] != v {
			t.Errorf("%s: %q, want %q", k, kinds[k], v)
		}
	}
	if err := p.Apply(); err != nil {
		t.Fatal(err)
	}
	var cfg struct {
		NameLength int                        `json:"nameLength"`
		Servers    map[string]json.RawMessage `json:"mcpServers"`
	}
	data, _ := os.ReadFile(config)
	if err := json.Unmarshal(data, &cfg); err != nil || cfg.NameLength != 40 || len(cfg.Servers) != 8 || !sameJSON(cfg.Servers["sentry"], json.RawMessage(`{"url":"https://other"}`)) {
		t.Errorf("written config = %s (%v)", data, err)
	}
	if again, _ := NewPlan(config, readAll(t, e), ""); again.Count(Add) != 0 || again.Result() != nil {
		t.Errorf("a second plan adds %d", again.Count(Add))
	}
}

// ReplaceHost leaves mcpmux alone in the host's file, other members
// kept, after a backup; Undo puts the backup back.
func TestReplaceAndUndo(t *testing.T) {
	e := layout(t)
	h, _ := Lookup("claude-desktop")
	f := h.Existing(e)[0]
	before, _ := os.ReadFile(f.Path)
	entry := McpmuxEntry(f, "/opt/bin/mcpmux", "/home/u/.config/mcpmux/config.json", "/usr/bin:/bin")
	backup, err := ReplaceHost(f, entry, time.Date(2026, 12, 2, 7, 30, 0, 0, time.UTC))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasSuffix(backup, "claude_desktop_config.json.mcpmux-backup-20261202T073000.000Z") {
		t.Errorf("backup = %s", backup)
	}
	if saved, _ := os.ReadFile(backup); string(saved) != string(before) {
		t.Errorf("backup holds %q", saved)
	}
	got, _ := Read(f)
	if len(got) != 1 || got[0].Name != "mcpmux" || !IsMcpmux(got[0].Raw, "") {
		t.Errorf("after ReplaceHost the file has %+v", got)
	}
	if data, _ := os.ReadFile(f.Path); !strings.Contains(string(data), `"globalShortcut": "Ctrl+Space"`) {
		t.Errorf("ReplaceHost lost the file's other members:\n%s", data)
	}
	if _, err := Undo(f); err != nil {
		t.Fatal(err)
	}
	if after, _ := os.ReadFile(f.Path); string(after) != string(before) {
		t.Errorf("after Undo the file is\n%s\nwant\n%s", after, before)
	}
	// VS Code's settings have comments: not rewritten.
	vs, _ := Lookup("vscode")
	for _, vf := range vs.Existing(e) {
		if vf.Key == "mcp.servers" {
			if _, err := ReplaceHost(vf, entry, time.Now()); err == nil || !strings.Contains(err.Error(), "comments") {
				t.Errorf("ReplaceHost of settings.json = %v, want a refusal", err)
			}
		}
	}
}

func TestStripJSONC(t *testing.T) {
	for in, want := range map[string]string{
		`{"a": 1, // c` + "\n}":              `{"a": 1` + "\n}",
		`{"a": "//x", /* y */ "b": [1,2,],}`: `{"a": "//x",   "b": [1,2]}`,
		`{"a": "\"/*", "b": 1}`:              `{"a": "\"/*", "b": 1}`,
	} {
		if got := string(StripJSONC([]byte(in))); !json.Valid([]byte(got)) || strings.Join(strings.Fields(got), "") != strings.Join(strings.Fields(want), "") {
			t.Errorf("StripJSONC(%q) = %q, want %q", in, got, want)
		}
	}
}

// FuzzRead: any file gives entries that are objects, or errors; never a
// panic. StripJSONC keeps valid JSON as it is.
func FuzzRead(f *testing.F) {
	for _, name := range []string{"claude.json", "vscode-settings.json", "cursor-mcp.json", "windsurf-mcp_config.json"} {
		data, err := os.ReadFile(filepath.Join("testdata", name))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data, true)
	}
	f.Add([]byte(`{"mcpServers": {"a": 1, "b": {}}, "mcp": {"servers": []}}`), false)
	f.Add([]byte(`{"mcp": "x"} /* unterminated`), true)
	f.Fuzz(func(t *testing.T, data []byte, jsonc bool) {
		for _, key := range []string{"mcpServers", "servers", "mcp.servers"} {
			entries, _ := parseEntries(data, File{Path: "f.json", Key: key, JSONC: jsonc})
			for _, e := range entries {
				var m map[string]any
				if json.Unmarshal(e.Raw, &m) != nil {
					t.Fatalf("entry %q is %s, not an object", e.Name, e.Raw)
				}
			}
		}
		if json.Valid(data) {
			if got := StripJSONC(data); json.Valid(data) && !strings.Contains(string(data), ",") && string(got) != string(data) {
				t.Fatalf("StripJSONC changed valid JSON without commas: %q → %q", data, got)
			}
		}
	})
}

func TestIsServerExecutable(t *testing.T) {
	for name, want := range map[string]bool{
		"mcp-server-time": true, "mcp-grafana": true, "weather-mcp-server": true, "MCP-X.exe": true,
		"mcp-": false, "-mcp-server": false, "mcpmux": false, "mcp": false, "not-mcp": false,
	} {
		if got := IsServerExecutable(name); got != want {
			t.Errorf("IsServerExecutable(%q) = %v, want %v", name, got, want)
		}
	}
}
