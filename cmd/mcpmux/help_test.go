package main

import (
	"context"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mcpmux/mcpmux/internal/testutil"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata")

// testdata is where the golden files are, absolute: some tests change
// the working directory.
var testdata, _ = filepath.Abs("testdata")

// golden compares got with testdata/name, or rewrites it with -update.
func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join(testdata, name)
	if *update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to write it)", err)
	}
	if got != string(want) {
		t.Errorf("%s differs (go test -update rewrites it):\n--- got\n%s\n--- want\n%s", path, got, want)
	}
}

// runLine runs one command line in this process and returns its stdout,
// its stderr and its error.
func runLine(t *testing.T, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	var out, errOut testutil.SyncBuffer
	err = run(context.Background(), args, strings.NewReader(""), &out, &errOut)
	return out.String(), errOut.String(), err
}

// Every command's --help goes to stdout, says what the command does,
// lists its own flags and shows an example; "mcpmux help CMD" says the
// same.
func TestHelp(t *testing.T) {
	for _, name := range commandNames() {
		t.Run(name, func(t *testing.T) {
			out, errOut, err := runLine(t, name, "--help")
			if err != nil || errOut != "" {
				t.Fatalf("mcpmux %s --help = %v, stderr %q", name, err, errOut)
			}
			for _, want := range []string{"mcpmux " + name + ":", "Usage:", "Example:"} {
				if !strings.Contains(out, want) {
					t.Errorf("mcpmux %s --help lacks %q", name, want)
				}
			}
			golden(t, filepath.Join("help", name+".txt"), out)
			for _, args := range [][]string{{"help", name}, {name, "-h"}, {name, "-help"}} {
				if again, _, err := runLine(t, args...); err != nil || again != out {
					t.Errorf("mcpmux %s = %v, not the same as mcpmux %s --help", strings.Join(args, " "), err, name)
				}
			}
		})
	}
	out, _, err := runLine(t, "--help")
	if err != nil {
		t.Fatal(err)
	}
	golden(t, filepath.Join("help", "mcpmux.txt"), out)
	if again, _, _ := runLine(t, "help"); again != out {
		t.Errorf("mcpmux help differs from mcpmux --help")
	}
}

// A command line mcpmux cannot run gets one error, with a hint, and no
// usage printed twice.
func TestUsageErrors(t *testing.T) {
	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"tools", "--wiat", "5s"}, `unknown flag --wiat; did you mean --wait? (see "mcpmux tools --help")`},
		{[]string{"tools", "--wait", "5"}, `--wait "5": a duration needs a unit; did you mean 5s? (see "mcpmux tools --help")`},
		{[]string{"tools", "--wait", "soon"}, `--wait "soon": not a duration; write one such as "5s", "500ms" or "1m30s" (see "mcpmux tools --help")`},
		{[]string{"tools", "extra"}, `mcpmux tools takes no arguments, got "extra" (see "mcpmux tools --help")`},
		{[]string{"history", "a", "b"}, `unexpected argument "b" after "a" (see "mcpmux history --help")`},
		{[]string{"status", "--config"}, `--config needs a value (see "mcpmux status --help")`},
		{[]string{"toolz"}, `unknown command "toolz"; did you mean "tools"?`},
		{[]string{"version", "x"}, `mcpmux version takes no arguments`},
	} {
		out, errOut, err := runLine(t, tt.args...)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("mcpmux %s = %v, want %q", strings.Join(tt.args, " "), err, tt.want)
		}
		if out != "" || errOut != "" {
			t.Errorf("mcpmux %s printed %q and %q, want only the error", strings.Join(tt.args, " "), out, errOut)
		}
	}
}

func TestVersion(t *testing.T) {
	for _, args := range [][]string{{"--version"}, {"-v"}, {"version"}} {
		if out, _, err := runLine(t, args...); err != nil || !strings.HasPrefix(out, "mcpmux ") {
			t.Errorf("mcpmux %s = %q, %v", args[0], out, err)
		}
	}
}

// Without a configuration, a command says how to make one; with one
// named by $MCPMUX_CONFIG, it reads that.
func TestNoConfig(t *testing.T) {
	t.Setenv("XDG_CONFIG_HOME", t.TempDir())
	t.Setenv("HOME", t.TempDir())
	t.Setenv("MCPMUX_CONFIG", "")
	_, _, err := runLine(t, "tools")
	var nc *noConfig
	if !errors.As(err, &nc) || !strings.Contains(err.Error(), "mcpmux import --write") || !errors.Is(err, os.ErrNotExist) {
		t.Errorf("tools without a config = %v, want how to create one", err)
	}
	named := filepath.Join(t.TempDir(), "named.json")
	t.Setenv("MCPMUX_CONFIG", named)
	if _, _, err := runLine(t, "validate"); !errors.Is(err, errInvalid) {
		t.Errorf("validate = %v", err)
	}
	if err := os.WriteFile(named, []byte(`{"mcpServers": {}}`), 0o600); err != nil {
		t.Fatal(err)
	}
	if out, _, err := runLine(t, "validate"); err != nil || !strings.Contains(out, "named.json: 0 servers, 0 enabled; no problems") {
		t.Errorf("validate with MCPMUX_CONFIG = %q, %v", out, err)
	}
}

// validate prints every problem at once, and fails if there is one.
func TestValidate(t *testing.T) {
	path := filepath.Join(t.TempDir(), "config.json")
	data := `{"nameLength": 3, "mcpServers": {
		"ok": {"command": "x"},
		"bad": {"command": "x", "url": "http://h", "timeout": 5, "env": {"T": "${MCPMUX_TEST_UNSET}"}},
		"typo": {"comand": "x", "disable": true}}}`
	if err := os.WriteFile(path, []byte(data), 0o600); err != nil {
		t.Fatal(err)
	}
	out, _, err := runLine(t, "validate", "--config", path)
	if !errors.Is(err, errInvalid) {
		t.Errorf("validate = %v, want errInvalid", err)
	}
	for _, want := range []string{
		"config.json: 7 problems",
		`field "nameLength": must be from 16 to 64`,
		`server "bad": field "timeout"`,
		`server "bad": field "env.T": variable ${MCPMUX_TEST_UNSET} is not set`,
		`server "bad": field "url": is set together with "command"`,
		`server "typo": field "command": is not set`,
		`server "typo": field "comand": is not a key mcpmux reads, and is ignored; did you mean "command"?`,
		`server "typo": field "disable": is not a key mcpmux reads, and is ignored; did you mean "disabled"?`,
	} {
		if !strings.Contains(out, want) {
			t.Errorf("validate printed\n%s\nwant %q", out, want)
		}
	}
	if err := os.WriteFile(path, []byte("{\n\"mcpServers\": {,}}"), 0o600); err != nil {
		t.Fatal(err)
	}
	if out, _, err := runLine(t, "validate", "--config", path); !errors.Is(err, errInvalid) || !strings.Contains(out, "line 2, column 16") {
		t.Errorf("validate of a broken file = %q, %v", out, err)
	}
}
