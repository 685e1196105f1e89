// Package statuspage is mcpmux's live status page: an [http.Handler] that
// serves, at /, a page of plain HTML, CSS and JavaScript embedded in the
// binary (no build step, no asset from elsewhere: it works offline), and
// /status.json, the document the page polls: every upstream's state,
// tools, calls, errors, p95 latency, restarts, last error, withheld tools
// and OAuth login; every session; the last [RecentCalls] calls (never
// their arguments or results). Secrets are masked in all of it.
//
// The page reads what mcpmux://status computes (Options.Status) and adds
// what only the page shows: the calls, kept by [Calls], which
// internal/mux feeds from the proxy's call hook.
//
// It is read-only unless Options.Actions is set; then a POST may restart
// an upstream, reload the configuration or approve a withheld tool, if it
// carries the bearer token, or if it comes from the page itself on
// loopback (see [handler.mayAct]). Whoever mounts the handler puts it
// behind mcpmux's Host, Origin and token guard (proxy/httpserve).
package statuspage

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"embed"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strings"

	"github.com/mcpmux/mcpmux/internal/redact"
)

//go:embed assets
var assets embed.FS

// Actions are what a person may do from the page. Each returns an error
// a person can act on.
type Actions interface {
	// Restart stops server's upstream and starts it again.
	Restart(server string) error
	// ReloadConfig reads the configuration file again and serves it.
	ReloadConfig() error
	// Trust approves server's withheld tool or prompt name, as mcpmux
	// trust SERVER NAME does.
	Trust(server, name string) error
}

// Options configures the page. Status is required; any other nil field
// leaves its part of the page empty.
type Options struct {
	// Status returns mcpmux://status's document (see mux.Mux.Status).
	Status func() json.RawMessage
	// Tools returns how many tools each server has in the merged
	// catalogue, by name.
	Tools func() map[string]int
	// Sessions returns the clients' open sessions.
	Sessions func() []Session
	// Calls are the calls the proxy has served.
	Calls *Calls
	// Restarted returns, by server, the restarts of the upstreams that
	// Actions.Restart replaced (a new upstream counts from 0): the page
	// adds them to the status's.
	Restarted func() map[string]int
	// Actions, if set, lets a request with the right to act (see
	// Handler) restart, reload and trust. Nil: the page is read-only.
	Actions Actions
	// Token is the bearer token of the listener, if it has one: a request
	// that carries it may act.
	Token string
	// Masker masks secrets in everything the handler sends. Nil masks
	// nothing more than Status did.
	Masker *redact.Masker
	// Version is mcpmux's version, shown on the page.
	Version string
	// Logger receives the actions taken. Nil discards.
	Logger *slog.Logger
}

// handler serves the page.
type handler struct {
	opts  Options
	token []byte // sha256 of Options.Token; nil for none
	csrf  string // this process's page token: only the page knows it
	page  []byte // index.html with csrf in it
}

// csrfHeader carries the page's token on its actions: a custom header, so
// that another site's page cannot send it without a CORS preflight,
// which nothing here answers, and a value it cannot read.
const csrfHeader = "X-Mcpmux-Csrf"

// Handler returns the status page's handler. It serves / (the page),
// /status.json, /status/* (its style sheet and script) and, if
// opts.Actions is set, POST /status/restart, /status/reload and
// /status/trust; anything else is not found.
func Handler(opts Options) http.Handler {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	h := &handler{opts: opts, csrf: hex.EncodeToString(b)}
	if opts.Token != "" {
		sum := sha256.Sum256([]byte(opts.Token))
		h.token = sum[:]
	}
	index, _ := assets.ReadFile("assets/index.html")
	h.page = bytes.ReplaceAll(index, []byte("{{csrf}}"), []byte(h.csrf))
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", h.index)
	mux.HandleFunc("GET /status.json", h.json)
	mux.HandleFunc("GET /status/style.css", h.asset("assets/style.css", "text/css; charset=utf-8"))
	mux.HandleFunc("GET /status/app.js", h.asset("assets/app.js", "text/javascript; charset=utf-8"))
	mux.HandleFunc("POST /status/restart", h.act(h.restart))
	mux.HandleFunc("POST /status/reload", h.act(h.reload))
	mux.HandleFunc("POST /status/trust", h.act(h.trust))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		secure(w.Header())
		mux.ServeHTTP(w, r)
	})
}

// secure sets the headers every answer carries: no script, style or
// connection but the page's own, no framing, no referrer.
func secure(hd http.Header) {
	hd.Set("Content-Security-Policy", "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'")
	hd.Set("X-Content-Type-Options", "nosniff")
	hd.Set("X-Frame-Options", "DENY")
	hd.Set("Referrer-Policy", "no-referrer")
	hd.Set("Cache-Control", "no-store")
}

func (h *handler) index(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	_, _ = w.Write(h.page)
}

func (h *handler) asset(name, contentType string) http.HandlerFunc {
	body, err := assets.ReadFile(name)
	if err != nil {
		panic(err) // embedded: a missing file is a build mistake
	}
	return func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", contentType)
		_, _ = w.Write(body)
	}
}

// json answers the page's document, masked.
func (h *handler) json(w http.ResponseWriter, r *http.Request) {
	v, err := h.view()
	if err != nil {
		http.Error(w, "reading the status: "+h.opts.Masker.String(err.Error()), http.StatusInternalServerError)
		return
	}
	v.CanAct = h.opts.Actions != nil && ((h.token != nil && h.bearer(r.Header.Get("Authorization"))) || h.fromPage(r) == nil)
	b, _ := json.Marshal(v)
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write(h.opts.Masker.JSON(b))
}

