package oauth

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"html"
	"io"
	"net"
	"net/http"
	"net/url"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Browser takes a person through an authorization endpoint.
type Browser interface {
	// Listen starts receiving the redirect of server's login on port (0:
	// an ephemeral one).
	Listen(ctx context.Context, server string, port int) (Callback, error)
}

// Callback is one login's redirect endpoint.
type Callback interface {
	// RedirectURI is where the authorization server sends the person back.
	RedirectURI() string
	// Await sends the person to authURL and returns the redirect's query.
	Await(ctx context.Context, authURL string) (url.Values, error)
	// Close stops listening.
	Close()
}

// Loopback is the Browser of a login on this machine: it listens on
// 127.0.0.1, prints the URL on Stderr, and opens it with Open. With Paste
// set (--no-browser), it also takes the redirect URL pasted there.
type Loopback struct {
	// Open opens a URL in the person's browser; nil opens nothing (the
	// printed URL is all there is).
	Open func(ctx context.Context, url string) error
	// Stderr gets the URL and the instructions; nil means none.
	Stderr io.Writer
	// Paste, if set, is read for a pasted redirect URL.
	Paste io.Reader
}

// callbackPath is the redirect URI's path.
const callbackPath = "/callback"

// Listen binds 127.0.0.1:port.
func (b *Loopback) Listen(ctx context.Context, server string, port int) (Callback, error) {
	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
	if err != nil {
		return nil, fmt.Errorf("listening for the login's redirect: %w", err)
	}
	cb := &loopbackCallback{b: b, server: server, ln: ln, got: make(chan url.Values, 1)}
	cb.uri = "http://127.0.0.1:" + strconv.Itoa(ln.Addr().(*net.TCPAddr).Port) + callbackPath
	cb.srv = &http.Server{Handler: http.HandlerFunc(cb.serve), ReadHeaderTimeout: 10 * time.Second}
	cb.wg.Add(1)
	go func() {
		defer cb.wg.Done()
		_ = cb.srv.Serve(ln)
	}()
	return cb, nil
}

type loopbackCallback struct {
	b      *Loopback
	server string
	ln     net.Listener
	srv    *http.Server
	uri    string
	got    chan url.Values
	wg     sync.WaitGroup
	once   sync.Once
}

func (cb *loopbackCallback) RedirectURI() string { return cb.uri }

func (cb *loopbackCallback) serve(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path != callbackPath {
		http.NotFound(w, r)
		return
	}
	q := r.URL.Query()
	if q.Get("code") == "" && q.Get("error") == "" {
		http.Error(w, "not an authorization response", http.StatusBadRequest)
		return
	}
	select {
	case cb.got <- q:
	default:
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	msg := "Logged in. You can close this tab and go back to mcpmux."
	if e := q.Get("error"); e != "" {
		msg = "The login failed: " + e
	}
	fmt.Fprintf(w, "<!doctype html><title>mcpmux</title><p>%s</p>\n", html.EscapeString(msg))
}

func (cb *loopbackCallback) Await(ctx context.Context, authURL string) (url.Values, error) {
	b := cb.b
	if b.Stderr != nil {
		fmt.Fprintf(b.Stderr, "To log in to %s, open this URL in a browser:\n\n  %s\n\n", cb.server, authURL)
	}
	if b.Open != nil {
		if err := b.Open(ctx, authURL); err != nil && b.Stderr != nil {
			fmt.Fprintf(b.Stderr, "(could not open a browser: %v)\n", err)
		}
	}
	pasted := make(chan url.Values, 1)
	if b.Paste != nil {
		if b.Stderr != nil {
			fmt.Fprintf(b.Stderr, "After logging in, your browser goes to %s… which may not load here.\nPaste that whole address here and press Enter:\n", cb.uri)
		}
		go readPasted(b.Paste, pasted) // ends with its reader (stdin)
	}
	select {
	case q := <-cb.got:
		return q, nil
	case q := <-pasted:
		return q, nil
	case <-ctx.Done():
		return nil, fmt.Errorf("waiting for the login: %w", ctx.Err())
	}
}

// readPasted reads lines until one is a redirect URL with a code or an
// error.
func readPasted(r io.Reader, out chan<- url.Values) {
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		u, err := url.Parse(strings.TrimSpace(sc.Text()))
		if err != nil {
			continue
		}
		if q := u.Query(); q.Get("code") != "" || q.Get("error") != "" {
			out <- q
			return
		}
	}
}

func (cb *loopbackCallback) Close() {
	cb.once.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		_ = cb.srv.Shutdown(ctx)
		_ = cb.srv.Close()
		cb.wg.Wait()
	})
}

// BrowserEnv names the browser command that mcpmux runs with the URL as its
// last argument.
const BrowserEnv = "MCPMUX_BROWSER"

// OpenWith returns the opener of a login: $MCPMUX_BROWSER (a command, split
// at spaces, the URL appended as its last argument), else $BROWSER, else
// the OS's opener (open, xdg-open, rundll32).
func OpenWith(getenv func(string) string) func(ctx context.Context, u string) error {
	return func(ctx context.Context, u string) error {
		cmd := strings.TrimSpace(getenv(BrowserEnv))
		if cmd == "" {
			cmd = strings.TrimSpace(getenv("BROWSER"))
		}
		var argv []string
		if cmd != "" {
			argv = append(strings.Fields(cmd), u)
		} else {
			argv = osOpener(u)
		}
		if len(argv) == 0 {
			return errors.New("no browser: set MCPMUX_BROWSER or BROWSER")
		}
		c := exec.CommandContext(ctx, argv[0], argv[1:]...)
		c.Stdout, c.Stderr = io.Discard, io.Discard
		c.Stdin = nil
		if err := c.Start(); err != nil {
			return err
		}
		// The browser command may run as long as the browser: it is
		// waited for on a goroutine that ends with it.
		go func() { _ = c.Wait() }()
		return nil
	}
}
