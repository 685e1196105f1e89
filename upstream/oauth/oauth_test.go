package oauth

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mcpmux/mcpmux/internal/testutil"
)

var start = time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC)

// loggedIn returns a manager that has logged in to f.
func loggedIn(t *testing.T, f *fakeAS, dir string, clock *fakeClock) *Manager {
	t.Helper()
	m := newManager(dir, clock, true)
	if code, err := get(t, m, server(f)); err != nil || code != 200 {
		t.Fatalf("first request = %d, %v; want 200 after a login", code, err)
	}
	return m
}

// A challenge runs the whole flow: discovery, registration (DCR, native),
// PKCE, resource on every request, and the token is kept encrypted.
func TestLoginAndEncryptedStore(t *testing.T) {
	testutil.CheckNoGoroutineLeak(t)
	f := newFakeAS(t)
	dir := t.TempDir()
	m := loggedIn(t, f, dir, &fakeClock{now: start})
	logins, _, _ := f.Count()
	if logins != 1 {
		t.Errorf("logins = %d, want 1", logins)
	}
	want := f.URL() + "/mcp"
	for _, r := range f.Resources() {
		if !strings.HasSuffix(r, ":"+want) {
			t.Errorf("request %q, want resource %s on every one", r, want)
		}
	}
	if got := f.Registered()["application_type"]; got != "native" {
		t.Errorf("DCR application_type = %v, want native", got)
	}
	st := m.Client(server(f)).Status()
	if st.State != "logged in" || !st.HasRefresh || st.Expiry.IsZero() {
		t.Errorf("Status = %+v, want logged in with expiry and refresh token", st)
	}
	r, _ := m.Store.Load(want, "fake")
	if r == nil || r.AccessToken == "" {
		t.Fatal("no record stored")
	}
	if found := filesContain(t, dir, r.AccessToken, r.RefreshToken, "secretbytes", "access-token", "refresh-token"); len(found) > 0 {
		t.Errorf("tokens in the clear on disk: %v", found)
	}
	// Another manager (another process) reads it, with the key.
	if code, err := get(t, newManager(dir, &fakeClock{now: start}, false), server(f)); err != nil || code != 200 {
		t.Errorf("request from a second manager = %d, %v; want 200 with the stored token", code, err)
	}
	// With another key, the record does not open.
	other := &FileStore{Dir: dir, Key: &StoreKey{Source: "other"}}
	if _, err := other.Load(want, "fake"); err == nil {
		t.Error("a record opened with the wrong key")
	}
	for _, p := range mustGlob(t, dir, "*") {
		if fi, _ := os.Stat(p); fi.Mode().Perm()&0o077 != 0 {
			t.Errorf("%s has mode %v, want no access for others", p, fi.Mode().Perm())
		}
	}
}

func mustGlob(t *testing.T, dir, pattern string) []string {
	t.Helper()
	ps, err := filepath.Glob(filepath.Join(dir, pattern))
	if err != nil || len(ps) == 0 {
		t.Fatalf("no files %s in %s", pattern, dir)
	}
	return ps
}

// A token about to expire is refreshed before it is sent, with the
// resource; the rotated refresh token replaces the old one.
func TestRefreshAheadOfExpiryAndRotation(t *testing.T) {
	testutil.CheckNoGoroutineLeak(t)
	f := newFakeAS(t)
	clock := &fakeClock{now: start}
	m := loggedIn(t, f, t.TempDir(), clock)
	srv := server(f)
	first := m.Client(srv).record()
	for i := 1; i <= 2; i++ {
		clock.Add(time.Hour - 30*time.Second) // within a minute of expiry
		if code, err := get(t, m, srv); err != nil || code != 200 {
			t.Fatalf("request %d = %d, %v", i, code, err)
		}
		if _, refreshes, _ := f.Count(); refreshes != i {
			t.Fatalf("refreshes = %d, want %d", refreshes, i)
		}
	}
	last := m.Client(srv).record()
	if last.RefreshToken == first.RefreshToken || last.AccessToken == first.AccessToken {
		t.Error("the rotated tokens did not replace the first ones")
	}
	sent := f.SentTokens()
	for _, s := range sent[2:] { // the first: none; the second: after the login
		if s == "Bearer "+first.AccessToken {
			t.Error("a token about to expire was sent instead of being refreshed first")
		}
	}
	if !slices.Contains(f.Resources(), "refresh_token:"+srv.URL) {
		t.Errorf("refresh requests %v, want resource %s", f.Resources(), srv.URL)
	}
}

