// Package oauthtest is an OAuth authorization server and the resource it
// protects, on 127.0.0.1, for tests of mcpmux's OAuth client: resource
// metadata (RFC 9728), server metadata (RFC 8414), Dynamic Client
// Registration, an authorization endpoint that redirects straight back
// (the person says yes), a token endpoint that issues, refreshes (rotating)
// and refuses a refresh token used twice, revocation, and the resource at
// /mcp, which wants a token and hands the request to a handler of the
// test's.
package oauthtest

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
)

// Server is the authorization server and its resource. Change its
// exported fields through Set.
type Server struct {
	srv       *httptest.Server
	protected http.Handler

	mu           sync.Mutex
	ExpiresIn    int      // of access tokens; 0 means none told
	Rotate       bool     // a refresh issues a new refresh token
	Refuse       bool     // every refresh gets invalid_grant
	Down         bool     // the token endpoint answers 503
	NeedScope    string   // /mcp wants this scope too
	Methods      []string // code_challenge_methods_supported; nil means S256
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

// New starts a Server whose /mcp, given a valid token, is served by
// protected (nil: "ok").
func New(t testing.TB, protected http.Handler) *Server {
	f := &Server{protected: protected, access: map[string][]string{}, refresh: map[string][]string{}, codes: map[string]authCode{}, ExpiresIn: 3600, Rotate: true}
	mux := http.NewServeMux()
	mux.HandleFunc("/.well-known/oauth-protected-resource/mcp", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, map[string]any{"resource": f.srv.URL + "/mcp", "authorization_servers": []string{f.srv.URL}, "scopes_supported": []string{"read"}})
	})
	mux.HandleFunc("/.well-known/oauth-authorization-server", func(w http.ResponseWriter, r *http.Request) {
		f.mu.Lock()
		methods := f.Methods
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

func (f *Server) authorize(w http.ResponseWriter, r *http.Request) {
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

func (f *Server) token(w http.ResponseWriter, r *http.Request) {
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
		if f.Down {
			http.Error(w, "down for maintenance", http.StatusServiceUnavailable)
			return
		}
		rt := r.Form.Get("refresh_token")
		s, ok := f.refresh[rt]
		if f.Refuse || !ok {
			fail("invalid_grant")
			return
		}
		f.refreshes++
		scopes = s
		if f.Rotate {
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
	if f.ExpiresIn > 0 {
		resp["expires_in"] = f.ExpiresIn
	}
	if r.Form.Get("grant_type") == "authorization_code" || f.Rotate {
		rt := fmt.Sprintf("refresh-token-%d-secretbytes", f.n)
		f.refresh[rt] = scopes
		resp["refresh_token"] = rt
	}
	writeJSON(w, resp)
}

func (f *Server) resource(w http.ResponseWriter, r *http.Request) {
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
	if f.NeedScope != "" && !contains(scopes, f.NeedScope) {
		w.Header().Set("WWW-Authenticate", fmt.Sprintf(`Bearer error="insufficient_scope", scope="%s"`, f.NeedScope))
		w.WriteHeader(http.StatusForbidden)
		return
	}
	if f.protected != nil {
		f.mu.Unlock()
		defer f.mu.Lock()
		f.protected.ServeHTTP(w, r)
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

// ExpireAll forgets every access token, as a server whose tokens expired.
func (f *Server) ExpireAll() {
	f.mu.Lock()
	f.access = map[string][]string{}
	f.mu.Unlock()
}

// Set changes f's settings.
func (f *Server) Set(change func(f *Server)) {
	f.mu.Lock()
	change(f)
	f.mu.Unlock()
}

// Count returns the logins (codes exchanged), refreshes and requests to
// /mcp so far.
func (f *Server) Count() (logins, refreshes, calls int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.logins, f.refreshes, f.calls
}

// URL is the server's base URL; the resource is URL()+"/mcp".
func (f *Server) URL() string { return f.srv.URL }

// Resources lists the resource parameter of every authorization and
// token request, as "authorize:R", "authorization_code:R",
// "refresh_token:R".
func (f *Server) Resources() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.resources)
}

// SentTokens lists the Authorization header of every request to /mcp.
func (f *Server) SentTokens() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.sentTokens)
}

// Registered is the metadata of the last Dynamic Client Registration.
func (f *Server) Registered() map[string]any {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.registerMeta
}

// LiveRefreshTokens counts the refresh tokens the server would take.
func (f *Server) LiveRefreshTokens() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.refresh)
}
