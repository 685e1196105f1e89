package proxy

import (
	"context"
	"encoding/json"
	"sync"

	"github.com/mark3labs/mcp-go/mcp"
)

// complete routes completion/complete: a prompt reference by its exposed
// name (rewritten to the original), a resource reference by the upstream
// that lists the template.
func (sess *session) complete(ctx context.Context, params json.RawMessage) (json.RawMessage, error) {
	start, end, ok, err := member(params, "ref")
	if err != nil || !ok {
		return nil, errorf(codeInvalidParams, "completion/complete needs a ref")
	}
	ref := params[start:end]
	kind, _ := stringMember(ref, "type")
	cat := sess.srv.cat.Load()
	var e entry
	switch kind {
	case "ref/prompt":
		var newRef json.RawMessage
		if e, newRef, err = sess.renamed(ctx, promptsOf, "prompt", ref); err != nil {
			return nil, err
		}
		params = splice(params, start, end, newRef)
	case "ref/resource":
		uri, _ := stringMember(ref, "uri")
		if e, ok = cat.templateOwner(uri); !ok {
			return nil, errorf(codeInvalidParams, "no upstream serves resource template %q", uri)
		}
	default:
		return nil, errorf(codeInvalidParams, "unknown completion reference type %q", kind)
	}
	return sess.forward(ctx, e, "completion/complete", params)
}

// splice returns b with b[start:end] replaced by v.
func splice(b []byte, start, end int, v []byte) []byte {
	out := make([]byte, 0, len(b)-(end-start)+len(v))
	out = append(out, b[:start]...)
	out = append(out, v...)
	return append(out, b[end:]...)
}

// setLevel answers logging/setLevel and passes the level on to every
// upstream that logs. Upstream failures are logged, not returned: the
// level applies to the others all the same.
func (sess *session) setLevel(ctx context.Context, params json.RawMessage) (json.RawMessage, error) {
	level, _ := stringMember(params, "level")
	switch mcp.LoggingLevel(level) {
	case mcp.LoggingLevelDebug, mcp.LoggingLevelInfo, mcp.LoggingLevelNotice, mcp.LoggingLevelWarning,
		mcp.LoggingLevelError, mcp.LoggingLevelCritical, mcp.LoggingLevelAlert, mcp.LoggingLevelEmergency:
	default:
		return nil, errorf(codeInvalidParams, "invalid logging level %q", level)
	}
	sess.srv.mu.Lock()
	sess.srv.logLevel = params // for upstreams that connect later
	sess.srv.mu.Unlock()
	cat := sess.srv.cat.Load()
	var wg sync.WaitGroup
	for name, c := range cat.upstreams {
		if !offers(c.Capabilities, "logging") {
			continue
		}
		wg.Go(func() {
			if _, err := sess.forward(ctx, entry{server: name}, "logging/setLevel", params); err != nil {
				sess.srv.logger.Warn("passing on the log level", "upstream", name, "err", err)
			}
		})
	}
	wg.Wait()
	return json.RawMessage(`{}`), nil
}
