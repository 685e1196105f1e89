package oauth

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/modelcontextprotocol/go-sdk/oauthex"

	"github.com/mcpmux/mcpmux/registry"
)

// Manager holds the OAuth clients of a running mcpmux, one per upstream.
// Its exported fields are set before first use and never change.
type Manager struct {
	// Store keeps the tokens. Nil: nothing is kept, and every challenge
	// needs a login.
	Store Store
	// Browser takes a person through a login. Nil: no login can run here;
	// a challenge fails with a NeedsLoginError.
	Browser Browser
	// Interactive: a person is there, so a challenge runs the login at
	// once (mcpmux call, tools, doctor on a terminal). Otherwise (serve)
	// a challenge fails with a NeedsLoginError, and the login is started
	// in the background at most once every AutoLoginEvery.
	Interactive bool
	// AutoLoginEvery spaces the logins serve starts by itself; zero means
	// never (see Start).
	AutoLoginEvery time.Duration
	// OnLogin is called when an upstream that waited for a login has one:
	// made here, or found in the store (see Start). Nil ignores.
	OnLogin func(server string)
	// OnSecrets is given every token and client secret read or received,
	// for the masker of every log line and error. Nil ignores.
	OnSecrets func(secrets []string)
	// HTTPClient makes the discovery, registration, token and revocation
	// requests: never the upstream's own client, which carries its
	// headers. Nil means a client of its own.
	HTTPClient *http.Client
	// Logger receives the flow's log lines; nil discards them.
	Logger *slog.Logger
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// ClientName is sent in Dynamic Client Registration; empty means
	// "mcpmux".
	ClientName string

	mu      sync.Mutex
	clients map[string]*Client
	life    context.Context // of background logins; set by Start, ended by its stop
	wg      sync.WaitGroup
}

func (m *Manager) now() time.Time {
	if m.Now != nil {
		return m.Now()
	}
	return time.Now()
}

// secrets hands r's secrets to OnSecrets.
func (m *Manager) secrets(r *Record) {
	if r == nil || m.OnSecrets == nil {
		return
	}
	var out []string
	for _, v := range []string{r.AccessToken, r.RefreshToken, r.ClientSecret} {
		if v != "" {
			out = append(out, v)
		}
	}
	if len(out) > 0 {
		m.OnSecrets(out)
	}
}

func (m *Manager) logger() *slog.Logger {
	if m.Logger == nil {
		return slog.New(slog.DiscardHandler)
	}
	return m.Logger
}

var defaultHTTP = &http.Client{Timeout: 30 * time.Second}

func (m *Manager) httpClient() *http.Client {
	if m.HTTPClient != nil {
		return m.HTTPClient
	}
	return defaultHTTP
}

// Client returns the client of srv, the same for the same name and URL.
// It returns nil if OAuth is off for srv, or m is nil.
func (m *Manager) Client(srv *registry.Server) *Client {
	if m == nil || srv.OAuth.Off || srv.URL == "" {
		return nil
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if c := m.clients[srv.Name]; c != nil && c.resource == srv.URL && equalCfg(c.cfg, srv.OAuth) {
		return c
	}
	if m.clients == nil {
		m.clients = make(map[string]*Client)
	}
	c := &Client{m: m, server: srv.Name, resource: srv.URL, cfg: srv.OAuth}
	m.clients[srv.Name] = c
	return c
}

func equalCfg(a, b registry.OAuth) bool {
	return a.ClientID == b.ClientID && a.ClientSecret == b.ClientSecret && a.ClientMetadataURL == b.ClientMetadataURL &&
		slices.Equal(a.Scopes, b.Scopes) && a.CallbackPort == b.CallbackPort && a.Off == b.Off
}

// Start lets m run logins in the background (see AutoLoginEvery), and
// watches the store for the logins of the upstreams that wait for one,
// made here or by another process (mcpmux login): OnLogin hears of each.
// It runs until the returned stop is called, which waits for it all.
func (m *Manager) Start(ctx context.Context) (stop func()) {
	ctx, cancel := context.WithCancel(ctx)
	m.mu.Lock()
	m.life = ctx
	m.mu.Unlock()
	m.wg.Add(1)
	go func() {
		defer m.wg.Done()
		m.watch(ctx)
	}()
	return func() { cancel(); m.wg.Wait() }
}

// WatchEvery is how often Start's watch reads the store for logins.
var WatchEvery = 2 * time.Second

// watch tells OnLogin of the upstreams waiting for a login whose record
// now holds a token.
func (m *Manager) watch(ctx context.Context) {
	t := time.NewTicker(WatchEvery)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		for _, c := range m.waitingClients() {
			if r := c.reload(); r != nil && r.AccessToken != "" {
				c.mu.Lock()
				c.waiting = false
				c.mu.Unlock()
				m.logger().Info("login found; connecting", "upstream", c.server)
				if m.OnLogin != nil {
					m.OnLogin(c.server)
				}
			}
		}
	}
}

