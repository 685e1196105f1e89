// Package oauth is mcpmux's OAuth client for remote upstreams: the MCP
// authorization flow (2025-06-18, 2025-11-25 and the 2026-07-28
// additions), done for a server that answers 401 with a Bearer challenge.
//
// A [Manager] holds one [Client] per upstream. Its [Transport] wraps an
// upstream's HTTP transport: it sends the held access token, refreshes it
// ahead of its expiry and once on a 401, and on a challenge it cannot
// answer with a refresh either runs the login (when a person is there to
// log in: [Manager.Login] set) or fails with a [*NeedsLoginError] that
// names the command to run.
//
// The login: Protected Resource Metadata (RFC 9728) from the challenge's
// resource_metadata, else the path-based then the root well-known URL;
// the authorization server's metadata (RFC 8414, then OpenID discovery, in
// the spec's order) with a matching issuer; PKCE S256 only; the resource
// indicator (RFC 8707) on the authorization, token and refresh requests;
// the challenge's scope, else scopes_supported, else none, and on a 403
// insufficient_scope the union of the scopes held and those asked for, at
// most three times; a client registered in advance, else a Client ID
// Metadata Document, else Dynamic Client Registration; the RFC 9207 iss
// check. The discovery pieces come from the go-sdk's oauthex and auth
// packages, which persist nothing; the token requests are this package's
// own, because golang.org/x/oauth2 cannot send resource on a refresh.
//
// Tokens live in a [Store]: [FileStore] keeps each record, keyed by
// (resource, issuer, account), AEAD-encrypted in a file of its own, with
// the key in the OS keychain, in MCPMUX_OAUTH_KEY, or in a 0600 key file
// ([OpenKey]). A refresh holds the record's file lock and reads the record
// again first, so that two mcpmux processes never spend one rotating
// refresh token twice.
package oauth
