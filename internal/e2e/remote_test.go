package e2e

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/mark3labs/mcp-go/client"
	"github.com/mark3labs/mcp-go/client/transport"
	"github.com/mark3labs/mcp-go/mcp"

	"github.com/mcpmux/mcpmux/internal/testutil"
)

// remoteMode is a way server-everything serves MCP over HTTP.
type remoteMode struct {
	arg  string // server-everything's argument
	typ  string // mcpmux's "type" for it
	path string // its endpoint
}

var remoteModes = []remoteMode{
	{arg: "streamableHttp", typ: "http", path: "/mcp"},
	{arg: "sse", typ: "sse", path: "/sse"},
}

// loopbackJS is preloaded into server-everything, which listens on every
// interface at $PORT: it makes a server that is given only a port listen
// on 127.0.0.1, and reports where it listens, so that PORT=0 picks a free
// port that the test can learn.
const loopbackJS = `"use strict";
const net = require("node:net");
const listen = net.Server.prototype.listen;
net.Server.prototype.listen = function (...args) {
  if ((typeof args[0] === "number" || /^\d+$/.test(args[0])) && typeof args[1] !== "string") {
    args.splice(1, 0, "127.0.0.1");
  }
  this.once("listening", () => {
    const a = this.address();
    process.stderr.write("mcpmux-test listening " + a.address + ":" + a.port + "\n");
  });
  return listen.apply(this, args);
};
`

var listeningLine = regexp.MustCompile(`^mcpmux-test listening (127\.0\.0\.1:\d+)$`)

// startEverythingRemote runs server-everything in mode on a free port of
// 127.0.0.1 until the test ends, and returns its endpoint's URL. Its
// output is logged if the test fails.
func startEverythingRemote(t testing.TB, ctx context.Context, mode remoteMode) string {
	t.Helper()
	bin := everythingBin(t)
	preload := filepath.Join(t.TempDir(), "loopback.cjs")
	if err := os.WriteFile(preload, []byte(loopbackJS), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("node", "--require", preload, bin, mode.arg)
	cmd.Env = append(os.Environ(), "PORT=0")
	out := &testutil.SyncBuffer{}
	cmd.Stdout = out
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting server-everything %s: %v", mode.arg, err)
	}
	addr := make(chan string, 1)
	read := make(chan struct{})
	go func() {
		defer close(read)
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			fmt.Fprintln(out, sc.Text())
			if m := listeningLine.FindStringSubmatch(sc.Text()); m != nil {
				select {
				case addr <- m[1]:
				default:
				}
			}
		}
		_, _ = io.Copy(io.Discard, stderr)
	}()
	exited := make(chan struct{})
	go func() {
		<-read
		_ = cmd.Wait()
		close(exited)
	}()
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(5 * time.Second):
			_ = cmd.Process.Kill()
			<-exited
		}
		if t.Failed() {
			t.Logf("server-everything %s output:\n%s", mode.arg, out.String())
		}
	})
	select {
	case a := <-addr:
		return "http://" + a + mode.path
	case <-exited:
		t.Fatalf("server-everything %s exited before it listened:\n%s", mode.arg, out.String())
	case <-ctx.Done():
		t.Fatalf("server-everything %s did not listen: %v\n%s", mode.arg, ctx.Err(), out.String())
	}
	return ""
}

// startDirectRemote connects a new, initialised client straight to the
// server at url, over mode's transport; it is closed at cleanup. (mcp-go's
// SSE client drops the server's requests: the direct client is only
// compared with for what it asks.)
func startDirectRemote(t testing.TB, ctx context.Context, mode remoteMode, url string, opts ...client.ClientOption) *client.Client {
	t.Helper()
	var tr transport.Interface
	var err error
	if mode.typ == "sse" {
		tr, err = transport.NewSSE(url)
	} else {
		//lint:ignore SA1019 the handshake-based revisions the direct client speaks need the GET stream.
		tr, err = transport.NewStreamableHTTP(url, transport.WithContinuousListening())
	}
	if err != nil {
		t.Fatal(err)
	}
	c := newClient(tr, opts...)
	t.Cleanup(func() { _ = c.Close() })
	if err := c.Start(ctx); err != nil {
		t.Fatalf("starting the direct %s client: %v", mode.arg, err)
	}
	if _, err := initialize(ctx, c); err != nil {
		t.Fatalf("initializing the direct %s client: %v", mode.arg, err)
	}
	return c
}

