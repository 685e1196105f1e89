package main

import (
	"errors"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/mcpmux/mcpmux/internal/doctor"
	"github.com/mcpmux/mcpmux/internal/testutil"
)

// fakeNpx writes an npx that answers as npm does for a package that does
// not exist, and returns its directory.
func fakeNpx(t *testing.T) string {
	dir := t.TempDir()
	script := "#!/bin/sh\necho 'npm error code E404' >&2\necho \"npm error 404 Not Found - GET https://registry.npmjs.org/@mcpmux%2fno-such-server - Not found\" >&2\nexit 1\n"
	if err := os.WriteFile(filepath.Join(dir, "npx"), []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

// doctor's table on a configuration with broken entries of every kind it
// explains, against real test servers. The durations are hidden from the
// golden file (go test -update rewrites it).
func TestDoctorTable(t *testing.T) {
	testutil.CheckNoChildren(t)
	testutil.CheckNoGoroutineLeak(t)
	t.Setenv("MCPMUX_DOCTOR_UNSET", "")
	os.Unsetenv("MCPMUX_DOCTOR_UNSET")
	with := func(e map[string]any, kv ...any) map[string]any {
		for i := 0; i < len(kv); i += 2 {
			e[kv[i].(string)] = kv[i+1]
		}
		return e
	}
	config := writeConfig(t, map[string]any{
		"good":     testutil.TestServer(t, "-name", "good"),
		"chatty":   testutil.TestServer(t, "-name", "chatty", "-garbage"),
		"notfound": map[string]any{"command": "mcp-server-nowhere", "env": map[string]string{"PATH": "/nonexistent/bin"}},
		"unset":    with(testutil.TestServer(t), "env", map[string]string{"API_TOKEN": "${MCPMUX_DOCTOR_UNSET}"}),
		"npm404":   map[string]any{"command": "npx", "args": []string{"-y", "@mcpmux/no-such-server"}, "env": map[string]string{"PATH": fakeNpx(t) + ":/usr/bin:/bin"}},
		"dup1":     with(testutil.TestServer(t, "-name", "dup1", "-tools", "1"), "prefix", "same", "tools", map[string]any{"allow": []string{"tool_0000"}}),
		"dup2":     with(testutil.TestServer(t, "-name", "dup2", "-tools", "1"), "prefix", "same", "tools", map[string]any{"allow": []string{"tool_0000"}}),
		"odd":      with(testutil.TestServer(t, "-name", "odd", "-odd-names"), "tools", map[string]any{"allow": []string{"get weather*", "aaa*"}}),
		"caps":     with(testutil.TestServer(t, "-name", "caps", "-roots-tool"), "timout", "5s"),
		"hangs":    with(testutil.TestServer(t, "-hang-initialize"), "startTimeout", "1s"),
		"off":      with(testutil.TestServer(t), "disabled", true),
	})
	out, errOut, err := runLineCtx(t, "doctor", "--config", config)
	if !errors.Is(err, errDoctor) {
		t.Errorf("doctor = %v, want errDoctor\n%s", err, errOut)
	}
	golden(t, "doctor.txt", hideDurations(t, config))
	if !strings.Contains(out, "8 of 11 servers have problems.") {
		t.Errorf("doctor printed\n%s", out)
	}
}

// hideDurations runs doctor's check on config and renders it with the
// durations hidden.
func hideDurations(t *testing.T, config string) string {
	t.Helper()
	cfg, err := loadConfig(commonFlags{config: config})
	if err != nil {
		t.Fatal(err)
	}
	report := doctor.Run(t.Context(), cfg, doctor.Options{Env: readAncestry().childEnv(cfg)})
	var b strings.Builder
	if err := doctor.Render(&b, report, doctor.RenderOptions{Duration: func(time.Duration) string { return "T" }}); err != nil {
		t.Fatal(err)
	}
	return regexp.MustCompile(`/tmp/[^ "]*`).ReplaceAllString(b.String(), "TMP")
}
