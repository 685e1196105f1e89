package oauth

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/modelcontextprotocol/go-sdk/auth"
	"github.com/modelcontextprotocol/go-sdk/oauthex"
)

// challenge is what a 401 or 403 said in WWW-Authenticate.
type challenge struct {
	bearer           bool
	err              string // "invalid_token", "insufficient_scope", ...
	scopes           []string
	resourceMetadata string
}

// parseChallenge reads the Bearer challenge of resp.
func parseChallenge(h http.Header) challenge {
	cs, _ := oauthex.ParseWWWAuthenticate(h.Values("WWW-Authenticate"))
	var c challenge
	for _, ch := range cs {
		if ch.Scheme != "bearer" {
			continue
		}
		c.bearer = true
		c.err = ch.Params["error"]
		if s := ch.Params["scope"]; s != "" {
			c.scopes = strings.Fields(s)
		}
		c.resourceMetadata = ch.Params["resource_metadata"]
		break
	}
	return c
}

// discovery is what a login learns about the resource and its
// authorization server.
type discovery struct {
	resource string // the resource indicator (RFC 8707): the PRM's resource
	scopes   []string
	asm      *oauthex.AuthServerMeta
}

// discover finds the resource's metadata (RFC 9728) and its authorization
// server's (RFC 8414 / OIDC), from the challenge's resource_metadata, else
// the path-based well-known URL, then the root one. A server without
// resource metadata is taken, as 2025-03-26 did, for its own
// authorization server.
func discover(ctx context.Context, hc *http.Client, serverURL string, ch challenge) (*discovery, error) {
	prm, err := resourceMetadata(ctx, hc, serverURL, ch.resourceMetadata)
	if err != nil {
		return nil, err
	}
	issuer := prm.AuthorizationServers[0]
	asm, err := auth.GetAuthServerMetadata(ctx, issuer, hc)
	if err != nil {
		return nil, fmt.Errorf("reading the authorization server's metadata (%s): %w", issuer, err)
	}
	if asm == nil {
		// 2025-03-26: no metadata, the default endpoints. No PKCE support is
		// advertised, and none can be: mcpmux still sends S256.
		base := strings.TrimSuffix(issuer, "/")
		asm = &oauthex.AuthServerMeta{
			Issuer:                        issuer,
			AuthorizationEndpoint:         base + "/authorize",
			TokenEndpoint:                 base + "/token",
			RegistrationEndpoint:          base + "/register",
			CodeChallengeMethodsSupported: []string{"S256"},
		}
	}
	if !slices.Contains(asm.CodeChallengeMethodsSupported, "S256") {
		return nil, fmt.Errorf("the authorization server %s does not support PKCE with S256, which MCP requires; mcpmux will not log in to it", asm.Issuer)
	}
	if asm.AuthorizationEndpoint == "" || asm.TokenEndpoint == "" {
		return nil, fmt.Errorf("the authorization server %s names no authorization or token endpoint", asm.Issuer)
	}
	return &discovery{resource: prm.Resource, scopes: prm.ScopesSupported, asm: asm}, nil
}

// resourceMetadata fetches the Protected Resource Metadata of serverURL.
func resourceMetadata(ctx context.Context, hc *http.Client, serverURL, fromChallenge string) (*oauthex.ProtectedResourceMetadata, error) {
	u, err := url.Parse(serverURL)
	if err != nil {
		return nil, fmt.Errorf("parsing the server's URL: %w", err)
	}
	type try struct{ url, resource string }
	var tries []try
	if fromChallenge != "" {
		tries = append(tries, try{fromChallenge, serverURL})
	}
	pathBased := *u
	pathBased.RawQuery, pathBased.Fragment = "", ""
	pathBased.Path = "/.well-known/oauth-protected-resource/" + strings.TrimLeft(u.Path, "/")
	pathBased.RawPath = ""
	root := pathBased
	root.Path = "/.well-known/oauth-protected-resource"
	origin := url.URL{Scheme: u.Scheme, Host: u.Host}
	if strings.Trim(u.Path, "/") != "" {
		tries = append(tries, try{pathBased.String(), serverURL})
	}
	tries = append(tries, try{root.String(), origin.String()})
	var lastErr error
	for _, t := range tries {
		prm, err := oauthex.GetProtectedResourceMetadata(ctx, t.url, t.resource, hc)
		if err != nil || prm == nil {
			// The root document may name the server's URL rather than its
			// origin.
			if t.resource != serverURL {
				if p2, err2 := oauthex.GetProtectedResourceMetadata(ctx, t.url, serverURL, hc); err2 == nil && p2 != nil {
					prm, err = p2, nil
				}
			}
		}
		if err != nil || prm == nil {
			lastErr = err
			continue
		}
		if len(prm.AuthorizationServers) == 0 {
			return nil, fmt.Errorf("the server's resource metadata (%s) names no authorization server", t.url)
		}
		return prm, nil
	}
	if fromChallenge != "" && lastErr != nil {
		return nil, fmt.Errorf("reading the server's resource metadata: %w", lastErr)
	}
	return &oauthex.ProtectedResourceMetadata{Resource: serverURL, AuthorizationServers: []string{origin.String()}}, nil
}
