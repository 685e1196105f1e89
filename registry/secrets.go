package registry

import (
	"cmp"
	"encoding/base64"
	"net/url"
	"slices"
	"strings"
)

// MinSecretLen is the length below which a value is never treated as a
// secret: masking every "1" or "dev" in mcpmux's output would mangle it and
// hide nothing worth hiding.
const MinSecretLen = 6

// secretWords mark an environment variable whose value is a secret when its
// name contains one of them, in any case. "PAT" (a personal access token,
// as in GITHUB_PAT) counts only as a whole part of the name between
// underscores, so that PATH and NODE_PATH are not secrets.
var secretWords = []string{"TOKEN", "KEY", "SECRET", "PASSWORD", "PASS", "AUTH", "CREDENTIAL", "PRIVATE"}

// IsSecretName reports whether an environment variable named name holds a
// secret by its name alone (see [Server.IsSecretEnv] for a server's own
// list).
func IsSecretName(name string) bool {
	upper := strings.ToUpper(name)
	for _, w := range secretWords {
		if strings.Contains(upper, w) {
			return true
		}
	}
	return slices.Contains(strings.Split(upper, "_"), "PAT")
}

// IsSecretEnv reports whether the value of the server's environment
// variable name is a secret: its name says so ([IsSecretName]), or the
// server lists it in "secrets".
func (s *Server) IsSecretEnv(name string) bool {
	return IsSecretName(name) || slices.Contains(s.SecretEnv, name)
}

// SecretValues returns every value of the server's configuration that must
// never appear in what mcpmux writes anywhere but to the upstream itself
// (log lines, errors, status output, the store), longest first:
//
//   - every header value, and the credential part of one with a scheme
//     ("Bearer abc…" gives "Bearer abc…" and "abc…");
//   - the user name, password and query values of the url, and the
//     credentials HTTP sends for its user name and password (their Basic
//     authorization, in base64);
//   - the values of secret environment variables ([Server.IsSecretEnv]);
//   - the values that ${NAME} references to secret-named variables
//     expanded to, wherever they stand (an args entry "--token=${TOKEN}",
//     say).
//
// Values shorter than [MinSecretLen] are left out.
func (s *Server) SecretValues() []string {
	var out []string
	add := func(v string) {
		if len(v) >= MinSecretLen {
			out = append(out, v)
		}
	}
	for _, v := range s.Headers {
		add(v)
		if _, cred, ok := strings.Cut(strings.TrimSpace(v), " "); ok {
			add(strings.TrimSpace(cred))
		}
	}
	add(s.OAuth.ClientSecret)
	for _, v := range urlSecrets(s.URL) {
		add(v)
	}
	for k, v := range s.Env {
		if s.IsSecretEnv(k) {
			add(v)
		}
	}
	for _, v := range s.expandedSecrets {
		add(v)
	}
	slices.SortFunc(out, func(a, b string) int { return cmp.Or(len(b)-len(a), strings.Compare(a, b)) })
	return slices.Compact(out)
}

// urlSecrets returns the user name, password and query values of rawURL,
// raw and decoded.
func urlSecrets(rawURL string) []string {
	u, err := url.Parse(rawURL)
	if err != nil || rawURL == "" {
		return nil
	}
	var out []string
	if u.User != nil {
		out = append(out, u.User.Username())
		p, ok := u.User.Password()
		if ok {
			out = append(out, p)
		}
		// What net/http sends for them: Authorization: Basic <this>.
		out = append(out, base64.StdEncoding.EncodeToString([]byte(u.User.Username()+":"+p)))
		// And as written, percent-encoding and all.
		if _, rest, ok := strings.Cut(rawURL, "://"); ok {
			if info, _, ok := strings.Cut(rest, "@"); ok && !strings.ContainsAny(info, "/?#") {
				user, pass, _ := strings.Cut(info, ":")
				out = append(out, user, pass)
			}
		}
	}
	for _, part := range strings.Split(u.RawQuery, "&") {
		if _, v, ok := strings.Cut(part, "="); ok {
			out = append(out, v)
			if dec, err := url.QueryUnescape(v); err == nil {
				out = append(out, dec)
			}
		}
	}
	return out
}
