package statuspage_test

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/chromedp"

	"github.com/mcpmux/mcpmux/internal/testutil"
)

var update = flag.Bool("update", false, "write the README's screenshots into testdata")

// browser starts a headless Chromium for the test and returns its
// context and the console messages that are errors or warnings, and
// uncaught exceptions, of every page it shows. The test skips if
// Chromium is absent. Chromium is gone when the test ends.
func browser(t *testing.T) (context.Context, func() []string) {
	t.Helper()
	path := chromium()
	if path == "" && os.Getenv("MCPMUX_CHROMIUM_REQUIRED") != "" {
		t.Fatal("Chromium is absent, and MCPMUX_CHROMIUM_REQUIRED is set (.ci/run installs it)")
	}
	if path == "" {
		t.Skip("Chromium is absent (apt-get install chromium): the status page is not tested in a browser")
	}
	opts := append(chromedp.DefaultExecAllocatorOptions[:], chromedp.ExecPath(path), chromedp.UserDataDir(t.TempDir()), chromedp.WindowSize(1200, 900))
	if os.Geteuid() == 0 {
		opts = append(opts, chromedp.NoSandbox) // Chromium's sandbox refuses root, as in CI containers
	}
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(actx)
	t.Cleanup(func() {
		cancel()
		cancelAlloc() // waits for the browser to exit
	})
	if err := chromedp.Do(ctx); err != nil { // starts the browser and the tab
		t.Fatalf("starting Chromium: %v", err)
	}
	var mu sync.Mutex
	var bad []string
	messages := chromedp.Console(ctx)
	go func() {
		for m, err := range messages {
			if err != nil {
				return
			}
			if m.IsException() || m.Type == chromedp.ConsoleError || m.Type == chromedp.ConsoleWarning {
				mu.Lock()
				bad = append(bad, m.String())
				mu.Unlock()
			}
		}
	}()
	return ctx, func() []string {
		mu.Lock()
		defer mu.Unlock()
		return append([]string(nil), bad...)
	}
}

// chromium returns the path of Chromium or Chrome; "" if none is found.
func chromium() string {
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome", "google-chrome-stable"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	return ""
}

// wait waits, in the page, until expr is true.
func wait(t *testing.T, ctx context.Context, what, expr string) {
	t.Helper()
	if _, err := chromedp.Run(ctx, chromedp.Poll[bool](expr, chromedp.WithPollingTimeout(testutil.WaitTimeout))); err != nil {
		t.Fatalf("waiting for %s (%s): %v", what, expr, err)
	}
}

func eval[T any](t *testing.T, ctx context.Context, expr string) T {
	t.Helper()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](expr))
	if err != nil {
		t.Fatalf("evaluating %s: %v", expr, err)
	}
	return v
}

// cell is the JavaScript of the text of column col of server's row in
// the upstreams table.
func cell(server, col string) string {
	return `(document.querySelector('#upstreams tr[data-server="` + server + `"] td.` + col + `') || {}).textContent`
}

