package sessiontoken

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"
)

const (
	keyA = "c2Vzc2lvbi1rZXktQS1mb3ItbWNwbXV4LXRlc3RzLTAx"
	keyB = "c2Vzc2lvbi1rZXktQi1mb3ItbWNwbXV4LXRlc3RzLTAy"
)

var t0 = time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC)

func ring(t testing.TB, text string, now time.Time) *Keys {
	t.Helper()
	k, err := Parse(text)
	if err != nil {
		t.Fatal(err)
	}
	k.Now = func() time.Time { return now }
	return k
}

func sample() State {
	return State{
		ID:           NewID(),
		Created:      t0.Unix(),
		Protocol:     "2025-11-25",
		Profile:      "dev",
		ClientInfo:   json.RawMessage(`{"name":"claude-code","version":"2.1.328"}`),
		Capabilities: json.RawMessage(`{"sampling":{},"elicitation":{}}`),
		LogLevel:     "debug",
		Subscribed:   []string{"file:///a", "file:///b"},
	}
}

func TestRoundTrip(t *testing.T) {
	k := ring(t, keyA, t0.Add(time.Hour))
	want := sample()
	tok, err := k.Seal(want)
	if err != nil {
		t.Fatal(err)
	}
	if !IsToken(tok) || strings.ContainsFunc(tok, func(r rune) bool { return r < 0x21 || r > 0x7e }) {
		t.Fatalf("token %q is not visible ASCII with the prefix", tok)
	}
	got, err := k.Open(tok)
	if err != nil {
		t.Fatal(err)
	}
	a, _ := json.Marshal(want)
	b, _ := json.Marshal(got)
	if string(a) != string(b) {
		t.Fatalf("opened %s, sealed %s", b, a)
	}
	tok2, _ := k.Seal(want)
	if tok2 == tok {
		t.Fatal("two seals of one state are equal: the nonce is not random")
	}
}

func TestTampering(t *testing.T) {
	k := ring(t, keyA, t0)
	tok, err := k.Seal(sample())
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := base64.RawURLEncoding.DecodeString(tok[len(prefix):])
	for i := range raw {
		bad := append([]byte(nil), raw...)
		bad[i] ^= 0x01
		if _, err := k.Open(prefix + base64.RawURLEncoding.EncodeToString(bad)); !errors.Is(err, ErrInvalid) {
			t.Fatalf("byte %d flipped: Open = %v, want ErrInvalid", i, err)
		}
	}
	for _, bad := range []string{"", prefix, tok[:len(tok)-1], tok + "A", "mx2." + tok[len(prefix):], strings.ToUpper(tok), tok + "==", "0123456789abcdef0123456789abcdef"} {
		if _, err := k.Open(bad); !errors.Is(err, ErrInvalid) {
			t.Errorf("Open(%q) = %v, want ErrInvalid", bad, err)
		}
	}
}

func TestWrongKey(t *testing.T) {
	tok, err := ring(t, keyA, t0).Seal(sample())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ring(t, keyB, t0).Open(tok); !errors.Is(err, ErrInvalid) {
		t.Fatalf("opened under another key: %v", err)
	}
}

func TestExpiry(t *testing.T) {
	st := sample()
	k := ring(t, keyA, t0)
	k.MaxAge = time.Hour
	tok, err := k.Seal(st)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		now  time.Time
		want error
	}{
		{t0, nil},
		{t0.Add(time.Hour), nil},
		{t0.Add(time.Hour + time.Second), ErrExpired},
		{t0.Add(-clockSkew), nil},                      // another replica's clock is behind
		{t0.Add(-clockSkew - time.Second), ErrInvalid}, // created in the future
	} {
		k.Now = func() time.Time { return c.now }
		if _, err := k.Open(tok); !errors.Is(err, c.want) && !(c.want == nil && err == nil) {
			t.Errorf("at %v: Open = %v, want %v", c.now.Sub(t0), err, c.want)
		}
	}
	k.MaxAge = 0
	k.Now = func() time.Time { return t0.Add(DefaultMaxAge + time.Second) }
	if _, err := k.Open(tok); !errors.Is(err, ErrExpired) {
		t.Errorf("past DefaultMaxAge: Open = %v, want ErrExpired", err)
	}
}

