package httpserve_test

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"testing"

	"github.com/mcpmux/mcpmux/internal/testutil"
	"github.com/mcpmux/mcpmux/proxy"
	"github.com/mcpmux/mcpmux/proxy/httpserve"
)

// smallBuffers is a listener whose connections have small send buffers,
// so that a client that does not read is felt at once.
type smallBuffers struct{ net.Listener }

func (l smallBuffers) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if tc, ok := c.(*net.TCPConn); ok {
		_ = tc.SetWriteBuffer(4096)
	}
	return c, err
}

// TestSSEClientThatDoesNotRead: an HTTP+SSE client that posts requests
// and never reads its stream gets 503 once the stream holds 4096 answers,
// instead of making mcpmux hold them all.
func TestSSEClientThatDoesNotRead(t *testing.T) {
	testutil.CheckNoGoroutineLeak(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- httpserve.New(proxy.New(proxy.Options{}), httpserve.Options{Logger: slog.New(slog.DiscardHandler)}).Serve(ctx, smallBuffers{ln})
	}()
	defer func() {
		cancel()
		<-done
		http.DefaultClient.CloseIdleConnections()
	}()
	conn, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_ = conn.(*net.TCPConn).SetReadBuffer(4096)
	fmt.Fprintf(conn, "GET /sse HTTP/1.1\r\nHost: %s\r\nAccept: text/event-stream\r\n\r\n", ln.Addr())
	r := bufio.NewReader(conn)
	endpoint := ""
	for endpoint == "" {
		line, err := r.ReadString('\n')
		if err != nil {
			t.Fatalf("reading /sse: %v", err)
		}
		if ep, ok := strings.CutPrefix(strings.TrimSpace(line), "data: "); ok {
			endpoint = ep
		}
	}
	url := "http://" + ln.Addr().String() + endpoint
	post := func(body string) (int, string) {
		resp, err := http.Post(url, "application/json", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	post(`{"jsonrpc":"2.0","id":0,"method":"initialize","params":{"protocolVersion":"2024-11-05","capabilities":{},"clientInfo":{"name":"t","version":"1"}}}`)
	for i := 1; i <= 50_000; i++ { // the stream's buffers fill, then its backlog
		code, body := post(fmt.Sprintf(`{"jsonrpc":"2.0","id":%d,"method":"ping"}`, i))
		if code == http.StatusServiceUnavailable {
			if !strings.Contains(body, "holds 4096") {
				t.Errorf("refusal = %q, want it to say why", body)
			}
			t.Logf("refused after %d requests", i)
			return
		}
	}
	t.Fatal("50,000 requests of a client that never reads were all taken")
}
