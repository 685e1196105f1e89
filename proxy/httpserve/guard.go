package httpserve

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strings"
)

// guard admits a request, or answers it with the error that refuses it:
// 403 for a Host or Origin that is not this server's (DNS rebinding: a
// page on another site that resolves its name to 127.0.0.1), 401 for a
// missing or wrong bearer token. It reports whether the request may go on.
func (s *Server) guard(w http.ResponseWriter, r *http.Request) bool {
	code, msg := s.check(r)
	switch code {
	case 0:
		return true
	case http.StatusUnauthorized:
		w.Header().Set("WWW-Authenticate", `Bearer realm="mcpmux"`)
		if r.Method == http.MethodGet && strings.Contains(r.Header.Get("Accept"), "text/html") {
			// A person opening the status page: the browser asks for the
			// token (as the password) and sends it from then on.
			w.Header().Add("WWW-Authenticate", `Basic realm="mcpmux", charset="UTF-8"`)
		}
	}
	s.refuse(w, r, code, msg)
	return false
}

// check returns the status and message that refuse r (see guard); 0 if it
// may go on.
func (s *Server) check(r *http.Request) (int, string) {
	if !s.hostAllowed(r.Host) {
		return http.StatusForbidden, "forbidden: the Host header names another server"
	}
	if origin := r.Header.Get("Origin"); origin != "" && !s.originAllowed(origin, r.Host) {
		return http.StatusForbidden, "forbidden: requests from origin " + origin + " are not allowed"
	}
	if s.token != nil && !s.authorized(r.Header.Get("Authorization")) {
		return http.StatusUnauthorized, "unauthorized: send the token as Authorization: Bearer <token>"
	}
	return 0, ""
}

// Guarded returns h behind the guard of serve --http's routes, for a
// listener beside it (serve --metrics): the Host and Origin rules of a
// server bound to addr (the address it listens on), and the bearer token
// if token is set.
func Guarded(h http.Handler, addr, token string, logger *slog.Logger) http.Handler {
	g := New(nil, Options{Token: token, Logger: logger})
	g.loopback = IsLoopback(addr)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if g.guard(w, r) {
			h.ServeHTTP(w, r)
		}
	})
}

// refuse answers a request that guard turned away, and logs it without
// any header's value.
func (s *Server) refuse(w http.ResponseWriter, r *http.Request, code int, msg string) {
	s.logger.Debug("request refused", "method", r.Method, "path", r.URL.Path, "status", code, "remote", r.RemoteAddr)
	http.Error(w, msg, code)
}

// authorized compares the Authorization header with the token in constant
// time: both are hashed first, so that not even the length leaks. The
// token comes as a bearer token, or as the password of Basic credentials
// (any user name): what a browser sends once a person has typed it in
// its prompt, to see the status page.
func (s *Server) authorized(header string) bool {
	cred, ok := credential(header)
	if !ok {
		return false
	}
	got := sha256.Sum256([]byte(cred))
	return subtle.ConstantTimeCompare(got[:], s.token) == 1
}

// hostAllowed checks the Host header. Bound to a loopback address, the
// server is reached by a loopback name only (localhost, 127.0.0.1, [::1]),
// whatever the port: a browser sends the attacker's name in Host after a
// DNS rebinding. Bound elsewhere, it needs a token (see Options.Token),
// which a browser page does not have, and may be reached by any name.
func (s *Server) hostAllowed(host string) bool {
	if !s.loopback {
		return true
	}
	return isLoopbackName(hostname(host))
}

// originAllowed checks the Origin header of a browser's request: it must
// be the server itself (same host and port as Host), or a page on a
// loopback name if the server is bound to loopback. "null" and anything
// unparsable are refused.
func (s *Server) originAllowed(origin, host string) bool {
	u, err := url.Parse(origin)
	if err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https") {
		return false
	}
	if strings.EqualFold(u.Host, host) {
		return true
	}
	return s.loopback && isLoopbackName(u.Hostname())
}

// hostname returns the host of a host[:port], without brackets.
func hostname(hostport string) string {
	if h, _, err := net.SplitHostPort(hostport); err == nil {
		return h
	}
	return strings.Trim(hostport, "[]")
}

// isLoopbackName reports whether host names this machine only.
func isLoopbackName(host string) bool {
	if strings.EqualFold(host, "localhost") || strings.HasSuffix(strings.ToLower(host), ".localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// IsLoopback reports whether addr (host:port, as for --http) binds to a
// loopback address only. An empty host binds every address, so it is not.
func IsLoopback(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil || host == "" {
		return false
	}
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// credential returns the token that an Authorization header carries: a
// bearer token, or the password of Basic credentials.
func credential(header string) (string, bool) {
	scheme, cred, ok := strings.Cut(header, " ")
	switch {
	case !ok:
		return "", false
	case strings.EqualFold(scheme, "Bearer"):
		return strings.TrimSpace(cred), true
	case strings.EqualFold(scheme, "Basic"):
		raw, err := base64.StdEncoding.DecodeString(strings.TrimSpace(cred))
		if err != nil {
			return "", false
		}
		_, pass, ok := strings.Cut(string(raw), ":")
		return pass, ok
	}
	return "", false
}