// A token the server stops taking while calls run (expiry, revocation of
// the access token) is refreshed once on the 401, and the call goes on.
func TestExpiryWhileCalling(t *testing.T) {
	testutil.CheckNoGoroutineLeak(t)
	f := newFakeAS(t)
	m := loggedIn(t, f, t.TempDir(), &fakeClock{now: start})
	f.ExpireAll()
	if code, err := get(t, m, server(f)); err != nil || code != 200 {
		t.Fatalf("request after expiry = %d, %v; want 200 after one refresh", code, err)
	}
	if logins, refreshes, _ := f.Count(); logins != 1 || refreshes != 1 {
		t.Errorf("logins, refreshes = %d, %d; want 1, 1", logins, refreshes)
	}
}

// invalid_grant drops the tokens and makes the upstream need a login,
// without a loop and without a 401 handed on.
func TestInvalidGrantNeedsLogin(t *testing.T) {
	testutil.CheckNoGoroutineLeak(t)
	f := newFakeAS(t)
	dir := t.TempDir()
	clock := &fakeClock{now: start}
	loggedIn(t, f, dir, clock)
	f.Set(func(f *fakeAS) { f.Refuse = true })
	f.ExpireAll()
	serve := newManager(dir, clock, false) // serve: no person
	_, _, before := f.Count()
	_, err := get(t, serve, server(f))
	var nl *NeedsLoginError
	if !errors.As(err, &nl) || !strings.Contains(err.Error(), "mcpmux login fake") {
		t.Fatalf("request = %v, want a NeedsLoginError naming mcpmux login fake", err)
	}
	if _, _, after := f.Count(); after-before > 2 {
		t.Errorf("%d requests to the server, want at most 2 (no loop)", after-before)
	}
	st := serve.Client(server(f)).Status()
	if st.State != "needs login" || !strings.Contains(st.Reason, "invalid_grant") || st.Command != "mcpmux login fake" {
		t.Errorf("Status = %+v, want needs login (invalid_grant), with the command", st)
	}
	r, _ := serve.Store.Load(server(f).URL, "fake")
	if r == nil || r.RefreshToken != "" || r.AccessToken != "" {
		t.Errorf("record after invalid_grant = %+v, want no tokens", r)
	}
	// And again: no refresh is tried with no refresh token.
	_, _, before = f.Count()
	if _, err := get(t, serve, server(f)); !errors.As(err, &nl) {
		t.Errorf("second request = %v, want NeedsLoginError", err)
	}
	if _, refreshes, after := f.Count(); refreshes != 0 || after-before > 1 {
		t.Errorf("refreshes = %d, requests = %d; want 0 and 1", refreshes, after-before)
	}
}