// TestRotation: during a rotation the replicas hold the new key first and
// the old one after it: they seal under the new one and open both; once
// the old key is dropped, what it sealed no longer opens.
func TestRotation(t *testing.T) {
	old := ring(t, keyA, t0)
	during := ring(t, keyB+"\n"+keyA+"\n", t0)
	after := ring(t, keyB, t0)
	oldTok, _ := old.Seal(sample())
	newTok, _ := during.Seal(sample())
	if _, err := during.Open(oldTok); err != nil {
		t.Errorf("during the rotation, a token of the old key: %v", err)
	}
	if _, err := during.Open(newTok); err != nil {
		t.Errorf("during the rotation, a token of the new key: %v", err)
	}
	if _, err := after.Open(newTok); err != nil {
		t.Errorf("after the rotation, a token sealed during it: %v", err)
	}
	if _, err := old.Open(newTok); !errors.Is(err, ErrInvalid) {
		t.Errorf("a replica that has only the old key opened a token of the new one: %v", err)
	}
	if _, err := after.Open(oldTok); !errors.Is(err, ErrInvalid) {
		t.Errorf("after the rotation, a token of the dropped key opened: %v", err)
	}
}

func TestParse(t *testing.T) {
	k, err := Parse("# session keys, newest first\n" + keyA + "\n\n" + keyB + " , " + keyA + "\r\n")
	if err != nil || k.Len() != 3 {
		t.Fatalf("Parse = %v, %v keys; want 3", err, k)
	}
	for _, bad := range []string{"", "  \n# only a comment\n", "short-key", keyA + ",tooShort"} {
		_, err := Parse(bad)
		if err == nil {
			t.Errorf("Parse(%q) took it", bad)
			continue
		}
		if strings.Contains(err.Error(), "tooShort") || strings.Contains(err.Error(), "short-key") {
			t.Errorf("the error shows the key: %v", err)
		}
	}
}

func TestTooLarge(t *testing.T) {
	k := ring(t, keyA, t0)
	st := sample()
	st.Capabilities = json.RawMessage(`{"experimental":{"x":"` + strings.Repeat("a", MaxTokenLength) + `"}}`)
	if _, err := k.Seal(st); !errors.Is(err, ErrTooLarge) {
		t.Fatalf("Seal of a huge state = %v, want ErrTooLarge", err)
	}
	if _, err := k.Open(prefix + strings.Repeat("A", MaxTokenLength)); !errors.Is(err, ErrInvalid) {
		t.Fatalf("Open of a huge token = %v", err)
	}
}

// FuzzOpen: what a client sends as its session id is hostile. Open never
// panics, opens nothing it did not seal, and what it opens seals again.
func FuzzOpen(f *testing.F) {
	k := ring(f, keyB+","+keyA, t0)
	for _, key := range []string{keyA, keyB} {
		tok, err := ring(f, key, t0).Seal(sample())
		if err != nil {
			f.Fatal(err)
		}
		f.Add(tok)
	}
	f.Add("")
	f.Add(prefix)
	f.Add(prefix + "AAAA")
	f.Add("0123456789abcdef0123456789abcdef")
	f.Fuzz(func(t *testing.T, token string) {
		st, err := k.Open(token)
		if err != nil {
			if !errors.Is(err, ErrInvalid) && !errors.Is(err, ErrExpired) {
				t.Fatalf("Open = %v: neither ErrInvalid nor ErrExpired", err)
			}
			return
		}
		again, err := k.Seal(st)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := k.Open(again); err != nil {
			t.Fatalf("a state Open returned does not seal and open again: %v", err)
		}
	})
}

// BenchmarkOpen: what a portable session's every request pays to read its
// id, with the state of a real client (go test -bench Open).
func BenchmarkOpen(b *testing.B) {
	k := ring(b, keyB+","+keyA, t0)
	tok, err := ring(b, keyA, t0).Seal(sample()) // the second key of the ring: the worst case
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.SetBytes(int64(len(tok)))
	for b.Loop() {
		if _, err := k.Open(tok); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkSeal(b *testing.B) {
	k := ring(b, keyA, t0)
	st := sample()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := k.Seal(st); err != nil {
			b.Fatal(err)
		}
	}
}
