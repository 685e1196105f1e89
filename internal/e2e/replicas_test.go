package e2e

import (
	"bufio"
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/mcpmux/mcpmux/internal/testutil"
)

// replicaKey is the session key the replicas of TestReplicasBehindHAProxy
// share.
const replicaKey = "cmVwbGljYXMtYmVoaW5kLWhhcHJveHktdGVzdC1rZXktMDEyMzQ1"

// replica is one `mcpmux serve --http` of TestReplicasBehindHAProxy, on a
// port it keeps across restarts.
type replica struct {
	name, addr string
	bin, cfg   string

	cmd    *exec.Cmd
	stderr *testutil.SyncBuffer
	exited chan struct{}
	procs  []*tracker // of every run, for the check of what outlived them
	logs   []string   // of the runs that ended
}

// start runs the replica and waits until it listens.
func (r *replica) start(t *testing.T, ctx context.Context) {
	t.Helper()
	r.stderr = &testutil.SyncBuffer{}
	r.exited = make(chan struct{})
	r.cmd = exec.Command(r.bin, "serve", "--http", r.addr, "--config", r.cfg, "--no-registry")
	r.cmd.Env = append(os.Environ(), "MCPMUX_SESSION_KEY="+replicaKey, "MCPMUX_LOG_LEVEL=debug", "GORACE=atexit_sleep_ms=0")
	r.cmd.Stderr = r.stderr
	r.cmd.WaitDelay = time.Second
	if err := r.cmd.Start(); err != nil {
		t.Fatalf("starting %s: %v", r.name, err)
	}
	r.procs = append(r.procs, trackDescendants(r.cmd.Process.Pid, r.exited))
	cmd, exited := r.cmd, r.exited
	go func() { _ = cmd.Wait(); close(exited) }()
	for !strings.Contains(r.stderr.String(), "mcpmux serving over HTTP") {
		select {
		case <-r.exited:
			t.Fatalf("%s exited before it listened:\n%s", r.name, r.stderr.String())
		case <-ctx.Done():
			t.Fatalf("%s did not listen:\n%s", r.name, r.stderr.String())
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// stop signals the replica and waits for it to exit.
func (r *replica) stop(t *testing.T, sig syscall.Signal) {
	t.Helper()
	_ = r.cmd.Process.Signal(sig)
	select {
	case <-r.exited:
	case <-time.After(testutil.WaitTimeout):
		t.Errorf("%s did not exit within %v of %v; killing it", r.name, testutil.WaitTimeout, sig)
		_ = r.cmd.Process.Signal(syscall.SIGQUIT) // its goroutines, in its log
		select {
		case <-r.exited:
		case <-time.After(5 * time.Second):
			_ = r.cmd.Process.Kill()
			<-r.exited
		}
	}
	if sig == syscall.SIGTERM && r.cmd.ProcessState.ExitCode() != 0 {
		t.Errorf("%s exited %v on SIGTERM", r.name, r.cmd.ProcessState)
	}
	r.logs = append(r.logs, r.stderr.String())
}

// running reports whether the replica's last run has not exited.
func (r *replica) running() bool {
	if r.exited == nil {
		return false
	}
	select {
	case <-r.exited:
		return false
	default:
		return true
	}
}

// log returns the logs of every run of the replica.
func (r *replica) log() string {
	logs := slices.Clone(r.logs)
	if r.running() { // its log is not in logs yet
		logs = append(logs, r.stderr.String())
	}
	return strings.Join(logs, "\n--- restarted ---\n")
}

// callRecord is one call replicas.cjs made.
type callRecord struct {
	Session int    `json:"session"`
	N       int    `json:"n"`
	OK      bool   `json:"ok"`
	T0      int64  `json:"t0"`
	T1      int64  `json:"t1"`
	Error   string `json:"error"`
}

type sessionSeen struct {
	Initializes int      `json:"initializes"`
	IDs         []string `json:"ids"`
}

// calls collects what replicas.cjs prints.
type calls struct {
	mu    sync.Mutex
	all   []callRecord
	ok    int
	ready chan struct{}
	done  chan []sessionSeen
}

func (c *calls) read(r io.Reader) {
	sc := bufio.NewScanner(r)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var line struct {
			Ready int           `json:"ready"`
			Call  *callRecord   `json:"call"`
			Done  []sessionSeen `json:"done"`
		}
		if json.Unmarshal(sc.Bytes(), &line) != nil {
			continue
		}
		switch {
		case line.Ready > 0:
			close(c.ready)
		case line.Call != nil:
			c.mu.Lock()
			c.all = append(c.all, *line.Call)
			if line.Call.OK {
				c.ok++
			}
			c.mu.Unlock()
		case line.Done != nil:
			c.done <- line.Done
		}
	}
}

func (c *calls) okCount() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.ok
}

// await waits until n more calls have succeeded than had at the start.
func (c *calls) await(t *testing.T, n int, what string) {
	t.Helper()
	want := c.okCount() + n
	testutil.WaitFor(t, fmt.Sprintf("%d more calls to succeed %s", n, what), func() bool { return c.okCount() >= want })
}

// freePorts returns n ports of 127.0.0.1 free a moment ago.
func freePorts(t *testing.T, n int) []int {
	t.Helper()
	var ports []int
	var lns []net.Listener
	for range n {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		lns = append(lns, ln)
		ports = append(ports, ln.Addr().(*net.TCPAddr).Port)
	}
	for _, ln := range lns {
		ln.Close()
	}
	return ports
}

// TestReplicasBehindHAProxy: three replicas of mcpmux serve --http that
// share a session key, behind a real HAProxy (round robin, no affinity,
// health checks on /readyz), serve 10 sessions of the official TypeScript
// client that call a tool without pause, while every replica in turn is
// stopped with SIGTERM and started again: every call succeeds, in its own
// session, and no session initializes again. Each session sets its log
// level first, whose answer gives it a new id (the new state sealed), which
// the SDK sends from then on. Then a replica killed with
// SIGKILL costs only the calls in flight on it.
func TestReplicasBehindHAProxy(t *testing.T) {
	haproxy, err := exec.LookPath("haproxy")
	if err != nil {
		if os.Getenv("MCPMUX_HAPROXY_REQUIRED") != "" {
			t.Fatal("haproxy is not installed, and MCPMUX_HAPROXY_REQUIRED is set")
		}
		t.Skip("haproxy is not installed (Debian: apt-get install haproxy; .ci/run installs it): skipping the replicas test")
	}
	node, err := exec.LookPath("node")
	if err != nil {
		t.Skip("node is not on PATH")
	}
	modules := testutil.NPMModules(t, testutil.SDKPkg, testutil.SDKVersion)
	script, err := filepath.Abs("testdata/replicas.cjs")
	if err != nil {
		t.Fatal(err)
	}
	testutil.CheckNoChildren(t)
	ctx := testContext(t, 8*time.Minute)
	bin, cfg := mcpmuxBin(t), writeConfig(t, map[string]any{"test": testutil.TestServer(t)})

	ports := freePorts(t, 5)
	var replicas []*replica
	var servers strings.Builder
	for i := range 3 {
		r := &replica{name: fmt.Sprintf("r%d", i+1), addr: fmt.Sprintf("127.0.0.1:%d", ports[i]), bin: bin, cfg: cfg}
		replicas = append(replicas, r)
		fmt.Fprintf(&servers, "    server %s %s\n", r.name, r.addr)
	}
	t.Cleanup(func() {
		for _, r := range replicas {
			if r.running() {
				r.stop(t, syscall.SIGTERM)
			}
			for _, p := range r.procs {
				if left := p.killSurvivors(2 * time.Second); left != "" {
					t.Errorf("processes outlived %s:\n%s", r.name, left)
				}
			}
			if t.Failed() {
				t.Logf("%s's log:\n%s", r.name, r.log())
			}
		}
	})
	for _, r := range replicas {
		r.start(t, ctx)
	}

	front, stats := ports[3], ports[4]
	hcfg := filepath.Join(t.TempDir(), "haproxy.cfg")
	// The README's configuration (round robin, no affinity, health checks
	// on /readyz, retries on another replica), with the test's ports.
	if err := os.WriteFile(hcfg, readmeHAProxy(t, front, stats, servers.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	hap := exec.Command(haproxy, "-db", "-f", hcfg)
	hapOut := &testutil.SyncBuffer{}
	hap.Stdout, hap.Stderr = hapOut, hapOut
	if err := hap.Start(); err != nil {
		t.Fatal(err)
	}
	hapDone := make(chan struct{})
	go func() { _ = hap.Wait(); close(hapDone) }()
	t.Cleanup(func() {
		_ = hap.Process.Signal(syscall.SIGTERM)
		<-hapDone
		if t.Failed() {
			t.Logf("haproxy:\n%s", hapOut.String())
		}
	})
	up := func(name string) bool {
		return serverStatus(fmt.Sprintf("http://127.0.0.1:%d/stats;csv", stats))[name] == "UP"
	}
	for _, r := range replicas {
		testutil.WaitFor(t, "HAProxy to see "+r.name+" up", func() bool { return up(r.name) })
	}

	// The sessions: 10 clients, each calling a tool that takes 100 ms,
	// again and again, through HAProxy.
	client := exec.CommandContext(ctx, node, script, fmt.Sprintf("http://127.0.0.1:%d/mcp", front), "10", "test__slow", "100")
	client.Env = append(os.Environ(), "NODE_PATH="+modules)
	clientErr := &testutil.SyncBuffer{}
	client.Stderr = clientErr
	stdin, _ := client.StdinPipe()
	stdout, _ := client.StdoutPipe()
	if err := client.Start(); err != nil {
		t.Fatal(err)
	}
	got := &calls{ready: make(chan struct{}), done: make(chan []sessionSeen, 1)}
	go got.read(stdout)
	clientDone := make(chan error, 1)
	go func() { clientDone <- client.Wait() }()
	t.Cleanup(func() {
		stdin.Close()
		select {
		case <-clientDone:
		case <-time.After(testutil.WaitTimeout):
			_ = client.Process.Kill()
			<-clientDone
		}
		if t.Failed() {
			t.Logf("replicas.cjs stderr:\n%s", clientErr.String())
		}
	})
	select {
	case <-got.ready:
	case err := <-clientDone:
		t.Fatalf("replicas.cjs ended before its sessions were up: %v\n%s", err, clientErr.String())
	case <-ctx.Done():
		t.Fatalf("the sessions did not initialize:\n%s", clientErr.String())
	}
	got.await(t, 30, "before the restarts")

	// A rolling restart: each replica stopped with SIGTERM (it drains),
	// the calls going on meanwhile, then started again.
	for _, r := range replicas {
		r.stop(t, syscall.SIGTERM)
		got.await(t, 20, "while "+r.name+" is down")
		r.start(t, ctx)
		testutil.WaitFor(t, "HAProxy to see "+r.name+" up again", func() bool { return up(r.name) })
		got.await(t, 20, "after "+r.name+" is back")
	}
	killedAt := time.Now().UnixMilli()
	replicas[0].stop(t, syscall.SIGKILL)
	got.await(t, 40, "after "+replicas[0].name+" was killed")

	stdin.Close()
	var seen []sessionSeen
	select {
	case seen = <-got.done:
	case err := <-clientDone:
		t.Fatalf("replicas.cjs ended without its summary: %v\n%s", err, clientErr.String())
	case <-ctx.Done():
		t.Fatal("replicas.cjs did not stop")
	}

	got.mu.Lock()
	all := slices.Clone(got.all)
	got.mu.Unlock()
	var rolling, failedRolling, afterKill, inFlight int
	for _, c := range all {
		switch {
		case c.T1 < killedAt:
			rolling++
			if !c.OK {
				failedRolling++
				t.Errorf("session %d, call %d failed during the rolling restart: %s", c.Session, c.N, c.Error)
			}
		case !c.OK && c.T0 <= killedAt:
			inFlight++ // in flight when the replica was killed
		case !c.OK:
			t.Errorf("session %d, call %d, started %d ms after the kill, failed: %s", c.Session, c.N, c.T0-killedAt, c.Error)
		default:
			afterKill++
		}
	}
	t.Logf("%d calls through the rolling restart (%d failed), %d after the SIGKILL, %d lost in flight on the killed replica",
		rolling, failedRolling, afterKill, inFlight)
	if inFlight > len(seen) {
		t.Errorf("%d calls failed at the kill; at most %d (one per session) were in flight", inFlight, len(seen))
	}
	if len(seen) != 10 {
		t.Fatalf("%d sessions reported, want 10", len(seen))
	}
	for i, s := range seen {
		// Two ids: initialize's, and the one logging/setLevel's answer
		// carried (the session's new state); no other.
		if s.Initializes != 1 || len(s.IDs) != 2 || s.IDs[0] == s.IDs[1] {
			t.Errorf("session %d initialized %d times, with %d session ids: want once, with initialize's id and setLevel's", i, s.Initializes, len(s.IDs))
		}
	}
	// No affinity: every replica served sessions that another opened.
	for _, r := range replicas {
		if n := strings.Count(r.log(), "session resumed from its id"); n == 0 {
			t.Errorf("%s resumed no session: the balancer kept sessions on their replica", r.name)
		}
		if strings.Contains(r.log(), replicaKey) {
			t.Errorf("%s logged the session key", r.name)
		}
	}
}

// serverStatus reads HAProxy's stats CSV: each server's status by name.
func serverStatus(url string) map[string]string {
	resp, err := http.Get(url)
	if err != nil {
		return nil
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	rows, err := csv.NewReader(strings.NewReader(strings.TrimPrefix(string(b), "# "))).ReadAll()
	if err != nil || len(rows) == 0 {
		return nil
	}
	col := slices.Index(rows[0], "status")
	out := map[string]string{}
	for _, row := range rows[1:] {
		if col >= 0 && col < len(row) && row[0] == "mcpmux" {
			out[row[1]] = strings.Fields(row[col] + " ")[0]
		}
	}
	return out
}
