package main

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/mcpmux/mcpmux/internal/testutil"
)

// Markers of the secret values the test configures, each where a secret
// may stand: env values by name and by the "secrets" list, header values
// (the credential of an Authorization value too), the URL's password and
// query values, and the Basic authorization net/http makes of them.
const (
	envToken   = "env-marker-tok-7f3a"
	envListed  = "listed-marker-db-91c2"
	hdrKey     = "hdr-marker-key-5d1e"
	hdrBearer  = "auth-marker-bear-3b8c"
	urlPass    = "url-marker-pass-2e4f"
	urlQuery   = "url-marker-query-6a9d"
	notASecret = "visible-marker-env-0c4b" // an env value whose name says nothing
)

var markers = []string{envToken, envListed, hdrKey, hdrBearer, urlPass, urlQuery,
	base64.StdEncoding.EncodeToString([]byte("someone:" + urlPass))}

// echoingServer is a remote MCP server that fails every request with a
// body that quotes what it was sent: its headers and its URL.
func echoingServer(t *testing.T) string {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var b strings.Builder
		b.WriteString("echo-body: ")
		keys := make([]string, 0, len(r.Header))
		for k := range r.Header {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			fmt.Fprintf(&b, "%s=%s; ", k, r.Header[k])
		}
		fmt.Fprintf(&b, "url=%s", r.URL)
		http.Error(w, b.String(), http.StatusInternalServerError)
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}

// TestSecretsNeverLeave configures secrets in env, headers and a URL,
// drives failures that quote them (an upstream that prints its env and
// dies with a token on stderr, a remote server that echoes its request),
// at debug level, and greps everything mcpmux writes: its stderr, every
// reply, mcpmux://status, status --json, history --json, and every file of
// the data directory. Tool results are the upstream's data and pass.
func TestSecretsNeverLeave(t *testing.T) {
	testutil.CheckNoChildren(t)
	dataDir := t.TempDir()
	remote := echoingServer(t)
	leaky := testutil.TestServer(t, "-name", "leaky", "-print-env")
	leaky["env"] = map[string]string{"API_TOKEN": envToken, "DB_URL": envListed, "PLAIN_SETTING": notASecret}
	leaky["secrets"] = []string{"DB_URL"}
	leaky["healthCheck"] = map[string]any{"interval": "-1s"}
	cfg := writeConfig(t, map[string]any{
		"leaky": leaky,
		"remote": map[string]any{
			"url":     strings.Replace(remote, "http://", "http://someone:"+urlPass+"@", 1) + "/mcp?token=" + urlQuery,
			"headers": map[string]string{"X-Api-Key": hdrKey, "Authorization": "Bearer " + hdrBearer},
			"backoff": map[string]any{"initial": "50ms", "max": "100ms"},
		},
	})
	args := []string{"--config", cfg, "--data-dir", dataDir}
	p, stdout, stdin := startProcess(t, []string{"MCPMUX_LOG_LEVEL=debug"}, args...)
	var replies testutil.SyncBuffer
	p.muxClient = connect(t, io.TeeReader(stdout, &replies), stdin)
	p.waitTools("leaky__echo")

	// A tool result is the upstream's data: it passes unchanged.
	if got := p.call(10*time.Second, "leaky__env", map[string]any{"name": "API_TOKEN"}); got != envToken {
		t.Fatalf("leaky__env(API_TOKEN) = %q, want the value itself", got)
	}
	resultsEnd := len(replies.String())

	// The upstream dies with its tokens on stderr: the error says why,
	// masked, and so will its state and history.
	resp := p.send(20*time.Second, "tools/call", map[string]any{"name": "leaky__crash",
		"arguments": map[string]any{"stderr": "fatal: token $API_TOKEN and $DB_URL rejected ($PLAIN_SETTING)"}})
	if resp.Error == nil || !strings.Contains(resp.Error.Message, "fatal: token *** and *** rejected") {
		t.Errorf("the crash's error = %+v; want the stderr line, masked", resp.Error)
	}
	// The remote server echoes the request in its failures.
	if !testutil.Await(func() bool { return strings.Contains(p.stderr.String(), "echo-body") }) {
		t.Fatalf("the remote server's failure never reached the log:\n%s", p.stderr)
	}
	if resp := p.send(20*time.Second, "tools/call", map[string]any{"name": "remote__anything"}); resp.Error == nil {
		t.Errorf("a call to the failing remote server succeeded")
	}
	status := string(p.request(10*time.Second, "resources/read", map[string]any{"uri": "mcpmux://status"}))
	if !strings.Contains(status, "echo-body") && !strings.Contains(status, "***") {
		t.Errorf("mcpmux://status shows neither failure: %s", status)
	}
	// Wait until the store has both failures, then stop.
	waitHistory(t, args, "leaky", "fatal: token ***")
	waitHistory(t, args, "remote", "echo-body")
	p.stop()

	outputs := map[string]string{
		"stderr":           p.stderr.String(),
		"replies":          replies.String()[resultsEnd:],
		"the first result": strings.ReplaceAll(replies.String()[:resultsEnd], envToken, ""),
		"status --json":    runCommand(t, "status", "--json", "--config", cfg, "--data-dir", dataDir),
		"history --json":   runCommand(t, "history", "--json", "--config", cfg, "--data-dir", dataDir),
		"history (table)":  runCommand(t, "history", "--config", cfg, "--data-dir", dataDir),
	}
	err := filepath.WalkDir(dataDir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		data, err := os.ReadFile(path)
		outputs[path] = string(data)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	for what, text := range outputs {
		for _, secret := range markers {
			if strings.Contains(text, secret) {
				i := strings.Index(text, secret)
				t.Errorf("%s shows secret %q: …%s…", what, secret, text[max(0, i-200):min(len(text), i+100)])
			}
		}
	}
	// Masked, not merely missing: the failures were written, with ***.
	for _, what := range []string{"stderr", "history --json"} {
		if !strings.Contains(outputs[what], "***") {
			t.Errorf("%s has no masked secret; the test proves nothing:\n%s", what, outputs[what])
		}
	}
	// Env values whose names say nothing are not secrets, and stay visible.
	if !strings.Contains(outputs["stderr"], notASecret) {
		t.Errorf("stderr lacks %q, which is not a secret", notASecret)
	}
}

// waitHistory waits until the history of server has an event whose
// reason contains want.
func waitHistory(t *testing.T, args []string, server, want string) {
	t.Helper()
	var out string
	found := func() bool {
		var events []struct{ Reason string }
		out = runCommand(t, append([]string{"history", "--json", server}, args...)...)
		_ = json.Unmarshal([]byte(out), &events)
		for _, e := range events {
			if strings.Contains(e.Reason, want) {
				return true
			}
		}
		return false
	}
	if !testutil.Await(found) {
		t.Fatalf("no %s event with %q in the history:\n%s", server, want, out)
	}
}
