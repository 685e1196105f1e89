package bench

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/mcpmux/mcpmux/proxy"
	"github.com/mcpmux/mcpmux/registry"
)

// nopUpstream answers every request at once with an empty result: the
// merge and list benchmarks measure mcpmux alone.
type nopUpstream struct{}

func (nopUpstream) Request(context.Context, string, json.RawMessage) (json.RawMessage, error) {
	return json.RawMessage(`{"content":[]}`), nil
}
func (nopUpstream) Notify(context.Context, string, json.RawMessage) error { return nil }

// catalogueOf returns a catalogue of server with tools tools (each with a
// small input schema, as real ones have), a prompt and a resource.
func catalogueOf(server string, tools int, version int) *registry.Catalogue {
	c := &registry.Catalogue{Capabilities: json.RawMessage(`{"tools":{},"prompts":{},"resources":{}}`)}
	for i := range tools {
		c.Tools = append(c.Tools, json.RawMessage(fmt.Sprintf(
			`{"name":"tool_%04d","description":"Tool %d of %s, version %d.","inputSchema":{"type":"object","properties":{"message":{"type":"string","description":"What to send"}},"required":["message"]}}`,
			i, i, server, version)))
	}
	c.Prompts = []json.RawMessage{json.RawMessage(`{"name":"greet","description":"Greets."}`)}
	c.Resources = []json.RawMessage{json.RawMessage(fmt.Sprintf(`{"uri":"test://%s/readme","name":"readme"}`, server))}
	return c
}

// newProxy returns a proxy with n upstreams s000.. that answer nothing,
// and their names.
func newProxy(tb testing.TB, n int) (*proxy.Server, []string) {
	srv := proxy.New(proxy.Options{})
	var names []string
	for i := range n {
		name := fmt.Sprintf("s%03d", i)
		srv.AddUpstream(&registry.Server{Name: name, Command: "true"}, nopUpstream{})
		names = append(names, name)
	}
	return srv, names
}

// BenchmarkMerge measures merging upstream catalogues into the proxy's
// catalogue. arrive100: 100 upstreams of 20 tools each deliver their first
// catalogue one after the other, as at start-up; one iteration is all 100
// (ns/op) and per-arrival-us is one of them. change1of100: with 100 such
// upstreams merged, one of them sends a changed catalogue; with merges
// that cost what the change is, it costs the same with 100 upstreams as
// with 10 (change1of10).
func BenchmarkMerge(b *testing.B) {
	const tools = 20
	b.Run("arrive100", func(b *testing.B) {
		cats := make([]*registry.Catalogue, 100)
		for i := range cats {
			cats[i] = catalogueOf(fmt.Sprintf("s%03d", i), tools, 0)
		}
		b.ReportAllocs()
		for b.Loop() {
			b.StopTimer()
			srv, names := newProxy(b, 100)
			b.StartTimer()
			for i, name := range names {
				srv.SetCatalogue(name, cats[i])
			}
		}
		b.ReportMetric(float64(b.Elapsed().Microseconds())/float64(b.N)/100, "per-arrival-us")
	})
	for _, n := range []int{10, 100} {
		b.Run(fmt.Sprintf("change1of%d", n), func(b *testing.B) {
			srv, names := newProxy(b, n)
			for _, name := range names {
				srv.SetCatalogue(name, catalogueOf(name, tools, 0))
			}
			versions := [2]*registry.Catalogue{catalogueOf(names[n/2], tools, 1), catalogueOf(names[n/2], tools, 2)}
			b.ReportAllocs()
			for i := 0; b.Loop(); i++ {
				srv.SetCatalogue(names[n/2], versions[i%2])
			}
		})
	}
}

// BenchmarkCallDuringMerges measures calls (to an upstream that answers at
// once, in this process) while the catalogues of 100 other upstreams keep
// changing, one after the other, as at a start-up of 100 upstreams; and
// without merges (idle), for comparison. A call that waits for merges
// shows in the median and above all in p99-us.
func BenchmarkCallDuringMerges(b *testing.B) {
	for _, merging := range []bool{false, true} {
		name := "idle"
		if merging {
			name = "merging"
		}
		b.Run(name, func(b *testing.B) {
			srv, names := newProxy(b, 100)
			srv.AddUpstream(&registry.Server{Name: "a", Command: "true"}, nopUpstream{})
			srv.SetCatalogue("a", catalogueOf("a", 1, 0))
			c := serveInProcess(b, srv)
			ctx, cancel := context.WithCancel(context.Background())
			var wg sync.WaitGroup
			if merging {
				cats := make([]*registry.Catalogue, len(names))
				for i, n := range names {
					cats[i] = catalogueOf(n, 20, 0)
				}
				wg.Go(func() {
					for i := 0; ctx.Err() == nil; i++ {
						srv.SetCatalogue(names[i%len(names)], cats[i%len(names)])
						if i%len(names) == len(names)-1 {
							for _, n := range names {
								srv.SetCatalogue(n, nil)
							}
						}
					}
				})
			}
			params := echoParams("a__tool_0000")
			var took []time.Duration
			for b.Loop() {
				start := time.Now()
				c.call("tools/call", params)
				took = append(took, time.Since(start))
			}
			cancel()
			wg.Wait()
			b.ReportMetric(us(median(took)), "median-us")
			b.ReportMetric(us(percentile(took, 0.99)), "p99-us")
		})
	}
}

// BenchmarkList measures a tools/list of 10,000 tools (100 upstreams of
// 100) that mcpmux serves from memory, as the client sees it: from its
// request to the last byte of the answer, read from a pipe.
func BenchmarkList(b *testing.B) {
	srv, names := newProxy(b, 100)
	for _, n := range names {
		srv.SetCatalogue(n, catalogueOf(n, 100, 0))
	}
	c := serveInProcess(b, srv)
	mustContain(b, c.call("tools/list", ""), `"s099__tool_0099"`)
	b.ReportAllocs()
	var size int
	for b.Loop() {
		size = len(c.call("tools/list", ""))
	}
	b.ReportMetric(float64(size)/(1<<20), "MB")
}

// serveInProcess serves srv to a lean client over pipes until cleanup.
func serveInProcess(tb testing.TB, srv *proxy.Server) *client {
	tb.Helper()
	cw, sw, cr, sr := pipes(tb)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = srv.Serve(ctx, sr, sw)
		sw.Close()
	}()
	tb.Cleanup(func() {
		cw.Close()
		cancel()
		<-done
		for _, f := range []*os.File{cr, sr} {
			f.Close()
		}
	})
	c := newClient(tb, cw, cr)
	c.initialize()
	return c
}

func percentile(ds []time.Duration, p float64) time.Duration {
	s := append([]time.Duration(nil), ds...)
	slices.Sort(s)
	return s[int(float64(len(s)-1)*p)]
}
