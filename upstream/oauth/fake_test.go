package oauth

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mcpmux/mcpmux/registry"
)

// fakeAS is an authorization server and the resource it protects, on
// 127.0.0.1: the resource metadata, the server's metadata, registration,
// an authorization endpoint that redirects straight back (the person says
// yes), a token endpoint that issues, refreshes (rotating if asked) and
// refuses a refresh token used twice, and /mcp, which wants a token.
type fakeAS struct {
	srv *httptest.Server

	mu           sync.Mutex
	expiresIn    int      // of access tokens; 0 means none told
	rotate       bool     // a refresh issues a new refresh token
	refuse       bool     // every refresh gets invalid_grant
	down         bool     // the token endpoint answers 503
	needScope    string   // /mcp wants this scope too
	methods      []string // code_challenge_methods_supported; nil means S256
	n            int
	access       map[string][]string // live access tokens, their scopes
	refresh      map[string][]string // live refresh tokens, their scopes
	codes        map[string]authCode
	refreshes    int
	logins       int
	calls        int // to /mcp
	resources    []string
	sentTokens   []string // Authorization of /mcp requests
	registerMeta map[string]any
}

type authCode struct {
	challenge, redirect, resource string
	scopes                        []string
}

func newFakeAS(t testing.TB) *fakeAS {
	f := &fakeAS{access: map[string][]string{}, refresh: map[string][]string{}, codes: map[string]authCode{}, expiresIn: 3600, rotate: true}
	mux := http.NewServeMux()
	mux.HandleFunc("/.well-known/oauth-protected-resource/mcp", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, map[string]any{"resource": f.srv.URL + "/mcp", "authorization_servers": []string{f.srv.URL}, "scopes_supported": []string{"read"}})
	})
	mux.HandleFunc("/.well-known/oauth-authorization-server", func(w http.ResponseWriter, r *http.Request) {
		f.mu.Lock()
		methods := f.methods
		f.mu.Unlock()
		if methods == nil {
			methods = []string{"S256"}
		}
		writeJSON(w, map[string]any{
			"issuer": f.srv.URL, "authorization_endpoint": f.srv.URL + "/authorize", "token_endpoint": f.srv.URL + "/token",
			"registration_endpoint": f.srv.URL + "/register", "revocation_endpoint": f.srv.URL + "/revoke",
			"response_types_supported": []string{"code"}, "code_challenge_methods_supported": methods,
			"authorization_response_iss_parameter_supported": true,
		})
	})
	mux.HandleFunc("/register", func(w http.ResponseWriter, r *http.Request) {
		var meta map[string]any
		_ = json.NewDecoder(r.Body).Decode(&meta)
		f.mu.Lock()
		f.registerMeta = meta
		f.mu.Unlock()
		w.WriteHeader(http.StatusCreated)
		writeJSON(w, map[string]any{"client_id": "client-1", "redirect_uris": meta["redirect_uris"], "token_endpoint_auth_method": "none"})
	})
	mux.HandleFunc("/authorize", f.authorize)
	mux.HandleFunc("/token", f.token)
	mux.HandleFunc("/revoke", func(w http.ResponseWriter, r *http.Request) {
		_ = r.ParseForm()
		f.mu.Lock()
		delete(f.refresh, r.Form.Get("token"))
		delete(f.access, r.Form.Get("token"))
		f.mu.Unlock()
	})
	mux.HandleFunc("/mcp", f.resource)
	f.srv = httptest.NewServer(mux)
	t.Cleanup(f.srv.Close)
	return f
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(v)
}

func (f *fakeAS) authorize(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	f.mu.Lock()
	f.n++
	code := fmt.Sprintf("code-%d", f.n)
	f.codes[code] = authCode{q.Get("code_challenge"), q.Get("redirect_uri"), q.Get("resource"), strings.Fields(q.Get("scope"))}
	f.resources = append(f.resources, "authorize:"+q.Get("resource"))
	f.mu.Unlock()
	if q.Get("code_challenge_method") != "S256" {
		http.Error(w, "S256 only", http.StatusBadRequest)
		return
	}
	back, _ := url.Parse(q.Get("redirect_uri"))
	v := back.Query()
	v.Set("code", code)
	v.Set("state", q.Get("state"))
	v.Set("iss", f.srv.URL)
	back.RawQuery = v.Encode()
	http.Redirect(w, r, back.String(), http.StatusFound)
}

