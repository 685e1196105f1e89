package oauth

import (
	"context"
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mcpmux/mcpmux/internal/testutil"
)

type memKeychain struct {
	m   map[string]string
	err error
}

func (k *memKeychain) Get(s, u string) (string, error) {
	if k.err != nil {
		return "", k.err
	}
	v, ok := k.m[s+"/"+u]
	if !ok {
		return "", errors.New("not found")
	}
	return v, nil
}

func (k *memKeychain) Set(s, u, v string) error {
	if k.err != nil {
		return k.err
	}
	k.m[s+"/"+u] = v
	return nil
}

func TestOpenKey(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "oauth", "key")
	env := func(v string) func(string) string {
		return func(k string) string {
			if k == KeyEnv {
				return v
			}
			return ""
		}
	}
	t.Run("keychain", func(t *testing.T) {
		kc := &memKeychain{m: map[string]string{}}
		k1, err := OpenKey(KeyOptions{Getenv: env(""), Keychain: kc, File: file})
		if err != nil || k1.Source != "the OS keychain" {
			t.Fatalf("OpenKey = %+v, %v; want the keychain", k1, err)
		}
		k2, _ := OpenKey(KeyOptions{Getenv: env(""), Keychain: kc, File: file})
		if k1.Bytes != k2.Bytes {
			t.Error("the keychain's key changed")
		}
		if _, err := os.Stat(file); err == nil {
			t.Error("a key file was written although the keychain took the key")
		}
	})
	t.Run("file when no keychain", func(t *testing.T) {
		kc := &memKeychain{err: errors.New("no secret service")}
		k1, err := OpenKey(KeyOptions{Getenv: env(""), Keychain: kc, File: file})
		if err != nil || !strings.HasPrefix(k1.Source, "key file") {
			t.Fatalf("OpenKey = %+v, %v; want the key file", k1, err)
		}
		fi, err := os.Stat(file)
		if err != nil || fi.Mode().Perm() != 0o600 {
			t.Fatalf("key file: %v, mode %v; want 0600", err, fi.Mode().Perm())
		}
		k2, _ := OpenKey(KeyOptions{Getenv: env(""), Keychain: kc, File: file})
		if k1.Bytes != k2.Bytes {
			t.Error("the key file's key changed")
		}
	})
	t.Run("env wins", func(t *testing.T) {
		k, err := OpenKey(KeyOptions{Getenv: env("a passphrase"), Keychain: &memKeychain{m: map[string]string{}}, File: file})
		if err != nil || k.Source != KeyEnv {
			t.Fatalf("OpenKey = %+v, %v; want %s", k, err, KeyEnv)
		}
	})
}

// --no-browser: the redirect URL pasted on stdin completes the login.
func TestLoopbackPaste(t *testing.T) {
	testutil.CheckNoGoroutineLeak(t)
	f := newFakeAS(t)
	pr, pw := newPipe()
	defer pw.Close()
	var out testutil.SyncBuffer
	m := newManager(t.TempDir(), &fakeClock{now: start}, true)
	m.Browser = &Loopback{Stderr: &out, Paste: pr}
	done := make(chan error, 1)
	go func() { done <- m.Client(server(f)).Login(context.Background()) }()
	// The person opens the printed URL elsewhere; its redirect does not
	// load there, and they paste its address.
	testutil.WaitFor(t, "the URL on stderr", func() bool { return strings.Contains(out.String(), "/authorize?") })
	var authURL string
	for _, line := range strings.Split(out.String(), "\n") {
		if strings.Contains(line, "/authorize?") {
			authURL = strings.TrimSpace(line)
		}
	}
	cl := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := cl.Get(authURL)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	cl.CloseIdleConnections()
	if _, err := pw.Write([]byte("garbage\n" + resp.Header.Get("Location") + "\n")); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Fatalf("Login = %v", err)
	}
	pw.Close()
	if code, err := get(t, m, server(f)); err != nil || code != 200 {
		t.Errorf("request after a pasted login = %d, %v", code, err)
	}
}

func newPipe() (*os.File, *os.File) {
	r, w, err := os.Pipe()
	if err != nil {
		panic(err)
	}
	return r, w
}
