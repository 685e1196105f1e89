// Package sessiontoken seals an HTTP session's state into its session id,
// so that any mcpmux replica holding the key can serve the session's next
// request: the id is the state, encrypted and authenticated (AES-256-GCM)
// under a key the replicas share, and nothing is stored anywhere.
//
// A key ring holds one or more keys: the first seals, every one opens, so
// that a key can be rotated without ending the sessions sealed under the
// old one (add the new key first, then drop the old one once the sessions
// sealed under it have expired).
package sessiontoken

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
)

// State is what a session id carries: what a replica needs to serve the
// session's next request without its handshake.
type State struct {
	// ID is random and names the session in logs; it is not secret.
	ID string `json:"id"`
	// Created is when the session was initialized, in Unix seconds.
	Created int64 `json:"t"`
	// Protocol is the protocol revision negotiated at initialize.
	Protocol string `json:"v"`
	// Profile is the profile of the URL the session was opened at; ""
	// for none.
	Profile string `json:"p,omitempty"`
	// ClientInfo and Capabilities are the client's, from initialize, as
	// it sent them.
	ClientInfo   json.RawMessage `json:"i,omitempty"`
	Capabilities json.RawMessage `json:"c,omitempty"`
	// LogLevel is the client's last logging/setLevel level; "" for none.
	LogLevel string `json:"l,omitempty"`
	// Subscribed are the resource URIs the client is subscribed to.
	Subscribed []string `json:"s,omitempty"`
}

// Bounds of what Keys accepts.
const (
	// MinKeyLength is the shortest key accepted, in bytes: 32 characters
	// of base64 carry 192 bits (`openssl rand -base64 32` prints 44).
	MinKeyLength = 32
	// MaxTokenLength bounds a token, sealed or read: it travels in an
	// HTTP header, which load balancers cap (HAProxy at 16 KB for all).
	MaxTokenLength = 8192
	// DefaultMaxAge is how long a session lives after its initialize
	// unless Keys.MaxAge says otherwise.
	DefaultMaxAge = 24 * time.Hour
	// clockSkew is how far in the future a token's creation may be: the
	// replicas' clocks differ a little.
	clockSkew = 5 * time.Minute
)

// prefix starts every token: the format's version.
const prefix = "mx1."

// additional binds a token to its use.
var additional = []byte("mcpmux session token v1")

var (
	// ErrInvalid is a token that no key of the ring opens: tampered
	// with, sealed under another key, or not a token at all.
	ErrInvalid = errors.New("session token is not valid under any session key")
	// ErrExpired is a token older than the ring's MaxAge.
	ErrExpired = errors.New("session token has expired")
	// ErrTooLarge is a state too large to travel in a header.
	ErrTooLarge = fmt.Errorf("session state is larger than %d bytes sealed", MaxTokenLength)
)

// Keys is a key ring. Its methods may be called concurrently.
type Keys struct {
	aeads []cipher.AEAD // the first seals
	// MaxAge is how long a token is accepted after its creation. Zero
	// means DefaultMaxAge.
	MaxAge time.Duration
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// Parse reads a key ring from text: keys separated by white space or
// commas (a key file may hold one a line; lines starting with # are
// comments). The first seals. Each key is a secret of at least
// MinKeyLength bytes, such as `openssl rand -base64 32` prints; the
// encryption key is derived from it (HKDF-SHA256), so any text will do.
// Errors never contain a key.
func Parse(text string) (*Keys, error) {
	var secrets []string
	for _, line := range strings.Split(text, "\n") {
		if strings.HasPrefix(strings.TrimSpace(line), "#") {
			continue
		}
		secrets = append(secrets, strings.FieldsFunc(line, func(r rune) bool {
			return r == ',' || r == ' ' || r == '\t' || r == '\r'
		})...)
	}
	if len(secrets) == 0 {
		return nil, errors.New("no session key given (make one with: openssl rand -base64 32)")
	}
	k := &Keys{}
	for i, secret := range secrets {
		if len(secret) < MinKeyLength {
			return nil, fmt.Errorf("session key %d of %d is %d bytes long; a key needs at least %d (make one with: openssl rand -base64 32)", i+1, len(secrets), len(secret), MinKeyLength)
		}
		aead, err := derive(secret)
		if err != nil {
			return nil, err
		}
		k.aeads = append(k.aeads, aead)
	}
	return k, nil
}

// derive makes the AEAD of one secret.
func derive(secret string) (cipher.AEAD, error) {
	key, err := hkdf.Key(sha256.New, []byte(secret), nil, "mcpmux session key", 32)
	if err != nil {
		return nil, err
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	return cipher.NewGCMWithRandomNonce(block)
}

// Len returns how many keys the ring holds.
func (k *Keys) Len() int { return len(k.aeads) }

func (k *Keys) now() time.Time {
	if k.Now != nil {
		return k.Now()
	}
	return time.Now()
}

func (k *Keys) maxAge() time.Duration {
	if k.MaxAge > 0 {
		return k.MaxAge
	}
	return DefaultMaxAge
}

// NewID returns a fresh random State.ID.
func NewID() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// Seal returns the token of st, sealed under the ring's first key: visible
// ASCII only, as a session id must be.
func (k *Keys) Seal(st State) (string, error) {
	plain, err := json.Marshal(st)
	if err != nil {
		return "", err
	}
	if len(prefix)+base64.RawURLEncoding.EncodedLen(len(plain)+k.aeads[0].Overhead()) > MaxTokenLength {
		return "", ErrTooLarge
	}
	sealed := k.aeads[0].Seal(nil, nil, plain, additional)
	return prefix + base64.RawURLEncoding.EncodeToString(sealed), nil
}

// Open returns the state a token carries, if a key of the ring opens it
// and it has not expired: ErrInvalid or ErrExpired otherwise.
func (k *Keys) Open(token string) (State, error) {
	if len(token) > MaxTokenLength || !strings.HasPrefix(token, prefix) {
		return State{}, ErrInvalid
	}
	sealed, err := base64.RawURLEncoding.DecodeString(token[len(prefix):])
	if err != nil {
		return State{}, ErrInvalid
	}
	for _, aead := range k.aeads {
		plain, err := aead.Open(nil, nil, sealed, additional)
		if err != nil {
			continue
		}
		var st State
		if err := json.Unmarshal(plain, &st); err != nil || st.ID == "" {
			return State{}, ErrInvalid // sealed by us, so never; but checked
		}
		created := time.Unix(st.Created, 0)
		now := k.now()
		switch {
		case created.After(now.Add(clockSkew)):
			return State{}, ErrInvalid
		case now.Sub(created) > k.maxAge():
			return State{}, ErrExpired
		}
		return st, nil
	}
	return State{}, ErrInvalid
}

// IsToken reports whether id has the form of a token (not whether it is
// valid): session ids of process-local sessions never do.
func IsToken(id string) bool { return strings.HasPrefix(id, prefix) }
