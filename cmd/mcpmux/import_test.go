package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mcpmux/mcpmux/registry"
)

// hostSamples holds a sample file of each host's shape.
var hostSamples, _ = filepath.Abs(filepath.Join("..", "..", "registry", "hosts", "testdata"))

// hostHome puts the sample files of registry/hosts/testdata where each
// host keeps them on Linux, under a new home and a new working directory,
// and returns the home and the path of Claude Desktop's file.
func hostHome(t *testing.T) (home, claude string) {
	t.Helper()
	home, project := t.TempDir(), t.TempDir()
	t.Setenv("HOME", home)
	t.Setenv("XDG_CONFIG_HOME", filepath.Join(home, ".config"))
	t.Setenv("APPDATA", "")
	claude = filepath.Join(home, ".config", "Claude", "claude_desktop_config.json")
	for sample, dst := range map[string]string{
		"claude_desktop_config.json": claude,
		"claude.json":                filepath.Join(home, ".claude.json"),
		"project-mcp.json":           filepath.Join(project, ".mcp.json"),
		"cursor-mcp.json":            filepath.Join(home, ".cursor", "mcp.json"),
		"vscode-mcp.json":            filepath.Join(project, ".vscode", "mcp.json"),
		"vscode-settings.json":       filepath.Join(home, ".config", "Code", "User", "settings.json"),
		"windsurf-mcp_config.json":   filepath.Join(home, ".codeium", "windsurf", "mcp_config.json"),
	} {
		data, err := os.ReadFile(filepath.Join(hostSamples, sample))
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
	t.Chdir(project)
	return home, claude
}

// A new user's path: a dry run that shows what would change and writes
// nothing, --write, --replace-host with its backup, and --undo.
func TestImport(t *testing.T) {
	home, claude := hostHome(t)
	config := filepath.Join(home, "mcpmux", "config.json")
	t.Setenv("MCPMUX_CONFIG", config)
	wd, _ := os.Getwd()
	hide := strings.NewReplacer(home, "HOME", wd, "PROJECT")

	out, errOut, err := runLine(t, "import")
	if err != nil {
		t.Fatalf("import = %v\n%s", err, errOut)
	}
	golden(t, "import-dry-run.txt", hide.Replace(out))
	if strings.Contains(out, "ghp_sampletoken") || strings.Contains(out, "sample-secret-99") {
		t.Errorf("the dry run shows a secret:\n%s", out)
	}
	if !strings.Contains(errOut, `server "broken" is a string, not an object`) {
		t.Errorf("stderr = %q, want the broken entry named", errOut)
	}
	if _, err := os.Stat(config); !os.IsNotExist(err) {
		t.Fatalf("the dry run wrote %s", config)
	}

	if out, _, err = runLine(t, "import", "--write"); err != nil || !strings.Contains(out, "8 servers added") {
		t.Fatalf("import --write = %v\n%s", err, out)
	}
	cfg, err := registry.Load(config)
	if err != nil {
		t.Fatalf("the written config: %v", err)
	}
	if len(cfg.Servers) != 8 || cfg.Servers["mcpmux"] != nil || cfg.Servers["remote"].URL == "" {
		t.Errorf("written servers: %d, %+v", len(cfg.Servers), cfg.Servers)
	}
	if out, _, _ = runLine(t, "import", "--write"); strings.Contains(out, "added") || !strings.Contains(out, "= github") {
		t.Errorf("a second import --write:\n%s", out)
	}

	// Cursor's github clashes with Claude Desktop's: not replaced.
	if _, _, err := runLine(t, "import", "--write", "--replace-host", "cursor"); err == nil || !strings.Contains(err.Error(), `"github"`) {
		t.Errorf("--replace-host cursor = %v, want a refusal naming github", err)
	}
	before, _ := os.ReadFile(claude)
	out, _, err = runLine(t, "import", "--write", "--replace-host", "claude-desktop")
	if err != nil || !strings.Contains(out, "mcpmux import --undo claude-desktop") {
		t.Fatalf("--replace-host claude-desktop = %v\n%s", err, out)
	}
	var replaced struct {
		Shortcut string `json:"globalShortcut"`
		Servers  map[string]struct {
			Command string
			Args    []string
			Env     map[string]string
		} `json:"mcpServers"`
	}
	data, _ := os.ReadFile(claude)
	if err := json.Unmarshal(data, &replaced); err != nil || len(replaced.Servers) != 1 || replaced.Shortcut == "" {
		t.Fatalf("Claude Desktop's file after --replace-host:\n%s", data)
	}
	if e := replaced.Servers["mcpmux"]; !filepath.IsAbs(e.Command) || strings.Join(e.Args, " ") != "serve --config "+config || e.Env["PATH"] != os.Getenv("PATH") {
		t.Errorf("the mcpmux entry = %+v", e)
	}
	// Its own entry is never imported back.
	if out, _, _ := runLine(t, "import"); !strings.Contains(out, "- mcpmux") || !strings.Contains(out, "it is mcpmux itself (from claude-desktop)") {
		t.Errorf("import after --replace-host:\n%s", out)
	}
	if out, _, err := runLine(t, "import", "--undo", "claude-desktop"); err != nil || !strings.Contains(out, "Restored "+claude) {
		t.Errorf("--undo = %v\n%s", err, out)
	}
	if after, _ := os.ReadFile(claude); string(after) != string(before) {
		t.Errorf("after --undo, Claude Desktop's file is\n%s\nwant\n%s", after, before)
	}
	if _, _, err := runLine(t, "import", "--undo", "windsurf"); err == nil {
		t.Error("--undo of a host never replaced succeeded")
	}
}

// --from reads one file of any host's shape.
func TestImportFrom(t *testing.T) {
	config := filepath.Join(t.TempDir(), "config.json")
	from := filepath.Join(hostSamples, "vscode-settings.json")
	out, _, err := runLine(t, "import", "--config", config, "--from", from, "--write")
	if err != nil || !strings.Contains(out, "+ fetch") || !strings.Contains(out, "1 server added") {
		t.Errorf("import --from = %v\n%s", err, out)
	}
}
