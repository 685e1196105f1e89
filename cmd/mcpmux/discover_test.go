package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mcpmux/mcpmux/registry"
)

// discover finds the servers of the hosts' files and the mcp-* and
// *-mcp-server executables of a fake PATH that the configuration lacks,
// keeps the scan in the registry, and adds one with --add.
func TestDiscover(t *testing.T) {
	hostHome(t)
	bin := t.TempDir()
	for _, name := range []string{"mcp-server-fake", "weather-mcp-server", "mcp-configured", "not-an-mcp", "mcp-"} {
		if err := os.WriteFile(filepath.Join(bin, name), []byte("#!/bin/sh\nexit 0\n"), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(bin, "mcp-not-executable"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Setenv("PATH", bin+string(os.PathListSeparator)+os.Getenv("PATH"))
	config := writeConfig(t, map[string]any{
		"conf":   map[string]any{"command": "uvx", "args": []string{"mcp-configured"}},
		"github": map[string]any{"command": "npx", "args": []string{"-y", "@modelcontextprotocol/server-github"}},
	})
	dataDir := t.TempDir()
	out, errOut, err := runLine(t, "discover", "--config", config, "--data-dir", dataDir)
	if err != nil {
		t.Fatalf("discover = %v\n%s", err, errOut)
	}
	for _, want := range []string{"mcp-server-fake", "weather-mcp-server", "filesystem", "sentry", "playwright", "remote"} {
		if !strings.Contains(out, want) {
			t.Errorf("discover printed\n%s\nwant %s", out, want)
		}
	}
	for _, not := range []string{"mcp-configured", "not-an-mcp", "mcp-not-executable", "server-github", "\nmcpmux "} {
		if strings.Contains(out, not) {
			t.Errorf("discover printed\n%s\nwant no %q", out, not)
		}
	}
	if strings.Contains(errOut, " WRN ") {
		t.Errorf("discover warned:\n%s", errOut)
	}

	// The scan is kept: a new executable shows only with --refresh.
	if err := os.WriteFile(filepath.Join(bin, "mcp-newcomer"), []byte("#!/bin/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	if out, _, _ := runLine(t, "discover", "--config", config, "--data-dir", dataDir); strings.Contains(out, "mcp-newcomer") {
		t.Errorf("a cached scan shows mcp-newcomer:\n%s", out)
	}
	if out, _, _ := runLine(t, "discover", "--config", config, "--data-dir", dataDir, "--refresh"); !strings.Contains(out, "mcp-newcomer") {
		t.Errorf("--refresh does not show mcp-newcomer:\n%s", out)
	}

	if out, _, err := runLine(t, "discover", "--config", config, "--data-dir", dataDir, "--add", "mcp-server-fake"); err != nil || !strings.Contains(out, "Added mcp-server-fake") {
		t.Fatalf("--add = %v\n%s", err, out)
	}
	cfg, err := registry.Load(config)
	if err != nil || cfg.Servers["mcp-server-fake"] == nil || cfg.Servers["mcp-server-fake"].Command != filepath.Join(bin, "mcp-server-fake") {
		t.Errorf("after --add: %v %+v", err, cfg.Servers)
	}
	if out, _, _ := runLine(t, "discover", "--config", config, "--data-dir", dataDir); strings.Contains(out, "mcp-server-fake") {
		t.Errorf("an added server is still listed:\n%s", out)
	}
	if _, _, err := runLine(t, "discover", "--config", config, "--data-dir", dataDir, "--add", "nothing-such"); err == nil {
		t.Error("--add of an unknown name succeeded")
	}
}