func (m *Manager) waitingClients() []*Client {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []*Client
	for _, c := range m.clients {
		c.mu.Lock()
		if c.waiting {
			out = append(out, c)
		}
		c.mu.Unlock()
	}
	return out
}

// loginTimeout bounds a login serve started by itself.
const loginTimeout = 10 * time.Minute

// goLogin runs c's login on a goroutine of m's.
func (m *Manager) goLogin(c *Client, ch challenge) {
	m.runLogin(c, ch, "\x00", nil)
}

// runLogin runs c's login on a goroutine of m's, within loginTimeout, and
// sends its outcome on done (if not nil). It reports false if m is not
// started (see Start).
func (m *Manager) runLogin(c *Client, ch challenge, before string, done chan<- error) bool {
	m.mu.Lock()
	life := m.life
	m.mu.Unlock()
	if life == nil || life.Err() != nil {
		return false
	}
	m.wg.Add(1)
	go func() {
		defer m.wg.Done()
		ctx, cancel := context.WithTimeout(life, loginTimeout)
		defer cancel()
		err := c.loginOnce(ctx, ch, before)
		if err != nil && life.Err() == nil && done == nil {
			m.logger().Warn("login started by mcpmux failed", "upstream", c.server, "err", err)
		}
		if done != nil {
			done <- err
		}
	}()
	return true
}

// registered is the client the flow authenticates as.
type registered struct {
	id, secret, method string
}

// authorize runs the authorization code flow with PKCE for c and returns
// the record of its tokens.
func (m *Manager) authorize(ctx context.Context, c *Client, ch challenge) (*Record, error) {
	hc := m.httpClient()
	d, err := discover(ctx, hc, c.resource, ch)
	if err != nil {
		return nil, err
	}
	scopes := ch.scopes
	switch {
	case len(scopes) > 0:
	case len(c.cfg.Scopes) > 0:
		scopes = c.cfg.Scopes
	default:
		scopes = d.scopes
	}
	if slices.Contains(d.asm.ScopesSupported, "offline_access") && !slices.Contains(scopes, "offline_access") {
		scopes = append(slices.Clone(scopes), "offline_access")
	}
	cb, err := m.Browser.Listen(ctx, c.server, c.cfg.CallbackPort)
	if err != nil {
		return nil, err
	}
	defer cb.Close()
	reg, err := m.register(ctx, c, d.asm, cb.RedirectURI())
	if err != nil {
		return nil, err
	}
	verifier := rand.Text() + rand.Text()
	sum := sha256.Sum256([]byte(verifier))
	state := rand.Text()
	q := url.Values{
		"response_type":         {"code"},
		"client_id":             {reg.id},
		"redirect_uri":          {cb.RedirectURI()},
		"state":                 {state},
		"code_challenge":        {base64.RawURLEncoding.EncodeToString(sum[:])},
		"code_challenge_method": {"S256"},
		"resource":              {d.resource},
	}
	if len(scopes) > 0 {
		q.Set("scope", joinScopes(scopes))
	}
	authURL, err := withQuery(d.asm.AuthorizationEndpoint, q)
	if err != nil {
		return nil, err
	}
	c.setPending(authURL)
	got, err := cb.Await(ctx, authURL)
	c.setPending("")
	if err != nil {
		return nil, err
	}
	if e := got.Get("error"); e != "" {
		return nil, fmt.Errorf("the authorization server refused: %s %s", e, got.Get("error_description"))
	}
	if got.Get("state") != state {
		return nil, errors.New("the redirect's state does not match the login's: refusing it")
	}
	if err := checkIss(got, d.asm); err != nil {
		return nil, err
	}
	if got.Get("code") == "" {
		return nil, errors.New("the redirect carries no authorization code")
	}
	form := url.Values{
		"grant_type":    {"authorization_code"},
		"code":          {got.Get("code")},
		"redirect_uri":  {cb.RedirectURI()},
		"code_verifier": {verifier},
		"resource":      {d.resource},
	}
	t, expiry, err := tokenRequest(ctx, hc, d.asm.TokenEndpoint, form, client{reg.id, reg.secret, reg.method}, m.now())
	if err != nil {
		return nil, fmt.Errorf("exchanging the authorization code: %w", err)
	}
	granted := scopes
	if t.Scope != "" {
		granted = splitScopes(t.Scope)
	}
	return &Record{
		Resource: c.resource, Issuer: d.asm.Issuer, Account: c.server, ResourceIndicator: d.resource,
		AccessToken: t.AccessToken, RefreshToken: t.RefreshToken, Expiry: expiry, Scopes: granted,
		TokenEndpoint: d.asm.TokenEndpoint, RevocationEndpoint: d.asm.RevocationEndpoint,
		ClientID: reg.id, ClientSecret: reg.secret, AuthMethod: reg.method,
	}, nil
}

