package main

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/mcpmux/mcpmux/internal/testutil"
	"github.com/mcpmux/mcpmux/upstream/oauth"
	"github.com/mcpmux/mcpmux/upstream/oauth/oauthtest"
)

// clientSecret is the pre-registered client's secret of these tests: like
// the tokens, it must appear in no output, log or stored file.
const clientSecret = "client-secret-value-xyzzy"

// curlBrowser makes curl, which follows the authorization server's
// redirect back to mcpmux's callback, the browser of the commands that
// log in: a person who says yes at once.
func curlBrowser(t *testing.T) {
	t.Helper()
	curl, err := exec.LookPath("curl")
	if err != nil {
		t.Skip("curl is not installed: no browser to stand in for a person")
	}
	t.Setenv(oauth.BrowserEnv, curl+" -sS -L -o "+os.DevNull)
}

// oauthSetup is a protected upstream, a configuration of it with a
// pre-registered client and its secret, a token store of the test's own
// and a data directory.
func oauthSetup(t *testing.T) (as *oauthtest.Server, cfg, tokens, data string) {
	t.Helper()
	tokens = oauthEnv(t)
	as = protectedUpstream(t)
	cfg = writeConfig(t, map[string]any{"remote": map[string]any{"url": as.URL() + "/mcp",
		"oauth": map[string]any{"clientId": "pre-registered", "clientSecret": clientSecret}}})
	return as, cfg, tokens, filepath.Join(t.TempDir(), "data")
}

// noSecrets fails t if a token of the fake authorization server, or the
// client secret, is in any of outputs or in any file under dirs.
func noSecrets(t *testing.T, outputs []string, dirs ...string) {
	t.Helper()
	leaks := func(s string) bool {
		return strings.Contains(s, "-secretbytes") || strings.Contains(s, clientSecret)
	}
	for _, o := range outputs {
		if leaks(o) {
			t.Errorf("a token or the client secret in an output:\n%s", o)
		}
	}
	for _, dir := range dirs {
		_ = filepath.Walk(dir, func(p string, fi os.FileInfo, err error) error {
			if err == nil && !fi.IsDir() {
				if data, _ := os.ReadFile(p); leaks(string(data)) {
					t.Errorf("a token or the client secret in the clear in %s", p)
				}
			}
			return nil
		})
	}
}

// loginPrompt matches what a command that logs in prints on stderr: the
// server, and the authorization URL on a line of its own.
var loginPrompt = regexp.MustCompile(`(?m)^To log in to remote, open this URL in a browser:\n\n  http://127\.0\.0\.1:\d+/authorize\?client_id=pre-registered&code_challenge=[\w-]+&code_challenge_method=S256&redirect_uri=http%3A%2F%2F127\.0\.0\.1%3A\d+%2Fcallback&resource=http%3A%2F%2F127\.0\.0\.1%3A\d+%2Fmcp&response_type=code&scope=read&state=\w+\n\n`)

// tools, call and doctor log in by themselves when an upstream challenges
// them and a browser is at hand (MCPMUX_BROWSER): each prints the URL on
// stderr, opens it, and goes on with the token; status then shows the
// login. No token, nor the client secret, is in any output, the log
// (debug level) or any file written.
func TestOAuthAutoLogin(t *testing.T) {
	testutil.CheckLeaks(t)
	for _, cmd := range []string{"tools", "call", "doctor"} {
		t.Run(cmd, func(t *testing.T) {
			as, cfg, tokens, data := oauthSetup(t)
			curlBrowser(t)
			logFile := filepath.Join(t.TempDir(), "mcpmux.log")
			args := []string{cmd, "--config", cfg, "--data-dir", data, "--log-level", "debug", "--log-file", logFile}
			if cmd == "call" {
				args = append(args, "remote__whoami")
			}
			out, errOut, err := runLineCtx(t, args...)
			if err != nil {
				t.Fatalf("mcpmux %s = %v\n%s\n%s", cmd, err, out, errOut)
			}
			if !loginPrompt.MatchString(errOut) {
				t.Errorf("mcpmux %s's stderr lacks the login URL:\n%s", cmd, errOut)
			}
			want := map[string]*regexp.Regexp{
				"tools":  regexp.MustCompile(`(?m)^remote__whoami +remote +whoami`),
				"call":   regexp.MustCompile(`^remote\n$`),
				"doctor": regexp.MustCompile(`(?m)^remote +- +\S+ +- +5 +ok\n\n1 servers, no problems\.`),
			}[cmd]
			if !want.MatchString(out) {
				t.Errorf("mcpmux %s printed, want %s:\n%s", cmd, want, out)
			}
			log, _ := os.ReadFile(logFile)
			if !strings.Contains(string(log), `INF logged in upstream=remote issuer=`+as.URL()) {
				t.Errorf("the log does not say it logged in:\n%s", log)
			}
			if logins, _, _ := as.Count(); logins != 1 {
				t.Errorf("%d logins, want 1", logins)
			}
			st, _, err := runLineCtx(t, "status", "--config", cfg, "--data-dir", data)
			row := regexp.MustCompile(`(?m)^OAuth logins \(tokens encrypted \(AES-256-GCM\) in .+, key from key file .+\):\n  SERVER +LOGIN +DETAIL\n  remote +logged in +token expires \d{4}-\d\d-\d\d \d\d:\d\d:\d\d, refresh token held\n`)
			if err != nil || !row.MatchString(st) {
				t.Errorf("mcpmux status = %v, want remote logged in with its expiry and refresh token:\n%s", err, st)
			}
			noSecrets(t, []string{out, errOut, string(log), st}, tokens, data)
		})
	}
}

