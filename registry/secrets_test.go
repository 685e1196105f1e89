package registry

import (
	"slices"
	"testing"
)

func TestIsSecretName(t *testing.T) {
	for name, want := range map[string]bool{
		"GITHUB_TOKEN":                 true,
		"github_personal_access_token": true,
		"OPENAI_API_KEY":               true,
		"DB_PASSWORD":                  true,
		"SMTP_PASS":                    true,
		"AUTH_HEADER":                  true,
		"AWS_SECRET_ACCESS_KEY":        true,
		"GOOGLE_CREDENTIALS":           true,
		"SSH_PRIVATE_KEY_FILE":         true,
		"GITHUB_PAT":                   true,
		"PAT":                          true,
		"PATH":                         false,
		"NODE_PATH":                    false,
		"NODE_ENV":                     false,
		"MEMORY_FILE_PATH":             false,
	} {
		if got := IsSecretName(name); got != want {
			t.Errorf("IsSecretName(%q) = %v, want %v", name, got, want)
		}
	}
}

func TestSecretValues(t *testing.T) {
	data := []byte(`{"mcpServers": {
		"remote": {
			"url": "https://alice-user:hunter22pw@mcp.example.com/mcp?api_key=querysecret1&x=a%20b%2Fcdefg",
			"headers": {"Authorization": "Bearer tok-abcdef", "X-Short": "abc"}
		},
		"local": {
			"command": "server",
			"args": ["--token=${UPSTREAM_TOKEN}", "--dir=${WORKDIR}"],
			"env": {"GITHUB_TOKEN": "ghp_123456", "NODE_ENV": "production", "DB_URL": "postgres://db", "SHORT_KEY": "abc"},
			"secrets": ["DB_URL"]
		}
	}}`)
	env := map[string]string{"UPSTREAM_TOKEN": "expanded-secret", "WORKDIR": "/home/user/work"}
	c, err := Parse(data, func(k string) (string, bool) { v, ok := env[k]; return v, ok })
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		server string
		want   []string
	}{
		{"remote", []string{"YWxpY2UtdXNlcjpodW50ZXIyMnB3", "Bearer tok-abcdef", "a%20b%2Fcdefg", "querysecret1", "alice-user", "hunter22pw", "tok-abcdef", "a b/cdefg"}},
		{"local", []string{"expanded-secret", "postgres://db", "ghp_123456"}},
	}
	for _, tt := range tests {
		got := c.Servers[tt.server].SecretValues()
		if !slices.Equal(got, tt.want) {
			t.Errorf("server %q: SecretValues() = %q, want %q", tt.server, got, tt.want)
		}
	}
}
