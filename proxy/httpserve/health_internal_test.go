package httpserve

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/mcpmux/mcpmux/proxy"
)

// TestReadyzWhileDraining: from the moment the drain starts, /readyz says
// 503 (to a probe without token or Host too), /healthz still 200, and a
// GET of a listening stream 503 with Connection: close, so that a load
// balancer tries another replica.
func TestReadyzWhileDraining(t *testing.T) {
	s := New(proxy.New(proxy.Options{}), Options{Token: "a-token-of-the-test"})
	h := s.Handler()
	probe := func(path string) (int, string, http.Header) {
		r := httptest.NewRequest(http.MethodGet, path, nil)
		r.Host, r.Proto, r.ProtoMinor = "", "HTTP/1.0", 0
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		return w.Code, w.Body.String(), w.Header()
	}
	if code, body, _ := probe("/readyz"); code != http.StatusOK || body != "ready\n" {
		t.Fatalf("/readyz before the drain = %d %q", code, body)
	}
	s.draining.Store(true)
	if code, body, hdr := probe("/readyz"); code != http.StatusServiceUnavailable || strings.TrimSpace(body) != "draining" || hdr.Get("Connection") != "close" {
		t.Errorf("/readyz while draining = %d %q %v, want 503 draining, Connection: close", code, body, hdr)
	}
	if code, body, _ := probe("/healthz"); code != http.StatusOK || body != "ok\n" {
		t.Errorf("/healthz while draining = %d %q, want 200 ok", code, body)
	}
	r := httptest.NewRequest(http.MethodGet, "/mcp", nil)
	r.Host = "127.0.0.1:8080"
	r.Header.Set("Authorization", "Bearer a-token-of-the-test")
	r.Header.Set("Accept", "text/event-stream")
	r.Header.Set("Mcp-Session-Id", "any")
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	if w.Code != http.StatusServiceUnavailable || w.Header().Get("Connection") != "close" {
		t.Errorf("GET /mcp while draining = %d %v, want 503 with Connection: close", w.Code, w.Header())
	}
}