// A network failure of the token endpoint keeps the token, and status
// says the refresh is failing.
func TestTransientFailureKeepsToken(t *testing.T) {
	testutil.CheckNoGoroutineLeak(t)
	f := newFakeAS(t)
	clock := &fakeClock{now: start}
	m := loggedIn(t, f, t.TempDir(), clock)
	held := m.Client(server(f)).record()
	f.Set(func(f *fakeAS) { f.Down = true })
	clock.Add(time.Hour - 30*time.Second)
	if code, err := get(t, m, server(f)); err != nil || code != 200 {
		t.Fatalf("request = %d, %v; want 200 with the token still held", code, err)
	}
	r := m.Client(server(f)).record()
	if r.AccessToken != held.AccessToken || r.RefreshToken != held.RefreshToken {
		t.Error("a transient failure lost the tokens")
	}
	if st := m.Client(server(f)).Status(); st.State != "refresh failing" || !strings.Contains(st.Reason, "503") {
		t.Errorf("Status = %+v, want refresh failing (503)", st)
	}
	// The next request does not wait for the failing endpoint again at
	// once; one a while later tries again.
	tries := func() int {
		n := 0
		for _, r := range f.Resources() {
			if strings.HasPrefix(r, "refresh_token:") {
				n++
			}
		}
		return n
	}
	_, _ = get(t, m, server(f))
	if n := tries(); n != 1 {
		t.Errorf("%d refresh attempts right after a failure, want 1", n)
	}
	clock.Add(20 * time.Second)
	_, _ = get(t, m, server(f))
	if n := tries(); n != 2 {
		t.Errorf("%d refresh attempts 20s later, want 2", n)
	}
}

