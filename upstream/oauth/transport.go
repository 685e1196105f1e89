package oauth

import (
	"io"
	"net/http"
	"net/url"
)

// maxTries bounds the logins and refreshes one request may cause.
const maxTries = 3

// Transport sends an upstream's requests with its access token, and
// answers its challenges. Its token goes only to the origin of the
// server's URL, the resource it was issued for: never to another host a
// redirect might name. A request whose body cannot be sent again is not
// retried.
type Transport struct {
	Base   http.RoundTripper
	Client *Client
}

// RoundTrip implements http.RoundTripper.
func (t *Transport) RoundTrip(req *http.Request) (*http.Response, error) {
	c := t.Client
	ctx := req.Context()
	own := sameOrigin(req.URL, c.resource)
	for try := 0; ; try++ {
		r := req
		used := ""
		if own {
			used = c.token(ctx)
		}
		if try > 0 || used != "" {
			r = req.Clone(ctx)
			if try > 0 {
				if req.GetBody == nil && req.Body != nil && req.Body != http.NoBody {
					return nil, ErrTooManyTries
				}
				if req.GetBody != nil {
					body, err := req.GetBody()
					if err != nil {
						return nil, err
					}
					r.Body = body
				}
			}
			if used != "" {
				r.Header.Set("Authorization", "Bearer "+used)
			}
		}
		resp, err := t.Base.RoundTrip(r)
		if err != nil || !own || !t.answerable(resp) {
			return resp, err
		}
		if try >= maxTries {
			drain(resp)
			return nil, &NeedsLoginError{Server: c.server, Reason: ErrTooManyTries.Error()}
		}
		drain(resp)
		err = c.challenged(ctx, resp, used)
		if err != nil {
			return nil, err
		}
		// A login may take a while, and servers close a connection that
		// stays idle: the retry, a POST that would not be sent again if a
		// stale connection failed under it, takes a new one.
		if ci, ok := t.Base.(interface{ CloseIdleConnections() }); ok {
			ci.CloseIdleConnections()
		}
	}
}

// answerable: a 401 with a Bearer challenge, or a 403 insufficient_scope.
func (t *Transport) answerable(resp *http.Response) bool {
	switch resp.StatusCode {
	case http.StatusUnauthorized:
		return hasBearer(resp.Header)
	case http.StatusForbidden:
		ch := parseChallenge(resp.Header)
		return ch.bearer && ch.err == "insufficient_scope"
	}
	return false
}

func drain(resp *http.Response) {
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<16))
	resp.Body.Close()
}

// sameOrigin reports whether u has the scheme and host of resource.
func sameOrigin(u *url.URL, resource string) bool {
	r, err := url.Parse(resource)
	return err == nil && u.Scheme == r.Scheme && u.Host == r.Host
}
