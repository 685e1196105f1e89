package oauth

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/zalando/go-keyring"
)

// KeyEnv names the variable that may hold the store's key: 32 bytes in
// base64 or hex, or any other string, whose SHA-256 is then the key.
const KeyEnv = "MCPMUX_OAUTH_KEY"

// Keychain is the OS's secret store (macOS Keychain, Windows Credential
// Manager, Secret Service), as go-keyring reaches it.
type Keychain interface {
	Get(service, user string) (string, error)
	Set(service, user, secret string) error
}

// OSKeychain is the OS's keychain.
type OSKeychain struct{}

func (OSKeychain) Get(service, user string) (string, error) { return keyring.Get(service, user) }
func (OSKeychain) Set(service, user, secret string) error   { return keyring.Set(service, user, secret) }

// keychainTimeout bounds one keychain access: a Secret Service that no one
// answers must not hold up a start.
const keychainTimeout = 3 * time.Second

// StoreKey is the token store's encryption key and where it came from.
type StoreKey struct {
	Bytes  [32]byte
	Source string // "MCPMUX_OAUTH_KEY", "the OS keychain", "key file PATH"
}

// KeyOptions say where [OpenKey] looks for the key. The zero value looks
// nowhere and fails.
type KeyOptions struct {
	// Getenv reads MCPMUX_OAUTH_KEY. Nil means it is not set.
	Getenv func(string) string
	// Keychain, if not nil, is asked for the key, and keeps a new one.
	Keychain Keychain
	// File is the key file used when there is no keychain; empty means
	// none.
	File string
	// NoCreate: a missing key is an error (ErrNoStore), not made.
	NoCreate bool
}

const (
	keychainService = "mcpmux"
	keychainUser    = "oauth-token-key"
)

// OpenKey returns the store's key: MCPMUX_OAUTH_KEY if set, else the
// keychain's, else the key file's if it exists, else a new key, kept in
// the keychain if it takes it and in the key file (0600) otherwise.
func OpenKey(o KeyOptions) (*StoreKey, error) {
	if o.Getenv != nil {
		if v := strings.TrimSpace(o.Getenv(KeyEnv)); v != "" {
			return &StoreKey{Bytes: parseKey(v), Source: KeyEnv}, nil
		}
	}
	if o.Keychain != nil {
		if v, err := withTimeout(func() (string, error) { return o.Keychain.Get(keychainService, keychainUser) }); err == nil {
			if k, ok := decodeKey(v); ok {
				return &StoreKey{Bytes: k, Source: "the OS keychain"}, nil
			}
		}
	}
	if o.File != "" {
		data, err := os.ReadFile(o.File)
		switch {
		case err == nil:
			k, ok := decodeKey(strings.TrimSpace(string(data)))
			if !ok {
				return nil, fmt.Errorf("reading the token key file %s: not a 32-byte key in base64", o.File)
			}
			return &StoreKey{Bytes: k, Source: "key file " + o.File}, nil
		case !errors.Is(err, fs.ErrNotExist):
			return nil, fmt.Errorf("reading the token key file: %w", err)
		}
	}
	if o.NoCreate {
		return nil, fmt.Errorf("%w: no key yet", ErrNoStore)
	}
	var k [32]byte
	_, _ = rand.Read(k[:])
	enc := base64.StdEncoding.EncodeToString(k[:])
	if o.Keychain != nil {
		if _, err := withTimeout(func() (string, error) { return "", o.Keychain.Set(keychainService, keychainUser, enc) }); err == nil {
			return &StoreKey{Bytes: k, Source: "the OS keychain"}, nil
		}
	}
	if o.File == "" {
		return nil, fmt.Errorf("%w: no keychain, no key file and no %s", ErrNoStore, KeyEnv)
	}
	if err := writeKeyFile(o.File, enc); err != nil {
		return nil, err
	}
	return &StoreKey{Bytes: k, Source: "key file " + o.File}, nil
}

// writeKeyFile creates the key file, readable by its owner only. If
// another process created it first, its key wins.
func writeKeyFile(path, enc string) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return fmt.Errorf("creating the token key file: %w", err)
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, fs.ErrExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("creating the token key file: %w", err)
	}
	_, err = f.WriteString(enc + "\n")
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(path)
		return fmt.Errorf("writing the token key file: %w", err)
	}
	return nil
}

// withTimeout runs f, giving up after keychainTimeout (f's goroutine then
// ends by itself when the keychain answers or fails).
func withTimeout(f func() (string, error)) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), keychainTimeout)
	defer cancel()
	type result struct {
		v   string
		err error
	}
	ch := make(chan result, 1)
	go func() {
		v, err := f()
		ch <- result{v, err}
	}()
	select {
	case r := <-ch:
		return r.v, r.err
	case <-ctx.Done():
		return "", errors.New("the keychain did not answer")
	}
}

// decodeKey reads a 32-byte key in base64 (standard or URL) or hex.
func decodeKey(s string) ([32]byte, bool) {
	var k [32]byte
	for _, dec := range []func(string) ([]byte, error){
		base64.StdEncoding.DecodeString, base64.RawStdEncoding.DecodeString,
		base64.URLEncoding.DecodeString, base64.RawURLEncoding.DecodeString, hex.DecodeString,
	} {
		if b, err := dec(s); err == nil && len(b) == 32 {
			copy(k[:], b)
			return k, true
		}
	}
	return k, false
}

// parseKey reads MCPMUX_OAUTH_KEY: a 32-byte key, or a passphrase.
func parseKey(s string) [32]byte {
	if k, ok := decodeKey(s); ok {
		return k
	}
	return sha256.Sum256([]byte(s))
}