// TestPage opens the status page in a real headless Chromium, in front of
// mcpmux serving real upstreams over HTTP (alpha and beta, gamma that
// cannot start, witness with a poisoned tool): each upstream's row shows
// its state, tools and calls; five more calls change the count without a
// reload; the page's buttons trust the withheld tool and restart beta;
// the page is readable in a narrow window and has a dark mode; and no
// error, warning or exception reaches the console. With -update it
// writes the README's screenshots.
func TestPage(t *testing.T) {
	beta := testutil.TestServer(t)
	beta["env"] = map[string]string{"BETA_API_KEY": secret}
	sys := start(t, setup{servers: map[string]any{
		"alpha": testutil.TestServer(t), "beta": beta, "witness": poisoned(t),
		"gamma": testutil.TestServer(t, "-crash-on-start"),
	}, pins: t.TempDir(), ready: 3})
	ctx, consoleErrors := browser(t)
	c := sys.connect("claude-code")
	for range 3 {
		if _, err := call(t, c, "alpha__echo", map[string]any{"message": "hi"}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := call(t, c, "beta__error", nil); err == nil {
		t.Fatal("beta__error succeeded")
	}
	if _, err := call(t, c, "beta__add", map[string]any{"a": 1, "b": 2}); err != nil {
		t.Fatal(err)
	}

	if err := chromedp.Do(ctx, chromedp.Navigate(sys.base+"/")); err != nil {
		t.Fatal(err)
	}
	wait(t, ctx, "both upstreams ready with their calls, gamma failing",
		cell("alpha", "state")+` === "ready" && `+cell("beta", "state")+` === "ready" && `+
			cell("alpha", "calls")+` === "3" && `+cell("beta", "calls")+` === "2" && `+
			cell("gamma", "err")+`.includes("exit status 2")`)
	if held := eval[string](t, ctx, `document.querySelector('#withheld tbody').innerText`); !strings.Contains(held, "notes") {
		t.Errorf("withheld tools = %q, want witness's notes", held)
	}
	for _, server := range []string{"alpha", "beta"} {
		row := eval[string](t, ctx, `document.querySelector('#upstreams tr[data-server="`+server+`"]').innerText`)
		tools := eval[string](t, ctx, cell(server, "tools"))
		if !strings.Contains(row, server) || !strings.Contains(row, "ready") || tools == "" || tools == "0" {
			t.Errorf("row of %s = %q (tools %q), want its name, ready, its tools", server, row, tools)
		}
	}
	if errs := eval[string](t, ctx, cell("beta", "errors")); errs != "1" {
		t.Errorf("beta's errors = %q, want 1", errs)
	}
	sessions := eval[string](t, ctx, `document.querySelector('#sessions tbody').innerText`)
	if !strings.Contains(sessions, "claude-code") || !strings.Contains(sessions, "2025-11-25") {
		t.Errorf("sessions = %q, want claude-code on 2025-11-25", sessions)
	}
	calls := eval[int](t, ctx, `document.querySelectorAll('#calls tbody tr').length`)
	if calls != 5 {
		t.Errorf("the page lists %d calls, want 5", calls)
	}

	// Live: five more calls change the count, without a reload.
	eval[bool](t, ctx, `window.mcpmuxNoReload = true`)
	for range 5 {
		if _, err := call(t, c, "alpha__echo", map[string]any{"message": "again"}); err != nil {
			t.Fatal(err)
		}
	}
	wait(t, ctx, "alpha's 8 calls", cell("alpha", "calls")+` === "8"`)
	if !eval[bool](t, ctx, `window.mcpmuxNoReload === true`) {
		t.Error("the page was reloaded to show the new count")
	}

	if *update {
		screenshot(t, ctx, "status-light.png")
	}
	light := eval[string](t, ctx, `getComputedStyle(document.body).backgroundColor`)
	if _, err := chromedp.Call(ctx, emulation.SetEmulatedMedia, emulation.SetEmulatedMediaParams{Features: []*emulation.MediaFeature{{Name: "prefers-color-scheme", Value: "dark"}}}); err != nil {
		t.Fatal(err)
	}
	if dark := eval[string](t, ctx, `getComputedStyle(document.body).backgroundColor`); dark == light {
		t.Errorf("the background is %s in dark mode too", dark)
	}
	if *update {
		screenshot(t, ctx, "status-dark.png")
	}

	if _, err := chromedp.Call(ctx, emulation.SetEmulatedMedia, emulation.SetEmulatedMediaParams{}); err != nil {
		t.Fatal(err)
	}

	// The buttons: trust witness's notes, restart beta.
	tools := eval[string](t, ctx, cell("witness", "tools"))
	if err := chromedp.Do(ctx, chromedp.Click(`#withheld tr[data-name="notes"] button`)); err != nil {
		t.Fatal(err)
	}
	wait(t, ctx, "notes trusted", `document.getElementById("withheld-section").hidden && `+cell("witness", "tools")+` === "`+fmt.Sprint(atoi(t, tools)+1)+`"`)
	v, _ := sys.view(nil)
	pid := upstreamOf(t, v, "beta").PID
	if err := chromedp.Do(ctx, chromedp.Click(`#upstreams tr[data-server="beta"] button`)); err != nil {
		t.Fatal(err)
	}
	wait(t, ctx, "beta restarted", cell("beta", "state")+` === "ready" && `+cell("beta", "since")+`.includes("pid ") && !`+cell("beta", "since")+`.includes("pid `+fmt.Sprint(pid)+`")`)

	// Narrow: nothing wider than the window; each row a card.
	if err := chromedp.Do(ctx, chromedp.EmulateViewport(360, 800)); err != nil {
		t.Fatal(err)
	}
	wait(t, ctx, "the narrow layout", `document.documentElement.scrollWidth <= window.innerWidth`)
	if *update {
		screenshot(t, ctx, "status-narrow.png")
	}

	if errs := consoleErrors(); len(errs) > 0 {
		t.Errorf("the console has errors:\n%s", strings.Join(errs, "\n"))
	}
}

// screenshot writes the whole page into testdata/name.
func screenshot(t *testing.T, ctx context.Context, name string) {
	t.Helper()
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join("testdata", name), png, 0o644); err != nil {
		t.Fatal(err)
	}
}

func atoi(t *testing.T, s string) int {
	t.Helper()
	n, err := strconv.Atoi(s)
	if err != nil {
		t.Fatalf("%q is not a number", s)
	}
	return n
}
