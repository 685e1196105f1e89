package registry

import (
	"encoding/json"
	"net/url"

	"github.com/mcpmux/mcpmux/internal/jsonrpc"
)

// OAuth is a remote server's "oauth" setting. OAuth needs no setting to be
// used: a server that answers 401 with a Bearer challenge gets the MCP
// authorization flow. The object only supplies what discovery cannot: a
// client registered in advance, a Client ID Metadata Document, scopes, a
// fixed callback port. "oauth": false turns the flow off. The zero value
// means on, with every default.
type OAuth struct {
	// Off is "oauth": false: a challenge is an error, as for any server
	// whose headers are wrong.
	Off bool `json:"-"`
	// ClientID is a client registered with the authorization server in
	// advance; empty means a Client ID Metadata Document or Dynamic Client
	// Registration.
	ClientID string `json:"clientId,omitempty"`
	// ClientSecret is ClientID's secret, if it is a confidential client. A
	// secret: it never appears in logs.
	ClientSecret string `json:"clientSecret,omitempty"`
	// ClientMetadataURL is the https URL of a Client ID Metadata Document
	// that describes mcpmux, used as the client id by authorization servers
	// that accept one.
	ClientMetadataURL string `json:"clientMetadataUrl,omitempty"`
	// Scopes are asked for instead of those the server's challenge or
	// metadata name.
	Scopes []string `json:"scopes,omitempty"`
	// CallbackPort is the loopback port of the login's redirect URI; zero
	// means an ephemeral one. Set it for a client registered with a fixed
	// redirect URI.
	CallbackPort int `json:"callbackPort,omitempty"`
}

// MarshalJSON writes false for a disabled OAuth, the object otherwise.
func (o OAuth) MarshalJSON() ([]byte, error) {
	if o.Off {
		return []byte("false"), nil
	}
	type plain OAuth
	return json.Marshal(plain(o))
}

// oauthKeys are the keys of the "oauth" object.
var oauthKeys = []string{"clientId", "clientSecret", "clientMetadataUrl", "scopes", "callbackPort"}

// decodeOAuth decodes "oauth": true, false or an object of oauthKeys.
func (s *Server) decodeOAuth(ch *checker, fields map[string]json.RawMessage) {
	raw, ok := fields["oauth"]
	if !ok {
		return
	}
	switch jsonrpc.Kind(raw) {
	case "a boolean":
		var on bool
		_ = json.Unmarshal(raw, &on)
		s.OAuth.Off = !on
		return
	case "an object":
	default:
		ch.fail("oauth", "must be false or an object, got %s", jsonrpc.Kind(raw))
		return
	}
	obj := decodeObject(ch, fields, "oauth", oauthKeys...)
	decodeField(ch, obj, "oauth.clientId", &s.OAuth.ClientID, "a string")
	decodeField(ch, obj, "oauth.clientSecret", &s.OAuth.ClientSecret, "a string")
	decodeField(ch, obj, "oauth.clientMetadataUrl", &s.OAuth.ClientMetadataURL, "a string")
	decodeStrings(ch, obj, "oauth.scopes", &s.OAuth.Scopes)
	decodeField(ch, obj, "oauth.callbackPort", &s.OAuth.CallbackPort, "an integer")
}

// checkOAuth checks the "oauth" setting of s.
func checkOAuth(ch *checker, s *Server) {
	o := &s.OAuth
	if p := o.CallbackPort; p < 0 || p > 65535 {
		ch.fail("oauth.callbackPort", "must be a port number (1-65535), or 0 for an ephemeral one, got %d", p)
	}
	if o.ClientSecret != "" && o.ClientID == "" {
		ch.fail("oauth.clientSecret", "needs oauth.clientId")
	}
	if o.ClientMetadataURL != "" {
		checkClientMetadataURL(ch, o.ClientMetadataURL)
	}
	if s.URL == "" && (o.Off || o.ClientID != "" || o.ClientMetadataURL != "" || len(o.Scopes) > 0 || o.CallbackPort != 0) {
		ch.fail("oauth", "applies to remote servers (url) only")
	}
}

// checkClientMetadataURL: a Client ID Metadata Document's URL is an https
// URL with a path.
func checkClientMetadataURL(ch *checker, raw string) {
	u, err := url.Parse(raw)
	if err != nil || u.Scheme != "https" || u.Host == "" || u.Path == "" || u.Path == "/" {
		ch.fail("oauth.clientMetadataUrl", "must be an https URL with a path, such as https://example.com/mcpmux.json")
	}
}
