package proxy

import (
	"time"

	"github.com/mcpmux/mcpmux/internal/jsonrpc"
)

// listChanged tells the client that a list changed, once per burst; not
// before the client has been answered a list of that kind, which holds
// every change until then.
func (sess *session) listChanged(method string) {
	if !sess.Initialized() {
		return
	}
	sess.mu.Lock()
	defer sess.mu.Unlock()
	if !sess.shown[method] {
		return
	}
	sess.pending[method] = true
	if sess.timer == nil {
		delay := sess.srv.opts.ListChangedDelay
		if delay <= 0 {
			delay = 50 * time.Millisecond
		}
		sess.timer = sess.srv.clock.AfterFunc(delay, sess.flushListChanged)
	}
}

func (sess *session) flushListChanged() {
	sess.mu.Lock()
	methods := sess.pending
	sess.pending = map[string]bool{}
	sess.timer = nil
	sess.mu.Unlock()
	for m := range methods {
		if params, ok := sess.listenParams(m, nil); ok {
			sess.send(jsonrpc.AppendNotification(nil, m, params))
		}
	}
}

func (sess *session) stopTimer() {
	sess.mu.Lock()
	defer sess.mu.Unlock()
	if sess.timer != nil {
		sess.timer.Stop()
	}
}
