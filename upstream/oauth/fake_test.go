package oauth

import (
	"context"
	"crypto/sha256"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mcpmux/mcpmux/registry"
	"github.com/mcpmux/mcpmux/upstream/oauth/oauthtest"
)

type fakeAS = oauthtest.Server

func newFakeAS(t testing.TB) *fakeAS { return oauthtest.New(t, nil) }

// fakeClock is a settable clock for the manager.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Add(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

// follower stands in for the person at the browser: it opens the URL and
// follows its redirects, to the login's callback.
func follower(ctx context.Context, u string) error {
	cl := &http.Client{}
	defer cl.CloseIdleConnections()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return err
	}
	resp, err := cl.Do(req)
	if err != nil {
		return err
	}
	resp.Body.Close()
	return nil
}

// testKey is a fixed store key.
func testKey() *StoreKey { return &StoreKey{Bytes: sha256.Sum256([]byte("test")), Source: "test"} }

// newManager returns a manager over the token store in dir, on clock.
func newManager(dir string, clock *fakeClock, interactive bool) *Manager {
	return &Manager{
		Store:       &FileStore{Dir: dir, Key: testKey()},
		Browser:     &Loopback{Open: follower},
		Interactive: interactive,
		Now:         clock.Now,
	}
}

// server is the configuration entry of f's resource.
func server(f *fakeAS) *registry.Server {
	return &registry.Server{Name: "fake", URL: f.URL() + "/mcp"}
}

// get sends one request to /mcp through m's transport.
func get(t testing.TB, m *Manager, srv *registry.Server) (int, error) {
	t.Helper()
	base := &http.Transport{}
	defer base.CloseIdleConnections()
	cl := &http.Client{Transport: &Transport{Base: base, Client: m.Client(srv)}}
	resp, err := cl.Get(srv.URL)
	if err != nil {
		return 0, err
	}
	resp.Body.Close()
	return resp.StatusCode, nil
}

// filesContain reports the files under dir that hold any of secrets.
func filesContain(t testing.TB, dir string, secrets ...string) []string {
	t.Helper()
	var found []string
	_ = filepath.Walk(dir, func(path string, info os.FileInfo, err error) error {
		if err != nil || info.IsDir() {
			return nil
		}
		data, _ := os.ReadFile(path)
		for _, s := range secrets {
			if strings.Contains(string(data), s) {
				found = append(found, path+": "+s)
			}
		}
		return nil
	})
	return found
}