// Two processes whose token expires at once spend the rotating refresh
// token once: the second finds the first's new token after the lock.
func TestTwoProcessesRefreshOnce(t *testing.T) {
	testutil.CheckNoGoroutineLeak(t)
	f := newFakeAS(t)
	dir := t.TempDir()
	clock := &fakeClock{now: start}
	loggedIn(t, f, dir, clock)
	clock.Add(time.Hour - 10*time.Second)
	// Two managers, two FileStores, two lock files opened: as two processes.
	a, b := newManager(dir, clock, false), newManager(dir, clock, false)
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for i := range 8 {
		m := a
		if i%2 == 1 {
			m = b
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			if code, err := get(t, m, server(f)); err != nil || code != 200 {
				errs <- errors.Join(err, errors.New("not 200"))
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if _, refreshes, _ := f.Count(); refreshes != 1 {
		t.Errorf("refreshes = %d, want 1", refreshes)
	}
}

// A login made by another process (mcpmux login) is found by a running
// serve's watch, which tells OnLogin.
func TestLoginPickedUp(t *testing.T) {
	testutil.CheckNoGoroutineLeak(t)
	f := newFakeAS(t)
	dir := t.TempDir()
	clock := &fakeClock{now: start}
	serve := newManager(dir, clock, false)
	serve.Browser = nil // no browser to open
	found := make(chan string, 1)
	serve.OnLogin = func(s string) { found <- s }
	defer func(d time.Duration) { WatchEvery = d }(WatchEvery)
	WatchEvery = 5 * time.Millisecond
	stop := serve.Start(context.Background())
	defer stop()
	var nl *NeedsLoginError
	if _, err := get(t, serve, server(f)); !errors.As(err, &nl) {
		t.Fatalf("request before login = %v, want NeedsLoginError", err)
	}
	if err := newManager(dir, clock, true).Client(server(f)).Login(context.Background()); err != nil {
		t.Fatalf("Login: %v", err)
	}
	select {
	case s := <-found:
		if s != "fake" {
			t.Errorf("OnLogin(%q), want fake", s)
		}
	case <-time.After(testutil.WaitTimeout):
		t.Fatal("the running manager did not pick the login up")
	}
	if code, err := get(t, serve, server(f)); err != nil || code != 200 {
		t.Errorf("request after login = %d, %v", code, err)
	}
}

// 403 insufficient_scope logs in again with the union of the scopes.
func TestStepUp(t *testing.T) {
	testutil.CheckNoGoroutineLeak(t)
	f := newFakeAS(t)
	m := loggedIn(t, f, t.TempDir(), &fakeClock{now: start})
	f.Set(func(f *fakeAS) { f.NeedScope = "write" })
	if code, err := get(t, m, server(f)); err != nil || code != 200 {
		t.Fatalf("request needing write = %d, %v", code, err)
	}
	r := m.Client(server(f)).record()
	if !slices.Contains(r.Scopes, "read") || !slices.Contains(r.Scopes, "write") {
		t.Errorf("scopes = %v, want read and write", r.Scopes)
	}
	// A server that never grants: at most 3 tries, then an error.
	f.Set(func(f *fakeAS) { f.NeedScope = "never-granted" })
	f.ExpireAll()
	before, _, _ := f.Count()
	_, err := get(t, m, server(f))
	var nl *NeedsLoginError
	if !errors.As(err, &nl) || !strings.Contains(err.Error(), "3 tries") {
		t.Errorf("request = %v, want an error after 3 tries", err)
	}
	if logins, _, _ := f.Count(); logins-before > 3 {
		t.Errorf("%d logins, want at most 3", logins-before)
	}
}

// An authorization server that does not offer S256 is refused.
func TestRefusesWithoutS256(t *testing.T) {
	testutil.CheckNoGoroutineLeak(t)
	f := newFakeAS(t)
	f.Set(func(f *fakeAS) { f.Methods = []string{"plain"} })
	_, err := get(t, newManager(t.TempDir(), &fakeClock{now: start}, true), server(f))
	if err == nil || !strings.Contains(err.Error(), "S256") {
		t.Errorf("request = %v, want a refusal naming S256", err)
	}
	if logins, _, _ := f.Count(); logins != 0 {
		t.Errorf("logins = %d, want 0", logins)
	}
}

// Logout revokes and forgets.
func TestLogout(t *testing.T) {
	testutil.CheckNoGoroutineLeak(t)
	f := newFakeAS(t)
	dir := t.TempDir()
	m := loggedIn(t, f, dir, &fakeClock{now: start})
	revoked, err := m.Client(server(f)).Logout(context.Background())
	if err != nil || !revoked {
		t.Fatalf("Logout = %v, %v; want revoked", revoked, err)
	}
	if r, _ := m.Store.Load(server(f).URL, "fake"); r != nil {
		t.Error("a record is left after logout")
	}
	if n := f.LiveRefreshTokens(); n != 0 {
		t.Errorf("%d refresh tokens still live at the server", n)
	}
}

// countingBrowser counts the logins started, and never completes one.
type countingBrowser struct {
	mu      sync.Mutex
	listens int
}

func (b *countingBrowser) Listen(ctx context.Context, server string, port int) (Callback, error) {
	b.mu.Lock()
	b.listens++
	b.mu.Unlock()
	return nil, errors.New("no browser here")
}

func (b *countingBrowser) count() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.listens
}

// serve opens the login page itself at most once per upstream every
// AutoLoginEvery, however many requests need the login.
func TestAutoLoginAtMostEvery(t *testing.T) {
	testutil.CheckNoGoroutineLeak(t)
	f := newFakeAS(t)
	clock := &fakeClock{now: start}
	b := &countingBrowser{}
	m := newManager(t.TempDir(), clock, false)
	m.Browser, m.AutoLoginEvery = b, 10*time.Minute
	stop := m.Start(context.Background())
	defer stop()
	for range 3 {
		var nl *NeedsLoginError
		if _, err := get(t, m, server(f)); !errors.As(err, &nl) {
			t.Fatalf("request = %v, want NeedsLoginError", err)
		}
	}
	testutil.WaitFor(t, "one login started", func() bool { return b.count() == 1 })
	clock.Add(9 * time.Minute)
	_, _ = get(t, m, server(f))
	clock.Add(2 * time.Minute)
	_, _ = get(t, m, server(f))
	testutil.WaitFor(t, "a second login after 10 minutes", func() bool { return b.count() == 2 })
	stop()
	if n := b.count(); n != 2 {
		t.Errorf("%d logins started, want 2", n)
	}
}