// errForbidden is why an action is refused.
var errForbidden = errors.New("forbidden")

// mayAct says whether r may act, or why not. A request may act if it
// carries the listener's token as a bearer token (a header a browser
// never adds by itself, so no other site can make it send one), or if it
// is the page's own: it has the page's token in csrfHeader, its Origin is
// the server's own, and it comes from loopback to a loopback name (a
// page that rebinds its name to 127.0.0.1 has another Host).
func (h *handler) mayAct(r *http.Request) error {
	if h.token != nil && h.bearer(r.Header.Get("Authorization")) {
		return nil
	}
	if err := h.fromPage(r); err != nil {
		return err
	}
	if !sameOrigin(r) {
		return fmt.Errorf("%w: an action must come from the page itself (Origin)", errForbidden)
	}
	return nil
}

// fromPage checks what a request of the page's own carries on loopback
// (see mayAct), Origin aside: a browser sends none on a GET of its own
// origin, so the page learns whether it may act from a GET without it.
func (h *handler) fromPage(r *http.Request) error {
	got := r.Header.Get(csrfHeader)
	if subtle.ConstantTimeCompare([]byte(got), []byte(h.csrf)) != 1 {
		return fmt.Errorf("%w: an action needs the token (Authorization: Bearer) or the page's %s header", errForbidden, csrfHeader)
	}
	if site := r.Header.Get("Sec-Fetch-Site"); site != "" && site != "same-origin" {
		return fmt.Errorf("%w: an action must come from the page itself (Sec-Fetch-Site %s)", errForbidden, site)
	}
	if h.basic(r.Header.Get("Authorization")) {
		return nil // a person gave the browser the token
	}
	if !loopbackPeer(r.RemoteAddr) || !loopbackName(hostname(r.Host)) {
		return fmt.Errorf("%w: without the token, actions are taken from this machine only", errForbidden)
	}
	return nil
}

// bearer reports whether header carries the token, comparing hashes in
// constant time.
func (h *handler) bearer(header string) bool {
	scheme, cred, ok := strings.Cut(header, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return false
	}
	sum := sha256.Sum256([]byte(strings.TrimSpace(cred)))
	return subtle.ConstantTimeCompare(sum[:], h.token) == 1
}

// basic reports whether header carries the token as the password of
// Basic credentials, which a browser sends by itself once a person typed
// the token in its prompt: proof of who, not of which page (see
// fromPage).
func (h *handler) basic(header string) bool {
	scheme, cred, ok := strings.Cut(header, " ")
	if !ok || h.token == nil || !strings.EqualFold(scheme, "Basic") {
		return false
	}
	raw, err := base64.StdEncoding.DecodeString(strings.TrimSpace(cred))
	if err != nil {
		return false
	}
	_, pass, _ := strings.Cut(string(raw), ":")
	sum := sha256.Sum256([]byte(pass))
	return subtle.ConstantTimeCompare(sum[:], h.token) == 1
}

// sameOrigin reports whether r's Origin is the server r was sent to.
func sameOrigin(r *http.Request) bool {
	u, err := url.Parse(r.Header.Get("Origin"))
	return err == nil && (u.Scheme == "http" || u.Scheme == "https") && u.Host != "" && strings.EqualFold(u.Host, r.Host)
}

func loopbackPeer(addr string) bool {
	ip := net.ParseIP(hostname(addr))
	return ip != nil && ip.IsLoopback()
}

func loopbackName(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// hostname returns the host of a host[:port], without brackets.
func hostname(hostport string) string {
	if h, _, err := net.SplitHostPort(hostport); err == nil {
		return h
	}
	return strings.Trim(hostport, "[]")
}

// act serves an action with do, if the page has actions and r may act.
func (h *handler) act(do func(body actionBody) error) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if h.opts.Actions == nil {
			http.Error(w, "not found: this status page is read-only", http.StatusNotFound)
			return
		}
		if err := h.mayAct(r); err != nil {
			h.opts.Logger.Debug("status page action refused", "path", r.URL.Path, "remote", r.RemoteAddr, "err", err)
			http.Error(w, err.Error(), http.StatusForbidden)
			return
		}
		var body actionBody
		dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, 4096))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&body); err != nil && !errors.Is(err, io.EOF) {
			http.Error(w, "bad request: the body must be a JSON object with server and name", http.StatusBadRequest)
			return
		}
		if err := do(body); err != nil {
			http.Error(w, h.opts.Masker.String(err.Error()), http.StatusConflict)
			return
		}
		h.opts.Logger.Info("status page action", "action", strings.TrimPrefix(r.URL.Path, "/status/"), "server", body.Server, "name", body.Name)
		w.WriteHeader(http.StatusNoContent)
	}
}

// actionBody names what an action is about.
type actionBody struct {
	Server string `json:"server,omitempty"`
	Name   string `json:"name,omitempty"`
}

func (h *handler) restart(b actionBody) error {
	if b.Server == "" {
		return errors.New("restart needs a server")
	}
	return h.opts.Actions.Restart(b.Server)
}

func (h *handler) reload(actionBody) error { return h.opts.Actions.ReloadConfig() }

func (h *handler) trust(b actionBody) error {
	if b.Server == "" || b.Name == "" {
		return errors.New("trust needs a server and a name")
	}
	return h.opts.Actions.Trust(b.Server, b.Name)
}
