package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/mark3labs/mcp-go/client"
	"github.com/mark3labs/mcp-go/client/transport"

	"github.com/mcpmux/mcpmux/internal/testutil"
)

// TestSurfaceThroughMcpmux covers, through mcpmux, every part of the MCP
// surface that server-everything offers besides tools: prompts, static and
// templated resources, completions, subscriptions, logging, progress, the
// requests it makes of the client (sampling, elicitation, roots) and the
// tool list change it announces after start-up. The client is mcp-go's, on
// the handshake-based revision (server-to-client requests need it), and it
// declares sampling, elicitation and roots by answering them with fixed
// answers. Where it is cheap, the same request is made to server-everything
// directly by an identical client, and the results must be identical.
func TestSurfaceThroughMcpmux(t *testing.T) {
	testutil.CheckNoChildren(t)
	bin := everythingBin(t)
	ctx := testContext(t, testTimeout)
	direct := newSurfaceClient()
	direct.c = startDirect(t, ctx, bin, direct.options()...)
	mux := newSurfaceClient()
	mux.c = startMcpmux(t, ctx, writeConfig(t, map[string]any{"everything": map[string]any{"command": bin}}), mux.options()...).client
	testSurface(t, ctx, direct, mux)
}

// testSurface runs the tests of TestSurfaceThroughMcpmux with clients of
// server-everything, direct and through mcpmux (as its upstream
// "everything"), over whichever transport. Each test stands alone: it
// sets up what it needs (a log level, a subscription) and leaves nothing
// that another relies on, so that any one of them can run by itself, in
// any order (-run 'TestSurfaceThroughMcpmux/^roots$').
func testSurface(t *testing.T, ctx context.Context, direct, mux *surfaceClient) {
	s := &surface{ctx: ctx, direct: direct, mux: mux}
	// The client's first list, which a host that lists once keeps for the
	// whole session.
	s.first = rawTools(t, ctx, mux.c)
	for _, tc := range surfaceTests {
		t.Run(tc.name, func(t *testing.T) { tc.run(t, s) })
	}
}

// surface is what the tests of testSurface share: server-everything's
// clients, direct and through mcpmux, and mcpmux's first tool list.
type surface struct {
	ctx         context.Context
	direct, mux *surfaceClient
	first       map[string]json.RawMessage
}

// surfaceTests are testSurface's tests (see surface_cases_test.go).
var surfaceTests = []struct {
	name string
	run  func(t *testing.T, s *surface)
}{
	{"first tools list has the tools added after start-up", surfaceFirstToolsList},
	{"prompts/get with arguments", surfacePrompts},
	{"resources/read of static resources", surfaceStaticResources},
	{"resources/read of a templated URI", surfaceTemplatedResources},
	{"completion/complete", surfaceCompletion},
	{"subscribe and update", surfaceSubscriptions},
	{"logging/setLevel and log messages", surfaceLogging},
	{"progress of the long-running operation", surfaceProgress},
	{"sampling", surfaceSampling},
	{"elicitation", surfaceElicitation},
	{"roots", surfaceRoots},
}

// TestSurfaceLogLevelSetBeforeUpstreamIsReady sets the log level as a
// client does, right after its handshake, while mcpmux is still starting
// server-everything: the level must apply to it once it is ready, as it
// would had the client been connected to it directly. At level error, the
// info message with which server-everything acknowledges a subscription
// must not reach the client.
func TestSurfaceLogLevelSetBeforeUpstreamIsReady(t *testing.T) {
	testutil.CheckNoChildren(t)
	bin := everythingBin(t)
	ctx := testContext(t, testTimeout)
	mux := newSurfaceClient()
	mux.c = startMcpmux(t, ctx, writeConfig(t, map[string]any{"everything": map[string]any{"command": bin}}), mux.options()...).client
	listed := rawTools(t, ctx, mux.c)
	setLevel(t, ctx, mux.c, "error")
	t.Logf("level set with %d tools listed", len(listed))
	waitForTools(t, ctx, mux.c, "everything__")

	// As in TestSurfaceThroughMcpmux: the acknowledgement of the
	// unsubscription, sent at level debug, comes after that of the
	// subscription, had it been sent.
	from := mux.notes.mark()
	rawResult(t, ctx, mux.c, "resources/subscribe", json.RawMessage(uriParams(featuresURI)))
	setLevel(t, ctx, mux.c, "debug")
	rawResult(t, ctx, mux.c, "resources/unsubscribe", json.RawMessage(uriParams(featuresURI)))
	i := mux.notes.waitFor(t, ctx, from, "the log message acknowledging the unsubscription, at level debug",
		isLog("everything", "info", "Received Unsubscribe Resource request: "+featuresURI+" "))
	for _, n := range mux.notes.since(from)[:i-from] {
		if isLog("everything", "info", "Received Subscribe Resource request for URI: "+featuresURI)(n) {
			t.Errorf("info message %v reached the client at level error, set before server-everything was ready", n.Params)
		}
	}
}

