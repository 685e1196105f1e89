package oauth

import (
	"context"
	"errors"
	"time"
)

// Record is what is kept of one login: the tokens and what is needed to
// refresh and revoke them. Its tokens and ClientSecret are secrets.
type Record struct {
	// Resource is the protected resource (the server's URL, canonical), the
	// one the tokens were issued for; Issuer is the authorization server
	// that issued them; Account is the mcpmux server name they belong to.
	Resource string `json:"resource"`
	Issuer   string `json:"issuer"`
	Account  string `json:"account"`
	// ResourceIndicator is the resource parameter (RFC 8707) of the token
	// requests: the resource metadata's resource; empty means Resource.
	ResourceIndicator string `json:"resource_indicator,omitempty"`

	AccessToken  string    `json:"access_token,omitempty"`
	RefreshToken string    `json:"refresh_token,omitempty"`
	Expiry       time.Time `json:"expiry,omitzero"` // zero: unknown
	Scopes       []string  `json:"scopes,omitempty"`

	TokenEndpoint      string `json:"token_endpoint,omitempty"`
	RevocationEndpoint string `json:"revocation_endpoint,omitempty"`
	ClientID           string `json:"client_id,omitempty"`
	ClientSecret       string `json:"client_secret,omitempty"`
	// AuthMethod is how the client authenticates at the token endpoint:
	// "client_secret_basic", "client_secret_post" or "none".
	AuthMethod string `json:"auth_method,omitempty"`

	// Problem, if set, says why the tokens were dropped (a refresh that
	// the server refused): the upstream needs a login.
	Problem string `json:"problem,omitempty"`
	// Failing, if set, is why the last refresh failed for a reason that
	// may pass (the network, a 5xx): the tokens are kept.
	Failing string `json:"failing,omitempty"`
	// Saved is when the record was written.
	Saved time.Time `json:"saved,omitzero"`
}

// Key identifies a record.
type Key struct{ Resource, Issuer, Account string }

// Key returns r's key.
func (r *Record) Key() Key { return Key{r.Resource, r.Issuer, r.Account} }

// Store keeps records. Its methods are safe for concurrent use, by several
// processes too.
type Store interface {
	// Load returns the newest record for resource and account, of any
	// issuer, or nil if there is none.
	Load(resource, account string) (*Record, error)
	// Save writes r under r.Key().
	Save(r *Record) error
	// Delete removes every record for resource and account.
	Delete(resource, account string) error
	// Lock holds the lock of resource and account, across processes, until
	// the returned function is called.
	Lock(ctx context.Context, resource, account string) (unlock func(), err error)
	// Describe says where and how records are kept, for status output.
	Describe() string
}

// ErrNoStore: the token store could not be opened (no key, say).
var ErrNoStore = errors.New("no token store")
