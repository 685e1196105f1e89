package upstream

import (
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"net"
	"net/http"
	"net/url"
	"time"

	"github.com/mcpmux/mcpmux/internal/redact"
	"github.com/mcpmux/mcpmux/registry"
	"github.com/mcpmux/mcpmux/upstream/oauth"
)

// remotePeer is the peer of a remote upstream, reached over streamable
// HTTP ([streamableTransport]) or the older HTTP+SSE transport
// ([sseTransport]) with an HTTP client of its own. It reads what the
// transports' errors say about the connection and hides the server's
// secrets in them; the transports themselves read what the server sends
// and answer it (each is its own [replier]).
//
// Both transports are mcpmux's own, as stdio's is, because mcp-go's cannot
// be configured to do what a proxy must: its streamable HTTP client gives
// each request of the server's a hard 30s (an elicitation that a person
// answers later fails), its SSE client drops the server's requests, and
// both decode what the server sends into typed structs and encode it again
// (key order lost, integers above 2^53 altered). Here, the server's
// notifications and requests reach the conn raw, and its requests wait for
// their answer as long as the client takes.
type remotePeer struct {
	host    string // of the server's URL, for messages
	client  *http.Client
	secrets *redact.Masker // the server's: masked in errors and log lines, which may quote the URL or an echoed header
}

var _ peer = (*remotePeer)(nil)

// dialRemote returns a connection to the remote upstream srv. Nothing is
// sent until the handshake.
func dialRemote(srv *registry.Server, o *Options, notes *noteQueue) (*conn, error) {
	l := &remotePeer{host: hostOf(srv.URL), client: newHTTPClient(o.dial), secrets: redact.New(srv.SecretValues())}
	if oc := o.OAuth.Client(srv); oc != nil {
		l.client.Transport = &oauth.Transport{Base: l.client.Transport, Client: oc}
	}
	if _, err := url.Parse(srv.URL); err != nil {
		return nil, l.explain(fmt.Errorf("parsing the server's URL: %w", err))
	}
	var (
		tr transport
		w  *httpBase
	)
	if srv.Transport() == registry.TransportSSE {
		t := &sseTransport{}
		tr, w = t, &t.httpBase
		w.post = t.send
	} else {
		t := &streamableTransport{}
		tr, w = t, &t.httpBase
		w.post = t.send
	}
	w.init(srv.URL, l.client, maps.Clone(srv.Headers), l.secrets, o.logger(), o.MaxMessageSize)
	// c.notes stays nil: a response stream's reader (readEvents) looks
	// for its answer as soon as it has handed the response on.
	c := newConn(tr, l, srv, o, notes.push)
	w.dispatch, w.drop = c.dispatch, c.dropTooLarge
	w.die = func(err error) {
		reason, _ := l.fatal(err)
		if reason == nil {
			reason = l.explain(err)
		}
		c.die(reason)
	}
	return c, nil
}

// fatal: the server forgot the session (HTTP 404), its event stream ended,
// or the network failed under a request: no connection, a connection
// reset, or one the server closed before it answered. A request whose
// context ended tells nothing. A request that found the session gone or
// could not connect never reached the server.
func (l *remotePeer) fatal(err error) (error, bool) {
	var op *net.OpError
	var ue *url.Error
	var broken *brokenStreamError
	switch {
	case errors.Is(err, errSessionGone):
		return errSessionExpired, true
	case errors.Is(err, errStreamLost):
		return l.explain(err), false
	case errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded):
		return nil, false
	case errors.As(err, &op) && op.Op == "dial":
		return op, true
	case errors.As(err, &op) && !op.Timeout():
		return op, false
	case errors.As(err, &ue) && (errors.Is(ue.Err, io.EOF) || errors.Is(ue.Err, io.ErrUnexpectedEOF)):
		return fmt.Errorf("%s closed the connection before answering: %w", l.host, ue.Err), false
	case errors.As(err, &broken):
		return l.explain(err), false
	}
	return nil, false
}

// networkFailure reports whether err shows the server unreachable or the
// connection to it broken, rather than an answer of the server's.
func networkFailure(err error) bool {
	var op *net.OpError
	var ue *url.Error
	return (errors.As(err, &op) && !op.Timeout()) ||
		(errors.As(err, &ue) && (errors.Is(ue.Err, io.EOF) || errors.Is(ue.Err, io.ErrUnexpectedEOF)))
}

// hostOf returns the host of rawURL, with its port if it has one.
func hostOf(rawURL string) string {
	u, err := url.Parse(rawURL)
	if err != nil || u.Host == "" {
		return "the server"
	}
	return u.Host
}

// deathGrace: remote connections learn of their death from requests, or
// from their event streams, which have ended by the time a request fails.
func (l *remotePeer) deathGrace() time.Duration { return 0 }

// explain hides the URL's secrets and says what to do about the failures
// that a configuration change fixes.
func (l *remotePeer) explain(err error) error {
	var notStreamable *notStreamableError
	var notSSE *notSSEError
	var login *oauth.NeedsLoginError
	switch {
	case errors.As(err, &login):
		err = login
	case errors.As(err, &notStreamable):
		err = fmt.Errorf(`%w; if it speaks the older HTTP+SSE transport, set "type": "sse"`, err)
	case errors.As(err, &notSSE):
		err = fmt.Errorf(`%w; if it speaks streamable HTTP, remove "type": "sse"`, err)
	case errors.Is(err, errUnauthorized):
		err = fmt.Errorf(`%w (HTTP 401) with no Bearer challenge, or with "oauth": false: check the server's headers`, err)
	}
	return l.secrets.Error(err)
}

// release closes the sockets the closed transport left open.
func (l *remotePeer) release() { l.client.CloseIdleConnections() }

func (l *remotePeer) stop(context.Context) {}

func (l *remotePeer) leave() {}

func (l *remotePeer) pid() int { return 0 }