// TestSurfaceClientCapabilitiesReachUpstreamsAwaitingThem connects a
// client that declares sampling, elicitation and roots to mcpmux once its
// upstreams have started, and are waiting for the client's handshake to
// learn what to declare in theirs: each must be told those capabilities in
// its initialize request, as server-everything must be for it to offer the
// tools that use them (see "tools list change after start-up" above). The
// upstreams are the test server, which logs the messages it receives.
// What mcpmux declares is decided in a race, which it loses now and then;
// several sessions of several upstreams each make that show.
func TestSurfaceClientCapabilitiesReachUpstreamsAwaitingThem(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("needs /proc to see that mcpmux has started its upstreams")
	}
	testutil.CheckNoChildren(t)
	const sessions, upstreams = 20, 8
	bin := testutil.TestServerPath(t)
	for s := range sessions {
		t.Run(fmt.Sprintf("session %d", s), func(t *testing.T) {
			t.Parallel()
			ctx := testContext(t, testTimeout)
			dir := t.TempDir()
			servers := map[string]any{}
			var prefixes []string
			for i := range upstreams {
				name := fmt.Sprintf("u%d", i)
				servers[name] = map[string]any{"command": bin, "args": []string{"-name", name, "-log-file", filepath.Join(dir, name+".jsonl")}}
				prefixes = append(prefixes, name+"__")
			}
			sc := newSurfaceClient()
			sc.c = startMcpmuxThenClient(t, ctx, writeConfig(t, servers), upstreams, sc.options()...)
			waitForTools(t, ctx, sc.c, prefixes...)
			for i := range upstreams {
				name := fmt.Sprintf("u%d", i)
				caps := initializeCapabilities(t, filepath.Join(dir, name+".jsonl"))
				var missing []string
				for _, want := range []string{"sampling", "elicitation", "roots"} {
					if _, ok := caps[want]; !ok {
						missing = append(missing, want)
					}
				}
				if len(missing) > 0 {
					t.Errorf("upstream %s was told capabilities %s in its initialize request, without the client's %s", name, mustJSON(caps), strings.Join(missing, ", "))
				}
			}
		})
	}
}

// startMcpmuxThenClient is startMcpmux, except that the client connects
// only once mcpmux has started n upstream processes, which then wait for
// its handshake. It returns the initialised client. At cleanup the client
// is closed and mcpmux is given 10s to exit before it is killed; its
// stderr is logged if the test failed.
func startMcpmuxThenClient(t *testing.T, ctx context.Context, cfgPath string, n int, opts ...client.ClientOption) *client.Client {
	t.Helper()
	clientIn, muxOut, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	muxIn, clientOut, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	stderr := &testutil.SyncBuffer{}
	cmd := exec.Command(testutil.BuildMcpmux(t), "serve", "--config", cfgPath, "--data-dir", t.TempDir())
	cmd.Env = append(os.Environ(), "MCPMUX_LOG_LEVEL=debug")
	cmd.Stdin, cmd.Stdout, cmd.Stderr = muxIn, muxOut, stderr
	cmd.WaitDelay = time.Second
	err = cmd.Start()
	muxIn.Close()
	muxOut.Close()
	if err != nil {
		clientIn.Close()
		clientOut.Close()
		t.Fatalf("starting mcpmux: %v", err)
	}
	exited := make(chan struct{})
	go func() {
		_ = cmd.Wait()
		close(exited)
	}()
	c := newClient(transport.NewIO(clientIn, clientOut, nil), opts...)
	t.Cleanup(func() {
		_ = c.Close() // closes mcpmux's stdin
		select {
		case <-exited:
		case <-time.After(60 * time.Second): // a hang guard, as startMcpmux's
			t.Errorf("mcpmux did not exit within 60s of its stdin closing; killing it")
			_ = cmd.Process.Kill()
			<-exited
		}
		clientIn.Close()
		if t.Failed() {
			t.Logf("mcpmux stderr:\n%s", stderr.String())
		}
	})
	testutil.WaitFor(t, fmt.Sprintf("mcpmux to start its %d upstreams", n), func() bool {
		return len(testutil.Descendants(cmd.Process.Pid)) >= n
	})
	if err := c.Start(ctx); err != nil {
		t.Fatalf("starting the client of mcpmux: %v", err)
	}
	if _, err := initialize(ctx, c); err != nil {
		t.Fatalf("initializing the client of mcpmux: %v", err)
	}
	return c
}

// initializeCapabilities returns the capabilities of the initialize
// request in a test server's message log.
func initializeCapabilities(t *testing.T, path string) map[string]json.RawMessage {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("reading the test server's message log: %v", err)
	}
	for line := range strings.SplitSeq(string(data), "\n") {
		var m struct {
			Method string
			Params struct {
				Capabilities map[string]json.RawMessage
			}
		}
		if json.Unmarshal([]byte(line), &m) == nil && m.Method == "initialize" {
			return m.Params.Capabilities
		}
	}
	t.Fatalf("no initialize request in %s:\n%s", path, data)
	return nil
}

func mustJSON(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}
