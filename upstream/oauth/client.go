package oauth

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/mcpmux/mcpmux/registry"
)

// Errors of the flow.
var (
	// ErrOff: the server's "oauth" is false.
	ErrOff = errors.New(`OAuth is off for this server ("oauth": false)`)
	// ErrTooManyTries: the server challenged again after three logins or
	// refreshes for one request.
	ErrTooManyTries = errors.New("the server still refuses the token after 3 tries")
)

// refreshAhead is how long before its expiry a token is refreshed, and
// retryRefresh how long after a refresh that failed for a passing reason
// the next is tried ahead of the expiry.
const (
	refreshAhead = time.Minute
	retryRefresh = 15 * time.Second
)

// NeedsLoginError says that an upstream has no usable token and that no
// one is there to log in: a person must run the command, or open URL.
type NeedsLoginError struct {
	Server string
	Reason string
	// URL, if set, is the authorization URL of a login under way in this
	// process (serve's own): opening it completes that login.
	URL string
}

func (e *NeedsLoginError) Error() string {
	return fmt.Sprintf("upstream %q needs a login (%s): run `mcpmux login %s`", e.Server, e.Reason, e.Server)
}

// PendingURL is the authorization URL of a login of c's that waits for
// its redirect, or "".
func (c *Client) PendingURL() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.pending
}

func (c *Client) setPending(u string) {
	c.mu.Lock()
	c.pending = u
	c.mu.Unlock()
}

// Command is what a person runs to log in.
func (e *NeedsLoginError) Command() string { return "mcpmux login " + e.Server }

// Client is the OAuth client of one upstream. Its methods are safe for
// concurrent use.
type Client struct {
	m        *Manager
	server   string
	resource string // the server's URL: the key of its records
	cfg      registry.OAuth

	flight sync.Mutex // one login or refresh at a time

	mu       sync.Mutex
	rec      *Record   // the last read or written; nil: none
	granted  []string  // scopes held, for step-up
	failing  error     // the last refresh's transient failure
	failedAt time.Time // when
	opened   time.Time // when the browser was last opened unasked
	pending  string    // the authorization URL of a login waiting for its redirect
	waiting  bool      // a request failed for want of a login; Watch looks for one
}

// Status is what status output shows of an upstream's login. It never
// holds a token.
type Status struct {
	// State is "logged in", "needs login" or "refresh failing".
	State      string    `json:"state"`
	Expiry     time.Time `json:"expiry,omitzero"`
	HasRefresh bool      `json:"refreshToken,omitempty"`
	Reason     string    `json:"reason,omitempty"`
	Command    string    `json:"command,omitempty"`
	Issuer     string    `json:"issuer,omitempty"`
}

func (c *Client) now() time.Time { return c.m.now() }

// record returns the record held, reading it from the store if none is.
func (c *Client) record() *Record {
	c.mu.Lock()
	r := c.rec
	c.mu.Unlock()
	if r != nil {
		return r
	}
	return c.reload()
}

// reload reads the record from the store again (another process may have
// logged in or refreshed).
func (c *Client) reload() *Record {
	if c.m.Store == nil {
		return nil
	}
	r, err := c.m.Store.Load(c.resource, c.server)
	if err != nil {
		c.m.logger().Warn("reading tokens", "upstream", c.server, "err", err)
		return nil
	}
	c.m.secrets(r)
	c.mu.Lock()
	c.rec = r
	if r != nil && len(c.granted) == 0 {
		c.granted = r.Scopes
	}
	c.mu.Unlock()
	return r
}

// Status says whether the upstream is logged in.
func (c *Client) Status() Status {
	r := c.reload()
	c.mu.Lock()
	failing := c.failing
	c.mu.Unlock()
	cmd := "mcpmux login " + c.server
	switch {
	case r == nil:
		return Status{State: "needs login", Reason: "not logged in", Command: cmd}
	case r.AccessToken == "" || (r.RefreshToken == "" && !r.Expiry.IsZero() && !c.now().Before(r.Expiry)):
		reason := r.Problem
		if reason == "" {
			reason = "the token expired and there is no refresh token"
		}
		return Status{State: "needs login", Reason: reason, Command: cmd, Issuer: r.Issuer}
	case failing != nil || r.Failing != "":
		reason := r.Failing
		if failing != nil {
			reason = failing.Error()
		}
		return Status{State: "refresh failing", Reason: reason, Expiry: r.Expiry, HasRefresh: r.RefreshToken != "", Issuer: r.Issuer}
	}
	return Status{State: "logged in", Expiry: r.Expiry, HasRefresh: r.RefreshToken != "", Issuer: r.Issuer}
}

// Known returns Status if the upstream has a record or waits for a login,
// and nil if it never asked for one.
func (c *Client) Known() *Status {
	st := c.Status()
	c.mu.Lock()
	known := c.rec != nil || c.waiting
	c.mu.Unlock()
	if !known {
		return nil
	}
	return &st
}

