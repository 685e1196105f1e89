package doctor

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/mcpmux/mcpmux/registry"
	"github.com/mcpmux/mcpmux/upstream"
)

// probeRemote connects to a remote server as serve does, and times the
// connection, initialize and listing together, as Initialize.
func probeRemote(ctx context.Context, s *registry.Server, o Options) *Check {
	c := &Check{Server: s.Name}
	ctx, cancel := context.WithTimeout(ctx, s.StartBound())
	defer cancel()
	got := make(chan *registry.Catalogue, 1)
	failed := make(chan string, 1)
	sup := upstream.New(s, upstream.Options{
		OAuth: o.OAuth,
		OnCatalogue: func(_ string, cat *registry.Catalogue) {
			select {
			case got <- cat:
			default:
			}
		},
		OnState: func(st upstream.Status) {
			if st.State == upstream.StateBackoff || st.State == upstream.StateStopped {
				select {
				case failed <- st.LastError:
				default:
				}
			}
		},
	})
	began := time.Now()
	runCtx, stop := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { defer close(done); _ = sup.Run(runCtx) }()
	defer func() { stop(); <-done }()
	select {
	case cat := <-got:
		c.Initialize = time.Since(began)
		c.tools = allowed(s, toolNames(cat.Tools))
		c.measure(s, cat.Tools)
		c.Tools = len(c.tools)
	case why := <-failed:
		fix := "check \"url\" and \"headers\" (curl the URL with the same headers)"
		if i := strings.Index(why, "run `mcpmux login "); i >= 0 {
			fix = "log in: " + strings.Trim(why[i+4:], "`")
		} else if strings.Contains(why, "401") || strings.Contains(why, "403") {
			fix = "the server refused the credentials: check the token in \"headers\""
		}
		c.add(why, "%s", fix)
	case <-ctx.Done():
		c.add(fmt.Sprintf("no catalogue within startTimeout (%s)", s.StartBound()), "check that the server is up and the URL right; raise \"startTimeout\" for a slow one")
	}
	return c
}
