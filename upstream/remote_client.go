package upstream

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"time"
)

// dialTimeout and tlsTimeout bound connecting to a remote upstream. Nothing
// else of an HTTP exchange is: a tool call may take long, and an event
// stream lives as long as the connection. The context of each request
// bounds it instead.
const (
	dialTimeout = 10 * time.Second
	tlsTimeout  = 10 * time.Second
)

// dialFunc connects to a remote upstream, as net.Dialer.DialContext does.
type dialFunc func(ctx context.Context, network, addr string) (net.Conn, error)

// newHTTPClient returns the HTTP client of one remote connection: its own,
// so that closing the connection closes every socket it used. Only
// connecting is bounded. Redirects must stay on the server's scheme and
// host, where its headers, which carry secrets, are meant to go. A nil
// dial means a net.Dialer's.
func newHTTPClient(dial dialFunc) *http.Client {
	if dial == nil {
		dial = (&net.Dialer{Timeout: dialTimeout, KeepAlive: 30 * time.Second}).DialContext
	}
	return &http.Client{
		Transport: &http.Transport{
			Proxy:                 http.ProxyFromEnvironment,
			DialContext:           dial,
			ForceAttemptHTTP2:     true,
			TLSHandshakeTimeout:   tlsTimeout,
			ExpectContinueTimeout: time.Second,
			IdleConnTimeout:       90 * time.Second,
			MaxIdleConnsPerHost:   16,
		},
		CheckRedirect: sameOrigin,
	}
}

func sameOrigin(req *http.Request, via []*http.Request) error {
	if len(via) >= 10 {
		return errors.New("stopped after 10 redirects")
	}
	if first := via[0].URL; req.URL.Scheme != first.Scheme || req.URL.Host != first.Host {
		return fmt.Errorf("refusing a redirect to %s://%s: the server's headers must not leave it", req.URL.Scheme, req.URL.Host)
	}
	return nil
}