func (f *fakeAS) token(w http.ResponseWriter, r *http.Request) {
	_ = r.ParseForm()
	f.mu.Lock()
	defer f.mu.Unlock()
	f.resources = append(f.resources, r.Form.Get("grant_type")+":"+r.Form.Get("resource"))
	fail := func(code string) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusBadRequest)
		_ = json.NewEncoder(w).Encode(map[string]string{"error": code})
	}
	var scopes []string
	switch r.Form.Get("grant_type") {
	case "authorization_code":
		c, ok := f.codes[r.Form.Get("code")]
		delete(f.codes, r.Form.Get("code"))
		sum := sha256.Sum256([]byte(r.Form.Get("code_verifier")))
		if !ok || base64.RawURLEncoding.EncodeToString(sum[:]) != c.challenge || r.Form.Get("redirect_uri") != c.redirect {
			fail("invalid_grant")
			return
		}
		f.logins++
		scopes = slices.DeleteFunc(slices.Clone(c.scopes), func(s string) bool { return s == "never-granted" })
	case "refresh_token":
		if f.down {
			http.Error(w, "down for maintenance", http.StatusServiceUnavailable)
			return
		}
		rt := r.Form.Get("refresh_token")
		s, ok := f.refresh[rt]
		if f.refuse || !ok {
			fail("invalid_grant")
			return
		}
		f.refreshes++
		scopes = s
		if f.rotate {
			delete(f.refresh, rt)
		}
	default:
		fail("unsupported_grant_type")
		return
	}
	f.n++
	at := fmt.Sprintf("access-token-%d-secretbytes", f.n)
	f.access[at] = scopes
	resp := map[string]any{"access_token": at, "token_type": "Bearer", "scope": strings.Join(scopes, " ")}
	if f.expiresIn > 0 {
		resp["expires_in"] = f.expiresIn
	}
	if r.Form.Get("grant_type") == "authorization_code" || f.rotate {
		rt := fmt.Sprintf("refresh-token-%d-secretbytes", f.n)
		f.refresh[rt] = scopes
		resp["refresh_token"] = rt
	}
	writeJSON(w, resp)
}

func (f *fakeAS) resource(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls++
	auth := r.Header.Get("Authorization")
	f.sentTokens = append(f.sentTokens, auth)
	scopes, ok := f.access[strings.TrimPrefix(auth, "Bearer ")]
	if !ok {
		w.Header().Set("WWW-Authenticate", fmt.Sprintf(`Bearer resource_metadata="%s/.well-known/oauth-protected-resource/mcp"`, f.srv.URL))
		w.WriteHeader(http.StatusUnauthorized)
		return
	}
	if f.needScope != "" && !contains(scopes, f.needScope) {
		w.Header().Set("WWW-Authenticate", fmt.Sprintf(`Bearer error="insufficient_scope", scope="%s"`, f.needScope))
		w.WriteHeader(http.StatusForbidden)
		return
	}
	fmt.Fprint(w, "ok")
}

func contains(ss []string, s string) bool {
	for _, x := range ss {
		if x == s {
			return true
		}
	}
	return false
}

// expireAll forgets every access token, as a server whose tokens expired.
func (f *fakeAS) expireAll() {
	f.mu.Lock()
	f.access = map[string][]string{}
	f.mu.Unlock()
}

func (f *fakeAS) set(change func(f *fakeAS)) {
	f.mu.Lock()
	change(f)
	f.mu.Unlock()
}

func (f *fakeAS) count() (logins, refreshes, calls int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.logins, f.refreshes, f.calls
}

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
func testKey() *Key32 { return &Key32{Bytes: sha256.Sum256([]byte("test")), Source: "test"} }

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
func (f *fakeAS) server() *registry.Server {
	return &registry.Server{Name: "fake", URL: f.srv.URL + "/mcp"}
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
