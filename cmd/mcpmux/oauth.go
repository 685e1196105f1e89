package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/mcpmux/mcpmux/internal/mux"
	"github.com/mcpmux/mcpmux/internal/redact"
	"github.com/mcpmux/mcpmux/registry"
	"github.com/mcpmux/mcpmux/registry/store"
	"github.com/mcpmux/mcpmux/upstream/oauth"
)

// oauthDirEnv names the directory of the token store, for tests and for
// those who keep it elsewhere.
const oauthDirEnv = "MCPMUX_OAUTH_DIR"

// oauthDir is where the tokens are kept: $MCPMUX_OAUTH_DIR, else
// mcpmux/oauth in the user config directory, a path with no version in it,
// which upgrades keep.
func oauthDir() (string, error) {
	if d := os.Getenv(oauthDirEnv); d != "" {
		return filepath.Abs(d)
	}
	d, err := os.UserConfigDir()
	if err != nil {
		return "", fmt.Errorf("finding the token store: %w", err)
	}
	return filepath.Join(d, "mcpmux", "oauth"), nil
}

// openTokenStore opens the encrypted token store, with its key from
// MCPMUX_OAUTH_KEY, the OS keychain, or the key file beside the records.
// Without create, a store with no key yet is oauth.ErrNoStore.
func openTokenStore(create bool) (*oauth.FileStore, error) {
	dir, err := oauthDir()
	if err != nil {
		return nil, err
	}
	var kc oauth.Keychain = oauth.OSKeychain{}
	if os.Getenv("MCPMUX_OAUTH_KEYCHAIN") == "off" {
		kc = nil
	}
	key, err := oauth.OpenKey(oauth.KeyOptions{Getenv: os.Getenv, Keychain: kc, File: filepath.Join(dir, "key"), NoCreate: !create})
	if err != nil {
		return nil, err
	}
	return &oauth.FileStore{Dir: dir, Key: key}, nil
}

// lazyStore opens the token store when it is first needed, and makes its
// key only to save a token: a run that meets no OAuth server touches
// neither the keychain nor the disk.
type lazyStore struct {
	mu sync.Mutex
	st *oauth.FileStore // nil until opened
}

var _ oauth.Store = (*lazyStore)(nil)

func (l *lazyStore) open(create bool) (*oauth.FileStore, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.st != nil {
		return l.st, nil
	}
	st, err := openTokenStore(create)
	if err != nil {
		return nil, err
	}
	l.st = st
	return st, nil
}

func (l *lazyStore) Load(resource, account string) (*oauth.Record, error) {
	st, err := l.open(false)
	if errors.Is(err, oauth.ErrNoStore) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return st.Load(resource, account)
}

func (l *lazyStore) Save(r *oauth.Record) error {
	st, err := l.open(true)
	if err != nil {
		return err
	}
	return st.Save(r)
}

func (l *lazyStore) Delete(resource, account string) error {
	st, err := l.open(false)
	if errors.Is(err, oauth.ErrNoStore) {
		return nil
	}
	if err != nil {
		return err
	}
	return st.Delete(resource, account)
}

func (l *lazyStore) Lock(ctx context.Context, resource, account string) (func(), error) {
	dir, err := oauthDir()
	if err != nil {
		return nil, err
	}
	return (&oauth.FileStore{Dir: dir}).Lock(ctx, resource, account)
}

func (l *lazyStore) Describe() string {
	st, err := l.open(false)
	if err != nil {
		return "no tokens yet"
	}
	return st.Describe()
}

// personPresent reports whether a person can log in from here: on a
// terminal, or with MCPMUX_BROWSER set (which stands in for one).
func personPresent(stdin io.Reader, stderr io.Writer) bool {
	return os.Getenv(oauth.BrowserEnv) != "" || (isTerminal(stdin) && isTerminal(stderr))
}

// newOAuth returns the OAuth manager of a command: interactive, it runs a
// login on a challenge; otherwise a challenge fails with the command to
// run. A store that cannot be opened is logged and leaves OAuth without
// memory: each login then lasts one run.
func newOAuth(interactive bool, stderr io.Writer, logger *slog.Logger, masker *redact.Masker) *oauth.Manager {
	return &oauth.Manager{
		Store:       &lazyStore{},
		Browser:     &oauth.Loopback{Open: oauth.OpenWith(os.Getenv), Stderr: stderr},
		Interactive: interactive,
		Logger:      logger,
		OnSecrets:   masker.Add,
	}
}

// serveOAuth is serve's OAuth manager: a challenge never waits for a
// login; the login's page is opened at most once per upstream every 10
// minutes, and a login made by mcpmux login is picked up.
func serveOAuth(stderr io.Writer, logger *slog.Logger, masker *redact.Masker) *oauth.Manager {
	m := newOAuth(false, stderr, logger, masker)
	m.AutoLoginEvery = 10 * time.Minute
	return m
}

// runLogin runs the OAuth login of one configured server.
func runLogin(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	var c commonFlags
	fs := newFlagSet("login", stdout, &c)
	noBrowser := fs.Bool("no-browser", false, "open no browser: print the URL, and read the address the browser is sent back to from stdin (for SSH and headless machines)")
	names, err := parseArgs(fs, "login", args, 1)
	if err != nil {
		return err
	}
	cfg, logger, err := setup(&c, stderr)
	if err != nil {
		return err
	}
	defer c.close()
	srv, err := oauthServer(cfg, "login", names)
	if err != nil {
		return err
	}
	b := &oauth.Loopback{Open: oauth.OpenWith(os.Getenv), Stderr: stderr}
	if *noBrowser {
		b.Open, b.Paste = nil, stdin
	}
	m := &oauth.Manager{Store: &lazyStore{}, Browser: b, Interactive: true, Logger: logger}
	if err := m.Client(srv).Login(ctx); err != nil {
		return mux.Masker(cfg).Error(err)
	}
	st := m.Client(srv).Status()
	fmt.Fprintf(stdout, "logged in to %s (%s)%s\n", srv.Name, st.Issuer, expiryNote(st))
	return nil
}