// token returns the access token to send, refreshing it first if it
// expires within refreshAhead. No token: "".
func (c *Client) token(ctx context.Context) string {
	r := c.record()
	if r == nil || r.AccessToken == "" {
		return ""
	}
	if r.Expiry.IsZero() || c.now().Add(refreshAhead).Before(r.Expiry) || r.RefreshToken == "" {
		return r.AccessToken
	}
	c.mu.Lock()
	wait := c.failing != nil && c.now().Sub(c.failedAt) < retryRefresh && c.now().Before(r.Expiry)
	c.mu.Unlock()
	if wait {
		return r.AccessToken // still good: no request waits for a token endpoint that just failed
	}
	if r2, err := c.refresh(ctx, r.AccessToken); err == nil {
		return r2.AccessToken
	}
	// A transient failure keeps the token, which may still be good; a
	// refused refresh dropped it.
	if r := c.record(); r != nil {
		return r.AccessToken
	}
	return ""
}

// refresh spends the refresh token, under the store's lock, unless another
// process has already replaced the token used.
func (c *Client) refresh(ctx context.Context, used string) (*Record, error) {
	c.flight.Lock()
	defer c.flight.Unlock()
	unlock, err := c.m.Store.Lock(ctx, c.resource, c.server)
	if err != nil {
		return nil, err
	}
	defer unlock()
	r := c.reload()
	switch {
	case r == nil || r.AccessToken == "":
		return nil, c.needsLogin(r, "not logged in")
	case r.AccessToken != used && (r.Expiry.IsZero() || c.now().Add(refreshAhead).Before(r.Expiry)):
		return r, nil // refreshed meanwhile, here or by another process
	case r.RefreshToken == "":
		return nil, c.needsLogin(r, "the token expired and there is no refresh token")
	}
	form := url.Values{"grant_type": {"refresh_token"}, "refresh_token": {r.RefreshToken}}
	if ind := r.indicator(); ind != "" {
		form.Set("resource", ind)
	}
	t, expiry, err := tokenRequest(ctx, c.m.httpClient(), r.TokenEndpoint, form, client{r.ClientID, r.ClientSecret, r.AuthMethod}, c.now())
	var te *TokenError
	switch {
	case errors.As(err, &te) && (te.Code == "invalid_grant" || te.Code == "invalid_client" || te.Code == "unauthorized_client"):
		n := *r
		n.AccessToken, n.RefreshToken, n.Expiry = "", "", time.Time{}
		n.Problem = "the authorization server refused the refresh token (" + te.Code + ")"
		if err := c.m.Store.Save(&n); err != nil {
			return nil, err
		}
		c.setRecord(&n, nil)
		c.m.logger().Warn("refresh refused; login needed", "upstream", c.server, "err", te)
		return nil, c.needsLogin(&n, n.Problem)
	case err != nil:
		n := *r
		n.Failing = err.Error()
		if serr := c.m.Store.Save(&n); serr == nil {
			r = &n
		}
		c.setRecord(r, err)
		c.mu.Lock()
		c.failedAt = c.now()
		c.mu.Unlock()
		c.m.logger().Warn("refreshing token", "upstream", c.server, "err", err)
		return nil, fmt.Errorf("refreshing the token of %q: %w", c.server, err)
	}
	n := *r
	n.AccessToken, n.Expiry, n.Problem, n.Failing = t.AccessToken, expiry, "", ""
	if t.RefreshToken != "" {
		n.RefreshToken = t.RefreshToken // rotated
	}
	if t.Scope != "" {
		n.Scopes = splitScopes(t.Scope)
	}
	if err := c.m.Store.Save(&n); err != nil {
		return nil, err
	}
	c.setRecord(&n, nil)
	c.m.logger().Debug("token refreshed", "upstream", c.server, "expiry", n.Expiry)
	return &n, nil
}

func (c *Client) setRecord(r *Record, failing error) {
	c.m.secrets(r)
	c.mu.Lock()
	c.rec, c.failing = r, failing
	c.mu.Unlock()
}

func (c *Client) needsLogin(r *Record, reason string) error {
	if r != nil && r.Problem != "" {
		reason = r.Problem
	}
	return &NeedsLoginError{Server: c.server, Reason: reason}
}

// indicator is the resource parameter of r's requests.
func (r *Record) indicator() string {
	if r.ResourceIndicator != "" {
		return r.ResourceIndicator
	}
	return r.Resource
}