// checkIss is RFC 9207's check: where the server advertises the iss
// parameter it must be there and name the issuer; where it does not, an
// iss that is there must name it all the same.
func checkIss(got url.Values, asm *oauthex.AuthServerMeta) error {
	iss, present := got.Get("iss"), got.Has("iss")
	switch {
	case asm.AuthorizationResponseIssParameterSupported && !present:
		return fmt.Errorf("the authorization server %s promises an iss parameter (RFC 9207), and the redirect has none: refusing it", asm.Issuer)
	case present && iss != asm.Issuer:
		return fmt.Errorf("the redirect's issuer %q is not the authorization server's (%s): refusing it (RFC 9207)", iss, asm.Issuer)
	}
	return nil
}

// register picks the client: registered in advance (clientId), else a
// Client ID Metadata Document where the server accepts one, else Dynamic
// Client Registration.
func (m *Manager) register(ctx context.Context, c *Client, asm *oauthex.AuthServerMeta, redirect string) (*registered, error) {
	if c.cfg.ClientID != "" {
		return &registered{c.cfg.ClientID, c.cfg.ClientSecret, authMethod(asm.TokenEndpointAuthMethodsSupported, c.cfg.ClientSecret != "")}, nil
	}
	if c.cfg.ClientMetadataURL != "" && asm.ClientIDMetadataDocumentSupported {
		return &registered{id: c.cfg.ClientMetadataURL, method: "none"}, nil
	}
	if asm.RegistrationEndpoint == "" {
		return nil, fmt.Errorf(`the authorization server %s offers no client registration: register mcpmux there and set "oauth": {"clientId": ...}`, asm.Issuer)
	}
	name := m.ClientName
	if name == "" {
		name = "mcpmux"
	}
	meta := &oauthex.ClientRegistrationMetadata{
		RedirectURIs:            []string{redirect},
		TokenEndpointAuthMethod: "none",
		GrantTypes:              []string{"authorization_code", "refresh_token"},
		ResponseTypes:           []string{"code"},
		ClientName:              name,
		ApplicationType:         "native",
	}
	if len(c.cfg.Scopes) > 0 {
		meta.Scope = joinScopes(c.cfg.Scopes)
	}
	resp, err := oauthex.RegisterClient(ctx, asm.RegistrationEndpoint, meta, m.httpClient())
	if err != nil {
		return nil, fmt.Errorf("registering mcpmux with %s: %w", asm.Issuer, err)
	}
	method := resp.TokenEndpointAuthMethod
	if method == "" {
		method = "client_secret_basic"
		if resp.ClientSecret == "" {
			method = "none"
		}
	}
	return &registered{resp.ClientID, resp.ClientSecret, method}, nil
}

// authMethod picks how a pre-registered client authenticates.
func authMethod(supported []string, hasSecret bool) string {
	if !hasSecret {
		return "none"
	}
	for _, m := range []string{"client_secret_basic", "client_secret_post"} {
		if slices.Contains(supported, m) {
			return m
		}
	}
	return "client_secret_basic"
}

// revoke asks the server to revoke r's tokens (RFC 7009), refresh token
// first; it reports whether the server accepted.
func (m *Manager) revoke(ctx context.Context, r *Record) bool {
	ok := false
	for _, tok := range []struct{ v, hint string }{{r.RefreshToken, "refresh_token"}, {r.AccessToken, "access_token"}} {
		if tok.v == "" {
			continue
		}
		form := url.Values{"token": {tok.v}, "token_type_hint": {tok.hint}}
		if err := postForm(ctx, m.httpClient(), r.RevocationEndpoint, form, client{r.ClientID, r.ClientSecret, r.AuthMethod}); err != nil {
			m.logger().Warn("revoking token", "issuer", r.Issuer, "err", err)
			continue
		}
		ok = true
	}
	return ok
}

func withQuery(endpoint string, q url.Values) (string, error) {
	u, err := url.Parse(endpoint)
	if err != nil {
		return "", fmt.Errorf("parsing the authorization endpoint: %w", err)
	}
	all := u.Query()
	for k, v := range q {
		all[k] = v
	}
	u.RawQuery = all.Encode()
	return u.String(), nil
}

func joinScopes(s []string) string { return strings.Join(s, " ") }

func splitScopes(s string) []string { return strings.Fields(s) }