// A serve with a registry, logged in, writes nothing of its tokens or the
// client secret: not in the Badger store, the snapshot, the pins, the
// spill and live files, nor its debug log.
func TestOAuthServeStoreHasNoSecrets(t *testing.T) {
	testutil.CheckLeaks(t)
	_, cfg, tokens, data := oauthSetup(t)
	curlBrowser(t)
	if out, errOut, err := runLineCtx(t, "call", "--config", cfg, "--data-dir", data, "remote__whoami"); err != nil || out != "remote\n" {
		t.Fatalf("mcpmux call remote__whoami = %q, %v\n%s", out, err, errOut)
	}
	s := serveInProcess(t, "--config", cfg, "--data-dir", data)
	s.waitTools("remote__whoami")
	if got := s.call(hangGuard, "remote__whoami", nil); got != "remote" {
		t.Errorf("whoami through serve = %q", got)
	}
	live := string(s.request(hangGuard, "resources/read", map[string]any{"uri": "mcpmux://status"}))
	if !strings.Contains(live, `\"state\": \"logged in\"`) || !strings.Contains(live, `\"refreshToken\": true`) {
		t.Errorf("mcpmux://status does not show remote logged in, with a refresh token: %s", live)
	}
	serveLog := s.stderr.String()
	s.stop()
	waitStoreWrites(t)
	if entries, _ := os.ReadDir(filepath.Join(data, "store")); len(entries) == 0 {
		t.Fatalf("serve wrote no store in %s", data)
	}
	noSecrets(t, []string{serveLog, live}, tokens, data)
}

// Without a person (no terminal, no MCPMUX_BROWSER), an upstream that
// asks for a login is reported, with the reason and the command, and
// never a token: by tools and doctor, by a running serve's
// mcpmux://status, and by mcpmux status after it.
func TestOAuthNeedsLoginOutput(t *testing.T) {
	testutil.CheckLeaks(t)
	_, cfg, tokens, data := oauthSetup(t)
	t.Setenv(oauth.BrowserEnv, "")
	t.Setenv("BROWSER", "")
	const why = "upstream \"remote\" needs a login (the server asks for a login): run `mcpmux login remote`"

	out, errOut, err := runLineCtx(t, "doctor", "--config", cfg, "--data-dir", data)
	row := regexp.MustCompile(`(?m)^remote +- +- +- +- +initializing: ` + regexp.QuoteMeta(why) + ` +log in: mcpmux login remote\n\n1 of 1 servers have problems\.`)
	if err == nil || !row.MatchString(out) {
		t.Errorf("mcpmux doctor = %v, want the login it needs and the command:\n%s", err, out)
	}
	tout, terrOut, err := runLineCtx(t, "tools", "--config", cfg, "--data-dir", data)
	if want := `mcpmux: upstream "remote" is unavailable (`; err == nil || !strings.Contains(terrOut, want) || !strings.Contains(terrOut, why) ||
		err.Error() != `1 of 1 upstreams unavailable: "remote"` {
		t.Errorf("mcpmux tools = %v, want remote unavailable for a login:\n%s", err, terrOut)
	}

	t.Setenv(oauth.BrowserEnv, "true") // serve's own login page goes nowhere
	s := serveInProcess(t, "--config", cfg, "--data-dir", data)
	var live struct {
		Upstreams []struct {
			Server string          `json:"server"`
			Login  json.RawMessage `json:"login"`
		} `json:"upstreams"`
	}
	testutil.WaitFor(t, "mcpmux://status to show the login remote needs", func() bool {
		raw := s.request(hangGuard, "resources/read", map[string]any{"uri": "mcpmux://status"})
		var r struct{ Contents []struct{ Text string } }
		if json.Unmarshal(raw, &r) != nil || len(r.Contents) != 1 || json.Unmarshal([]byte(r.Contents[0].Text), &live) != nil {
			t.Fatalf("mcpmux://status = %s", raw)
		}
		return len(live.Upstreams) == 1 && live.Upstreams[0].Login != nil
	})
	var got bytes.Buffer
	_ = json.Compact(&got, live.Upstreams[0].Login)
	if want := `{"state":"needs login","reason":"not logged in","command":"mcpmux login remote"}`; got.String() != want {
		t.Errorf("mcpmux://status shows remote's login as %s, want %s", got.String(), want)
	}
	serveLog := s.stderr.String()
	s.stop()
	waitStoreWrites(t)
	st, _, err := runLineCtx(t, "status", "--config", cfg, "--data-dir", data)
	row = regexp.MustCompile(`(?m)^OAuth logins \(tokens no tokens yet\):\n  SERVER +LOGIN +DETAIL\n  remote +needs login +the server asks for a login; run: mcpmux login remote\n`)
	if err != nil || !row.MatchString(st) {
		t.Errorf("mcpmux status = %v, want remote needing a login, with the command:\n%s", err, st)
	}
	noSecrets(t, []string{out, errOut, tout, terrOut, serveLog, st}, tokens, data)
}