// challenged answers a 401 or 403 to a request that carried used ("" for
// none): nil means the request may be sent again.
func (c *Client) challenged(ctx context.Context, resp *http.Response, used string) error {
	ch := parseChallenge(resp.Header)
	if resp.StatusCode == http.StatusUnauthorized {
		// Another process may have logged in or refreshed meanwhile.
		if r := c.reload(); r != nil && r.AccessToken != "" && r.AccessToken != used {
			return nil
		}
		if r := c.record(); used != "" && r != nil && r.RefreshToken != "" {
			_, err := c.refresh(ctx, used)
			var nl *NeedsLoginError
			if err == nil || !errors.As(err, &nl) {
				return err
			}
		}
		return c.login(ctx, ch, "the server asks for a login")
	}
	// 403 insufficient_scope: step up to the union of the scopes.
	c.mu.Lock()
	want := union(c.granted, ch.scopes)
	c.mu.Unlock()
	ch.scopes = want
	return c.login(ctx, ch, "the server asks for more scopes ("+joinScopes(ch.scopes)+")")
}

// login runs the flow if a person is there, and fails with
// NeedsLoginError otherwise.
func (c *Client) login(ctx context.Context, ch challenge, reason string) error {
	if c.m.Browser == nil || !c.m.Interactive {
		c.mu.Lock()
		c.waiting = true
		c.mu.Unlock()
		c.openUnasked(ch)
		return c.needsLogin(nil, reason)
	}
	// A person may take longer than the request may wait: the login runs
	// on (under the manager's life) and the request's retry, or the next
	// request, finds the token.
	before := c.currentToken()
	done := make(chan error, 1)
	if !c.m.runLogin(c, ch, before, done) {
		return c.loginOnce(ctx, ch, before)
	}
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// currentToken is the access token held, or "".
func (c *Client) currentToken() string {
	if r := c.record(); r != nil {
		return r.AccessToken
	}
	return ""
}

// openUnasked starts a login in the background, at most once every
// AutoLoginEvery, if the manager may open a browser unasked (serve).
func (c *Client) openUnasked(ch challenge) {
	if c.m.Browser == nil || c.m.AutoLoginEvery <= 0 || c.m.life == nil {
		return
	}
	c.mu.Lock()
	if !c.opened.IsZero() && c.now().Sub(c.opened) < c.m.AutoLoginEvery {
		c.mu.Unlock()
		return
	}
	c.opened = c.now()
	c.mu.Unlock()
	c.m.goLogin(c, ch)
}

// Login runs the authorization code flow now (mcpmux login).
func (c *Client) Login(ctx context.Context) error {
	return c.loginOnce(ctx, c.probe(ctx), "\x00")
}

// probe asks the server, without a token, for its challenge: the resource
// metadata's URL and the scopes it names. None: an empty challenge, and
// discovery tries the well-known URLs.
func (c *Client) probe(ctx context.Context) challenge {
	body := `{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"mcpmux","version":"login"}}}`
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.resource, strings.NewReader(body))
	if err != nil {
		return challenge{}
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json, text/event-stream")
	resp, err := c.m.httpClient().Do(req)
	if err != nil {
		return challenge{}
	}
	defer drain(resp)
	if resp.StatusCode == http.StatusUnauthorized || resp.StatusCode == http.StatusForbidden {
		return parseChallenge(resp.Header)
	}
	return challenge{}
}

// loginOnce runs the flow unless another login replaced the token held
// before (before; "\x00" runs it in any case).
func (c *Client) loginOnce(ctx context.Context, ch challenge, before string) error {
	if c.m.Browser == nil {
		return c.needsLogin(nil, "no browser")
	}
	c.flight.Lock()
	defer c.flight.Unlock()
	if before != "\x00" {
		if now := c.currentToken(); now != "" && now != before {
			return nil
		}
	}
	r, err := c.m.authorize(ctx, c, ch)
	if err != nil {
		return fmt.Errorf("logging in to %q: %w", c.server, err)
	}
	if err := c.m.Store.Save(r); err != nil {
		return err
	}
	c.m.secrets(r)
	c.mu.Lock()
	c.rec, c.failing, c.granted, c.waiting = r, nil, r.Scopes, false
	c.mu.Unlock()
	c.m.logger().Info("logged in", "upstream", c.server, "issuer", r.Issuer)
	if c.m.OnLogin != nil {
		c.m.OnLogin(c.server)
	}
	return nil
}

// Logout forgets the tokens, revoking them first where the server offers
// revocation (RFC 7009).
func (c *Client) Logout(ctx context.Context) (revoked bool, err error) {
	r := c.reload()
	if r != nil && r.RevocationEndpoint != "" {
		revoked = c.m.revoke(ctx, r)
	}
	c.setRecord(nil, nil)
	return revoked, c.m.Store.Delete(c.resource, c.server)
}

func union(a, b []string) []string {
	out := slices.Clone(a)
	for _, s := range b {
		if !slices.Contains(out, s) {
			out = append(out, s)
		}
	}
	return out
}

// hasBearer reports whether the response carries a Bearer challenge.
func hasBearer(h http.Header) bool { return parseChallenge(h).bearer }
