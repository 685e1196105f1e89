package registry

import (
	"slices"
	"strings"
	"testing"
)

func TestParseOAuth(t *testing.T) {
	tests := []struct {
		name   string
		server string // one "mcpServers" entry, named "s"
		want   OAuth
		err    string // after `server "s": `; "" for none
	}{
		{name: "absent: on", server: `{"url": "https://example.com/mcp"}`},
		{name: "true: on", server: `{"url": "https://example.com/mcp", "oauth": true}`},
		{name: "false: off", server: `{"url": "https://example.com/mcp", "oauth": false}`, want: OAuth{Off: true}},
		{name: "every field", server: `{"url": "https://example.com/mcp", "oauth": {"clientId": "id", "clientSecret": "s3cret-value", "clientMetadataUrl": "https://example.com/mcpmux.json", "scopes": ["a", "b"], "callbackPort": 8765}}`,
			want: OAuth{ClientID: "id", ClientSecret: "s3cret-value", ClientMetadataURL: "https://example.com/mcpmux.json", Scopes: []string{"a", "b"}, CallbackPort: 8765}},
		{name: "unknown key", server: `{"url": "https://example.com/mcp", "oauth": {"clientID": "x"}}`, err: `field "oauth.clientID": unknown key (want clientId, clientSecret, clientMetadataUrl, scopes, callbackPort)`},
		{name: "string", server: `{"url": "https://example.com/mcp", "oauth": "yes"}`, err: `field "oauth": must be false or an object, got a string`},
		{name: "port", server: `{"url": "https://example.com/mcp", "oauth": {"callbackPort": 70000}}`, err: `field "oauth.callbackPort": must be a port number`},
		{name: "secret without id", server: `{"url": "https://example.com/mcp", "oauth": {"clientSecret": "s3cret-value"}}`, err: `field "oauth.clientSecret": needs oauth.clientId`},
		{name: "metadata url", server: `{"url": "https://example.com/mcp", "oauth": {"clientMetadataUrl": "http://example.com/x.json"}}`, err: `field "oauth.clientMetadataUrl": must be an https URL with a path`},
		{name: "stdio", server: `{"command": "x", "oauth": {"clientId": "id"}}`, err: `field "oauth": applies to remote servers (url) only`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := Parse([]byte(`{"mcpServers": {"s": `+tt.server+`}}`), env(nil))
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), `server "s": `+tt.err) {
					t.Errorf("Parse = %v, want %s", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatalf("Parse = %v", err)
			}
			got := c.Servers["s"].OAuth
			if got.Off != tt.want.Off || got.ClientID != tt.want.ClientID || got.ClientSecret != tt.want.ClientSecret ||
				got.ClientMetadataURL != tt.want.ClientMetadataURL || !slices.Equal(got.Scopes, tt.want.Scopes) || got.CallbackPort != tt.want.CallbackPort {
				t.Errorf("OAuth = %+v, want %+v", got, tt.want)
			}
			if tt.want.ClientSecret != "" && !slices.Contains(c.Servers["s"].SecretValues(), tt.want.ClientSecret) {
				t.Error("the client secret is not among the server's secrets")
			}
		})
	}
}
