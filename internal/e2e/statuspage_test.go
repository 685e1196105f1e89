package e2e

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/mcpmux/mcpmux/internal/testutil"
)

// TestServeHTTPStatusPage runs the mcpmux binary with serve --http and two
// real upstreams: the status page is at /, with its own headers, and
// /status.json lists both upstreams without the secret in one's
// environment. (internal/statuspage tests the page in a browser.)
func TestServeHTTPStatusPage(t *testing.T) {
	testutil.CheckNoChildren(t)
	const secret = "e2e-page-secret-9137"
	beta := testutil.TestServer(t)
	beta["env"] = map[string]string{"BETA_KEY": secret}
	ctx := testContext(t, testTimeout)
	m := startMcpmuxHTTP(t, ctx, writeConfig(t, map[string]any{"alpha": testutil.TestServer(t), "beta": beta}), nil)
	get := func(path string) (*http.Response, string) {
		t.Helper()
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, m.base+path, nil)
		if err != nil {
			t.Fatal(err)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp, string(b)
	}
	defer http.DefaultClient.CloseIdleConnections()
	resp, body := get("/")
	if resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/html") || !strings.Contains(body, "<title>mcpmux status</title>") {
		t.Fatalf("GET / = %d %s:\n%s", resp.StatusCode, resp.Header.Get("Content-Type"), body)
	}
	if csp := resp.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "default-src 'none'") {
		t.Errorf("GET / has Content-Security-Policy %q, want one that loads nothing from elsewhere", csp)
	}
	var v struct {
		Upstreams []struct{ Server, State string }
	}
	testutil.WaitFor(t, "both upstreams ready on the page", func() bool {
		_, body = get("/status.json")
		if err := json.Unmarshal([]byte(body), &v); err != nil {
			t.Fatalf("/status.json: %v\n%s", err, body)
		}
		return len(v.Upstreams) == 2 && v.Upstreams[0].State == "ready" && v.Upstreams[1].State == "ready"
	})
	if v.Upstreams[0].Server != "alpha" || v.Upstreams[1].Server != "beta" {
		t.Errorf("/status.json lists %+v, want alpha and beta", v.Upstreams)
	}
	if strings.Contains(body, secret) {
		t.Errorf("/status.json shows a secret:\n%s", body)
	}
}
