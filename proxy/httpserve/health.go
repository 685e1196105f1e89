package httpserve

import (
	"encoding/json"
	"net/http"
)

// health serves the probes' endpoints, outside the guard: a load
// balancer's or Kubernetes' health check carries no token, and often no
// Host header (HTTP/1.0), even when mcpmux is bound to loopback. To such
// a request they reveal nothing but their status:
//
//   - /healthz (liveness): 200 "ok" while the process serves;
//   - /readyz (readiness): 200 "ready", or 503 "draining" from the moment
//     a signal starts the drain (see Serve), so that the balancer sends
//     new sessions and requests to other replicas.
//
// A request the guard would admit (the token, a loopback Host) gets
// /healthz's details: how many upstreams are ready, how many sessions
// are open.
func (s *Server) health(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	w.Header().Set("Cache-Control", "no-store")
	if r.URL.Path == "/readyz" {
		if s.draining.Load() {
			w.Header().Set("Connection", "close")
			http.Error(w, "draining", http.StatusServiceUnavailable)
			return
		}
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		_, _ = w.Write([]byte("ready\n"))
		return
	}
	if code, _ := s.check(r); code != 0 || r.Host == "" {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		_, _ = w.Write([]byte("ok\n"))
		return
	}
	ready, total := 0, 0
	if s.opts.Ready != nil {
		ready, total = s.opts.Ready()
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(map[string]int{"ready": ready, "upstreams": total, "sessions": s.proxy.Sessions()})
}
