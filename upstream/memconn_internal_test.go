package upstream

import (
	"bufio"
	"bytes"
	"encoding/json"
	"io"
	"log/slog"
	"testing"

	"github.com/mcpmux/mcpmux/registry"
)

// memConn returns a stdio connection over in-memory pipes to a fake
// upstream: serve is called, on the fake's one goroutine, with every line
// the connection writes (its id and method decoded, if it has them), and
// may answer with reply, which writes one line back. Tests that use it run
// in a synctest bubble, which the pipes belong to.
func memConn(t *testing.T, serve func(line []byte, id json.RawMessage, method string, reply func(line string))) *conn {
	t.Helper()
	toUpstream, fromConn := io.Pipe()
	fromUpstream, toConn := io.Pipe()
	stdin := &lockedWriter{w: fromConn}
	l := &stdioPeer{tr: newStdioTransport(stdin), stdin: stdin, logger: slog.New(slog.DiscardHandler)}
	c := newConn(l.tr, l, &registry.Server{Name: "x"}, &Options{}, func(string, json.RawMessage) {})
	go func() { // what readStdout does for a child's stdout
		sc := bufio.NewScanner(fromUpstream)
		for sc.Scan() {
			c.dispatch(bytes.Clone(sc.Bytes()), l)
		}
	}()
	reply := func(line string) { _, _ = toConn.Write([]byte(line + "\n")) }
	go func() {
		defer toConn.Close()
		sc := bufio.NewScanner(toUpstream)
		for sc.Scan() {
			var m struct {
				ID     json.RawMessage
				Method string
			}
			_ = json.Unmarshal(sc.Bytes(), &m)
			serve(bytes.Clone(sc.Bytes()), m.ID, m.Method, reply)
		}
	}()
	t.Cleanup(func() {
		c.die(errShutdown)
		_ = fromConn.Close() // as stopping the child closes its stdin
	})
	return c
}