// remoteConfig writes a configuration with server-everything at url as the
// upstream "everything", with the extra settings of its entry.
func remoteConfig(t testing.TB, mode remoteMode, url string, extra map[string]any) string {
	t.Helper()
	entry := map[string]any{"url": url, "type": mode.typ}
	for k, v := range extra {
		entry[k] = v
	}
	return writeConfig(t, map[string]any{"everything": entry})
}

// TestSurfaceThroughMcpmuxRemote is TestSurfaceThroughMcpmux with
// server-everything reached over streamable HTTP and over HTTP+SSE on
// 127.0.0.1: every part of its surface, its requests to the client
// (sampling, elicitation, roots) included, works through mcpmux as over
// stdio, and what can be compared with a direct client of the same
// transport is identical.
func TestSurfaceThroughMcpmuxRemote(t *testing.T) {
	testutil.CheckNoChildren(t)
	for _, mode := range remoteModes {
		t.Run(mode.arg, func(t *testing.T) {
			ctx := testContext(t, testTimeout)
			url := startEverythingRemote(t, ctx, mode)
			direct := newSurfaceClient()
			direct.c = startDirectRemote(t, ctx, mode, url, direct.options()...)
			mux := newSurfaceClient()
			mux.c = startMcpmux(t, ctx, remoteConfig(t, mode, url, nil), mux.options()...).client
			testSurface(t, ctx, direct, mux)
		})
	}
}

// TestRemoteElicitationOutlastsTimeout answers server-everything's
// elicitation, over streamable HTTP and over HTTP+SSE, five times later
// than the upstream's request timeout: a person may take that long, and
// the call must not fail. (mcp-go's transports cut such a request off
// after 30s, over streamable HTTP, and dropped it over SSE; the upstream
// package's TestRemoteElicitationAnsweredAfter40s covers 40s in a bubble's
// time.)
func TestRemoteElicitationOutlastsTimeout(t *testing.T) {
	testutil.CheckNoChildren(t)
	const timeout, answerAfter = time.Second, 5 * time.Second
	for _, mode := range remoteModes {
		t.Run(mode.arg, func(t *testing.T) {
			ctx := testContext(t, testTimeout)
			url := startEverythingRemote(t, ctx, mode)
			mux := newSurfaceClient()
			mux.elicitor.delay = answerAfter
			cfg := remoteConfig(t, mode, url, map[string]any{"timeout": timeout.String()})
			mux.c = startMcpmux(t, ctx, cfg, mux.options()...).client
			waitForTools(t, ctx, mux.c, "everything__trigger-elicitation-request")

			start := time.Now()
			text := callTool(t, ctx, mux.c, "everything__trigger-elicitation-request", `{}`)
			took := time.Since(start)
			if reqs := mux.elicitor.requests(); len(reqs) != 1 {
				t.Fatalf("the client got %d elicitation requests, want 1", len(reqs))
			}
			if want := "User inputs:\n- Name: Ada Lovelace"; !strings.Contains(text, want) {
				t.Errorf("trigger-elicitation-request = %q, want it to hold %q", text, want)
			}
			t.Logf("answered after %s; the call took %s with a request timeout of %s", answerAfter, took.Round(time.Millisecond), timeout)
		})
	}
}

// BenchmarkRemoteToolCall is BenchmarkToolCall with server-everything over
// streamable HTTP and over SSE: one echo call at a time, directly (mcp-go's
// client of that transport) and through mcpmux (its own).
func BenchmarkRemoteToolCall(b *testing.B) {
	pinned := client.WithProtocolVersion(mcp.LATEST_LEGACY_PROTOCOL_VERSION)
	for _, mode := range remoteModes {
		b.Run(mode.arg, func(b *testing.B) {
			ctx := testContext(b, benchTimeout)
			url := startEverythingRemote(b, ctx, mode)
			b.Run("direct", func(b *testing.B) {
				benchEcho(b, ctx, startDirectRemote(b, ctx, mode, url, pinned), "echo")
			})
			b.Run("mcpmux", func(b *testing.B) {
				m := startMcpmux(b, ctx, remoteConfig(b, mode, url, nil), pinned)
				waitForTools(b, ctx, m.client, "everything__")
				benchEcho(b, ctx, m.client, "everything__echo")
			})
		})
	}
}
