package upstream

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"math"
	"net"
	"net/http"
	"net/url"
	"time"

	"github.com/mark3labs/mcp-go/client/transport"

	"github.com/mcpmux/mcpmux/registry"
)

// unbounded stands in where mcp-go wants a time limit of its own (its SSE
// transport waits 60s for a response by default).
const unbounded = time.Duration(math.MaxInt64)

// remoteLink is the link of a remote upstream, reached over streamable
// HTTP or the older HTTP+SSE transport with an HTTP client of its own.
type remoteLink struct {
	host    string // of the server's URL, for messages
	client  *http.Client
	secrets secrets
}

var _ link = (*remoteLink)(nil)

// dialRemote returns a connection to the remote upstream srv. Nothing is
// sent until the handshake.
func dialRemote(srv *registry.Server, o *Options, notify func(string, json.RawMessage)) (*conn, error) {
	l := &remoteLink{host: hostOf(srv.URL), client: newHTTPClient(), secrets: newSecrets(srv.URL)}
	tr, err := l.transport(srv, o.logger())
	if err != nil {
		return nil, l.explain(err)
	}
	c := newConn(tr, l, srv, o, notify)
	tr.SetNotificationHandler(c.receiveRemote)
	if b, ok := tr.(transport.BidirectionalInterface); ok {
		b.SetRequestHandler(c.serveRemote)
	}
	if sse, ok := tr.(sseTransport); ok {
		sse.SetConnectionLostHandler(func(err error) {
			c.die(fmt.Errorf("SSE stream lost: %w", l.explain(err)))
		})
	}
	return c, nil
}

// transport returns the mcp-go transport for srv. Streamable HTTP keeps
// the standalone GET stream open, on which the server sends what belongs
// to no request of ours: list changes, resource updates, and its own
// requests such as sampling. mcp-go's log lines go to logger at debug
// level, without the URL's secrets.
func (l *remoteLink) transport(srv *registry.Server, logger *slog.Logger) (transport.Interface, error) {
	headers := maps.Clone(srv.Headers)
	tlog := slog.New(transportLog{logger.Handler(), l.secrets})
	if srv.Transport() == registry.TransportSSE {
		tr, err := transport.NewSSE(srv.URL,
			transport.WithHeaders(headers),
			transport.WithHTTPClient(l.client),
			transport.WithSSELogger(tlog),
			transport.WithEndpointTimeout(unbounded), // the start timeout bounds it
			transport.WithResponseTimeout(unbounded), // the request's context bounds it
		)
		if err != nil {
			return nil, err
		}
		return sseTransport{tr}, nil
	}
	tr, err := transport.NewStreamableHTTP(srv.URL,
		transport.WithHTTPHeaders(headers),
		transport.WithHTTPBasicClient(l.client),
		transport.WithHTTPLogger(tlog),
		//lint:ignore SA1019 mcpmux speaks the handshake-based revisions to upstreams, which need the GET stream for notifications outside requests.
		transport.WithContinuousListening(),
	)
	if err != nil {
		return nil, err
	}
	return tr, nil
}

// sseTransport is mcp-go's SSE transport with requests bounded by their
// context alone. mcp-go shortens its response timeout to the context's
// deadline and would fail the request a moment before the deadline, with
// an error of its own; the upstream would not be told of the cancellation.
type sseTransport struct{ *transport.SSE }

func (t sseTransport) SendRequest(ctx context.Context, req transport.JSONRPCRequest) (*transport.JSONRPCResponse, error) {
	ctx, cancel := withoutDeadline(ctx)
	defer cancel()
	return t.SSE.SendRequest(ctx, req)
}

// withoutDeadline returns a context that ends when ctx does but has no
// deadline.
func withoutDeadline(ctx context.Context) (context.Context, context.CancelFunc) {
	out, cancel := context.WithCancelCause(context.WithoutCancel(ctx))
	stop := context.AfterFunc(ctx, func() { cancel(context.Cause(ctx)) })
	return out, func() {
		stop()
		cancel(nil)
	}
}

// lost: the server forgot the session (HTTP 404), or the network failed
// under a request: no connection, a connection reset, or one the server
// closed before it answered. A request whose context ended tells nothing.
// A request that found the session gone or could not connect never
// reached the server.
func (l *remoteLink) lost(err error) (error, bool) {
	var op *net.OpError
	var ue *url.Error
	switch {
	case errors.Is(err, transport.ErrSessionTerminated):
		return errSessionExpired, true
	case errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded):
		return nil, false
	case errors.As(err, &op) && op.Op == "dial":
		return op, true
	case errors.As(err, &op) && !op.Timeout():
		return op, false
	case errors.As(err, &ue) && (errors.Is(ue.Err, io.EOF) || errors.Is(ue.Err, io.ErrUnexpectedEOF)):
		return fmt.Errorf("%s closed the connection before answering: %w", l.host, ue.Err), false
	}
	return nil, false
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
// from the SSE stream, which has ended by the time a request fails.
func (l *remoteLink) deathGrace() time.Duration { return 0 }

// explain hides the URL's secrets and says what to do about the failures
// that a configuration change fixes.
func (l *remoteLink) explain(err error) error {
	switch {
	case errors.Is(err, transport.ErrLegacySSEServer):
		err = fmt.Errorf(`%w; if it speaks the older HTTP+SSE transport, set "type": "sse"`, err)
	case errors.Is(err, transport.ErrAuthorizationRequired):
		err = fmt.Errorf("%w (HTTP 401): check the server's headers; mcpmux does not do OAuth", err)
	}
	return l.secrets.hideErr(err)
}

// release closes the sockets the closed transport left open.
func (l *remoteLink) release() { l.client.CloseIdleConnections() }

func (l *remoteLink) stop(context.Context) {}

func (l *remoteLink) pid() int { return 0 }
