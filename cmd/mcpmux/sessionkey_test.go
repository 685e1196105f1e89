package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestReadSessionKeys(t *testing.T) {
	const key = "c2Vzc2lvbi1rZXktb2YtdGhlLWNsaS10ZXN0LTAxMjM0NQ"
	dir := t.TempDir()
	file := func(name, text string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	good := file("good", "# the session keys, newest first\n"+key+"\n")
	t.Setenv("MCPMUX_SESSION_KEY", "")

	keys, secrets, err := readSessionKeys(good, true)
	if err != nil || keys == nil || keys.Len() != 1 || len(secrets) != 1 || secrets[0] != key {
		t.Fatalf("a good key file: %v, %v, %q", keys, err, secrets)
	}
	if keys, _, err := readSessionKeys("", true); keys != nil || err != nil {
		t.Errorf("no key: %v, %v; want process-local sessions", keys, err)
	}
	t.Setenv("MCPMUX_SESSION_KEY", key+","+key)
	if keys, _, err := readSessionKeys("", true); err != nil || keys.Len() != 2 {
		t.Errorf("MCPMUX_SESSION_KEY with two keys: %v, %v", keys, err)
	}
	if keys, _, err := readSessionKeys("", false); keys != nil || err != nil {
		t.Errorf("MCPMUX_SESSION_KEY without --http: %v, %v; want it ignored", keys, err)
	}
	for name, c := range map[string]struct {
		file string
		http bool
		want string
	}{
		"missing file": {filepath.Join(dir, "nope"), true, "--session-key-file"},
		"empty file":   {file("empty", "# nothing yet\n"), true, "no session key given"},
		"short key":    {file("short", "tooShortSecretValue\n"), true, "at least 32"},
		"without http": {good, false, "only with --http"},
	} {
		_, _, err := readSessionKeys(c.file, c.http)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want an error with %q", name, err, c.want)
		}
		if err != nil && (strings.Contains(err.Error(), key) || strings.Contains(err.Error(), "tooShortSecretValue")) {
			t.Errorf("%s: the error shows the key: %v", name, err)
		}
	}
}