// runLogout forgets a server's tokens, revoking them where offered.
func runLogout(ctx context.Context, args []string, _ io.Reader, stdout, stderr io.Writer) error {
	var c commonFlags
	fs := newFlagSet("logout", stdout, &c)
	names, err := parseArgs(fs, "logout", args, 1)
	if err != nil {
		return err
	}
	cfg, logger, err := setup(&c, stderr)
	if err != nil {
		return err
	}
	defer c.close()
	srv, err := oauthServer(cfg, "logout", names)
	if err != nil {
		return err
	}
	m := &oauth.Manager{Store: &lazyStore{}, Logger: logger}
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	revoked, err := m.Client(srv).Logout(ctx)
	if err != nil {
		return fmt.Errorf("forgetting the tokens of %q: %w", srv.Name, err)
	}
	if revoked {
		fmt.Fprintf(stdout, "logged out of %s: tokens revoked and forgotten\n", srv.Name)
	} else {
		fmt.Fprintf(stdout, "logged out of %s: tokens forgotten\n", srv.Name)
	}
	return nil
}

// oauthServer returns the remote server names[0] of cfg, with OAuth on.
func oauthServer(cfg *registry.Config, cmd string, names []string) (*registry.Server, error) {
	if len(names) == 0 {
		return nil, &usageError{cmd, "name the server, as the configuration does"}
	}
	srv := cfg.Servers[names[0]]
	if srv == nil {
		var remote []string
		for name, s := range cfg.Servers {
			if s.URL != "" {
				remote = append(remote, name)
			}
		}
		slices.Sort(remote)
		msg := fmt.Sprintf("no server %q in the configuration", names[0])
		if near := registry.Closest(names[0], remote, 2); near != "" {
			msg += fmt.Sprintf("; did you mean %q?", near)
		} else if len(remote) > 0 {
			msg += " (remote servers: " + strings.Join(remote, ", ") + ")"
		}
		return nil, &usageError{cmd, msg}
	}
	switch {
	case srv.URL == "":
		return nil, fmt.Errorf("server %q is not a remote server (no url): it needs no login", srv.Name)
	case srv.OAuth.Off:
		return nil, fmt.Errorf(`server %q has "oauth": false`, srv.Name)
	}
	return srv, nil
}

// expiryNote says when a token expires and whether it can be refreshed.
func expiryNote(st oauth.Status) string {
	var parts []string
	if !st.Expiry.IsZero() {
		parts = append(parts, "token expires "+st.Expiry.Local().Format(time.DateTime))
	}
	if st.HasRefresh {
		parts = append(parts, "refresh token held")
	}
	if len(parts) == 0 {
		return ""
	}
	return "; " + strings.Join(parts, ", ")
}

// loginSummary is the OAuth part of mcpmux status: where the tokens are,
// and the login of each remote server that has one or needs one. Never a
// token.
type loginSummary struct {
	Store  string                  `json:"store"`
	Logins map[string]oauth.Status `json:"logins"`
}

// oauthLogins reads the login of every remote server that has a record,
// or whose last error says it needs one. Nil: none. It makes no key.
func oauthLogins(cfg *registry.Config, sums []store.Summary) *loginSummary {
	var st oauth.Store
	desc := "no tokens yet"
	if fs, err := openTokenStore(false); err == nil {
		st, desc = fs, fs.Describe()
	}
	lastErr := map[string]string{}
	for _, s := range sums {
		if s.State != nil {
			lastErr[s.Server] = s.State.LastError
		}
	}
	m := &oauth.Manager{Store: st}
	out := &loginSummary{Store: desc, Logins: map[string]oauth.Status{}}
	for _, name := range slices.Sorted(maps.Keys(cfg.Servers)) {
		srv := cfg.Servers[name]
		c := m.Client(srv)
		if c == nil {
			continue
		}
		if st != nil {
			if k := c.Known(); k != nil {
				out.Logins[name] = *k
				continue
			}
		}
		if strings.Contains(lastErr[name], "needs a login") {
			out.Logins[name] = oauth.Status{State: "needs login", Reason: "the server asks for a login", Command: "mcpmux login " + name}
		}
	}
	if len(out.Logins) == 0 {
		return nil
	}
	return out
}

// printLogins writes the OAuth logins under the status table.
func printLogins(w io.Writer, s *loginSummary) error {
	if s == nil {
		return nil
	}
	fmt.Fprintf(w, "\nOAuth logins (tokens %s):\n", s.Store)
	var rows [][]string
	for _, name := range slices.Sorted(maps.Keys(s.Logins)) {
		st := s.Logins[name]
		detail := strings.TrimPrefix(expiryNote(st), "; ")
		switch st.State {
		case "needs login":
			detail = st.Reason + "; run: " + st.Command
		case "refresh failing":
			detail = st.Reason + "; " + detail
		}
		rows = append(rows, []string{"  " + name, st.State, detail})
	}
	return printTable(w, []string{"  SERVER", "LOGIN", "DETAIL"}, rows)
}
