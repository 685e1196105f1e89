package command

import (
	"errors"
	"strings"
)

// makeBatLine returns the command line that runs the batch file script
// with args through the cmd.exe at shell.
//
// CreateProcess runs a .cmd or .bat through cmd.exe, which parses the
// command line by rules of its own: a quoted argument holding `"`, `&`,
// `|`, `%` or a line break can end cmd.exe's quoting and run whatever
// follows as a command ("BatBadBut", CVE-2024-24576 in Rust's std).
// Go's os/exec quotes for the C runtime and leaves this to the caller; we
// quote as Rust's std does since its fix
// (library/std/src/sys/process/windows.rs, make_bat_command_line):
//   - cmd.exe runs with /e:ON (for the %cd:~,% trick below), /v:OFF (no
//     !delayed! expansion), /d (no AutoRun), and /c "…" around it all;
//   - an argument with anything but letters, digits and #$*+-./:?@\_ is
//     quoted; `"` is doubled inside quotes, and backslashes before a
//     quote are doubled;
//   - `%` becomes `%%cd:~,%`: a substring of %cd% that is empty, so that
//     no %NAME% in an argument is expanded;
//   - a line break cannot be passed at all: the argument is refused.
//
// It is pure (no Windows calls), so Linux tests check it too.
func makeBatLine(shell, script string, args []string) (string, error) {
	if strings.ContainsRune(script, '"') || strings.HasSuffix(script, `\`) {
		return "", errors.New(`a batch file's path may not contain '"' or end with '\'`)
	}
	var b strings.Builder
	b.WriteString(quoteExe(shell))
	b.WriteString(` /e:ON /v:OFF /d /c "`)
	b.WriteString(`"` + script + `"`)
	for _, a := range args {
		if strings.ContainsAny(a, "\r\n\x00") {
			return "", errors.New("an argument to a batch file may not contain a line break or NUL")
		}
		b.WriteByte(' ')
		appendBatArg(&b, a)
	}
	b.WriteByte('"')
	return b.String(), nil
}

// quoteExe quotes the program's path for the start of a command line,
// where only spaces matter.
func quoteExe(p string) string {
	if strings.ContainsAny(p, " \t") {
		return `"` + p + `"`
	}
	return p
}

// appendBatArg appends one argument quoted for cmd.exe (see makeBatLine).
func appendBatArg(b *strings.Builder, arg string) {
	quote := arg == "" || strings.HasSuffix(arg, `\`)
	for _, r := range arg {
		if r < 0x80 && !isUnquoted(byte(r)) || r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0) {
			quote = true
		}
	}
	if quote {
		b.WriteByte('"')
	}
	backslashes := 0
	for _, r := range arg {
		switch r {
		case '\\':
			backslashes++
			b.WriteRune(r)
			continue
		case '"':
			b.WriteString(strings.Repeat(`\`, backslashes)) // 2n backslashes before a quote
			b.WriteByte('"')                                // doubled: an escaped quote
		case '%':
			b.WriteString("%%cd:~,") // with the % below: %%cd:~,% expands to nothing
		}
		backslashes = 0
		b.WriteRune(r)
	}
	if quote {
		b.WriteString(strings.Repeat(`\`, backslashes))
		b.WriteByte('"')
	}
}

// isUnquoted reports whether an ASCII byte may stand unquoted.
func isUnquoted(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || strings.IndexByte(`#$*+-./:?@\_`, c) >= 0
}
