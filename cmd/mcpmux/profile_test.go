package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mcpmux/mcpmux/internal/testutil"
)

// mcpmux tools --profile prints what the profile's clients see; serve and
// tools refuse a profile the configuration does not have.
func TestToolsProfile(t *testing.T) {
	testutil.CheckNoChildren(t)
	data, _ := json.Marshal(map[string]any{
		"mcpServers": map[string]any{"a": testutil.TestServer(t, "-name", "a"), "b": testutil.TestServer(t, "-name", "b")},
		"profiles":   map[string]any{"dev": map[string]any{"servers": []string{"b"}, "tools": map[string]any{"allow": []string{"*echo"}}, "toolMode": "search"}},
	})
	config := filepath.Join(t.TempDir(), "config.json")
	if err := os.WriteFile(config, data, 0o600); err != nil {
		t.Fatal(err)
	}
	out, errOut, err := runLineCtx(t, "tools", "--profile", "dev", "--config", config)
	if err != nil || !strings.Contains(out, "b__echo") || strings.Contains(out, "a__echo") || strings.Contains(out, "b__add") {
		t.Errorf("tools --profile dev = %q, %v\n%s", out, err, errOut)
	}
	for _, args := range [][]string{{"tools", "--profile", "deb"}, {"serve", "--profile", "deb"}} {
		_, _, err := runLineCtx(t, append(args, "--config", config)...)
		if err == nil || !strings.Contains(err.Error(), `--profile "deb": no such profile; the config has dev (did you mean "dev"?)`) {
			t.Errorf("%s = %v", strings.Join(args, " "), err)
		}
	}
}
