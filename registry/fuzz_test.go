package registry

import (
	"bytes"
	"strings"
	"testing"
)

// fuzzSecret is the value of the fuzz environment's secret variable.
const fuzzSecret = "fuzz-secret-value-4e1f"

var fuzzEnv = env(map[string]string{"API_TOKEN": fuzzSecret, "HOME": "/home/fuzz", "EMPTY": ""})

// FuzzParse feeds the configuration parser any file. It never panics; a
// configuration it returns is valid, with every server named after its
// key, and the entries it leaves out are the ones the error is about; and
// no error quotes the value of a variable the file refers to.
// The seeds include duplicate keys, case variants and big integers.
func FuzzParse(f *testing.F) {
	for _, s := range []string{
		`{"mcpServers":{"a":{"command":"x","args":["--t=${API_TOKEN}"],"env":{"K":"${API_TOKEN:-d}"}}}}`,
		`{"mcpServers":{"a":{"command":"x"},"a":{"command":"y"}}}`,
		`{"mcpServers":{"a":{"command":"x","COMMAND":"y","Command":"z"}}}`,
		`{"mcpServers":{"a":{"url":"http://u:${API_TOKEN}@h/p?k=${API_TOKEN}","headers":{"Authorization":"Bearer ${API_TOKEN}"}}}}`,
		`{"mcpServers":{"a":{"command":"x","timeout":"1s","timeout":"2s","prefix":"${API_TOKEN}"}}}`,
		`{"mcpServers":{"a":{"command":"x","backoff":{"maxAttempts":9007199254740993}}},"nameLength":9007199254740993,"maxMessageSize":1e400}`,
		`{"mcpServers":{"a":{"command":"${UNSET}","disabled":true},"b":{"command":"$${API_TOKEN}","tools":{"allow":["[","x*"]}}}}`,
		`{"mcpServers":{"a":{"command":"x","secrets":["K","K"],"env":{"K":"v"}}},"maxMessageSize":"64MB"}`,
		"\ufeff{\"mcpServers\":{}}", `[]`, `null`, `{"mcpServers":[]}`,
		`{"servers":{"a":{"type":"stdio","command":"x","envFile":"${HOME}/.env","comand":"y","logStderr":"info"}},"inputs":[]}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := Parse(data, fuzzEnv)
		if err != nil && !bytes.Contains(data, []byte(fuzzSecret)) && strings.Contains(err.Error(), fuzzSecret) {
			t.Fatalf("Parse(%q) error quotes a variable's value: %v", data, err)
		}
		if c == nil {
			if err == nil {
				t.Fatalf("Parse(%q) = nil, nil", data)
			}
			return
		}
		if (err != nil) != (len(c.Invalid)+len(c.Problems) > 0) {
			t.Fatalf("Parse(%q) error %v, with %d invalid entries and %d problems", data, err, len(c.Invalid), len(c.Problems))
		}
		for name := range c.Invalid {
			if _, ok := c.Servers[name]; ok {
				t.Fatalf("Parse(%q): server %q is both valid and invalid", data, name)
			}
		}
		if err := c.Validate(); err != nil {
			t.Fatalf("Parse(%q) returned a config that Validate refuses: %v", data, err)
		}
		for name, s := range c.Servers {
			if s.Name != name {
				t.Fatalf("Parse(%q): server %q is named %q", data, name, s.Name)
			}
			for _, v := range s.SecretValues() {
				if len(v) < MinSecretLen {
					t.Fatalf("Parse(%q): secret %q is shorter than %d", data, v, MinSecretLen)
				}
			}
		}
	})
}

// FuzzExpand feeds the ${VAR} expander any string. It never panics; text
// without "${" is left alone; a reference to a set variable is replaced by
// its value; and no error quotes a variable's value.
func FuzzExpand(f *testing.F) {
	for _, s := range []string{"${API_TOKEN}", "a${HOME}b${EMPTY:-dflt}", "$${API_TOKEN}", "${", "${}", "${1X}", "${A:-${B}}",
		"${API_TOKEN:-x}", "${UNSET}", "$HOME", "${ÄPI}", "${API_TOKEN}}", "}${"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		out, errs := expand(s, fuzzEnv)
		for _, err := range errs {
			if !strings.Contains(s, fuzzSecret) && strings.Contains(err.Error(), fuzzSecret) {
				t.Fatalf("expand(%q) error quotes a variable's value: %v", s, err)
			}
		}
		if !strings.Contains(s, "${") && (out != s || len(errs) > 0) {
			t.Fatalf("expand(%q) = %q, %v; want it unchanged", s, out, errs)
		}
		if len(errs) == 0 && strings.Contains(s, "${API_TOKEN}") && !strings.Contains(out, fuzzSecret) {
			t.Fatalf("expand(%q) = %q; ${API_TOKEN} was not replaced", s, out)
		}
	})
}
