package upstream

import (
	"net/url"
	"strings"
)

// redacted replaces a secret, as in registry.Server's LogValue.
const redacted = "REDACTED"

// minSecret is the length below which a header value is not hidden: a
// value that short would hide ordinary words of a message, and is no
// credential.
const minSecret = 6

// secrets hides what a remote server's configuration carries that must not
// reach a log line or an error message: the password and the query values
// of its URL, which net/http's errors quote, and its header values (and the
// credential of a value such as "Bearer <token>"), which a server may echo
// in the body of an error response that mcpmux quotes.
type secrets struct{ r *strings.Replacer }

func newSecrets(rawURL string, headers map[string]string) secrets {
	var pairs []string
	for _, v := range headers {
		if len(v) >= minSecret {
			pairs = append(pairs, v, redacted)
		}
		// The credential of "Bearer <token>" may be quoted alone.
		if _, cred, ok := strings.Cut(v, " "); ok && len(cred) >= minSecret {
			pairs = append(pairs, cred, redacted)
		}
	}
	u, err := url.Parse(rawURL)
	if err != nil {
		return secrets{strings.NewReplacer(append(pairs, rawURL, redacted)...)} // cannot tell the secret parts
	}
	if u.RawQuery != "" {
		q := u.Query()
		for k := range q {
			q[k] = []string{redacted}
		}
		pairs = append(pairs, u.RawQuery, q.Encode())
	}
	if p, ok := u.User.Password(); ok && p != "" {
		pairs = append(pairs, p, redacted)
	}
	return secrets{strings.NewReplacer(pairs...)}
}

func (s secrets) hide(text string) string { return s.r.Replace(text) }

// hideErr returns err with its text hidden; errors.Is and errors.As see
// through it.
func (s secrets) hideErr(err error) error {
	if err == nil {
		return nil
	}
	msg := err.Error()
	if hidden := s.hide(msg); hidden != msg {
		return &hiddenError{msg: hidden, err: err}
	}
	return err
}

type hiddenError struct {
	msg string
	err error
}

func (e *hiddenError) Error() string { return e.msg }
func (e *hiddenError) Unwrap() error { return e.err }
